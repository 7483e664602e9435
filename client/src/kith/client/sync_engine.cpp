#include "kith/client/sync_engine.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/logging.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QTimer>

#include <algorithm>

namespace kith::client {

namespace {
// A sync page is bounded, but a busy server may take a while to assemble it.
constexpr int kSyncTimeoutMs = 60'000;
// A RATE_LIMITED answer without a hint is asked again after this long.
constexpr int kDefaultRetryMs = 1000;

int retryDelay(const Error &error)
{
    return error.retryAfterMs > 0 ? int(error.retryAfterMs) : kDefaultRetryMs;
}
} // namespace

SyncEngine::SyncEngine(Connection *connection, LocalStore *store, QObject *parent)
    : QObject(parent)
    , m_connection(connection)
    , m_store(store)
{
    connect(m_connection, &Connection::authenticated, this, &SyncEngine::startSync);
    connect(m_connection, &Connection::pushReceived, this, &SyncEngine::onPush);
    connect(m_connection, &Connection::onlineChanged, this, [this](bool online) {
        if (!online) {
            m_synced = false;
            m_awaitingSyncAnswer = false;
            setSyncing(false);
        }
    });
}

void SyncEngine::setSyncing(bool syncing)
{
    if (m_syncing == syncing)
        return;
    m_syncing = syncing;
    emit syncingChanged(syncing);
}

void SyncEngine::startSync()
{
    m_synced = false;
    m_awaitingSyncAnswer = true;
    ++m_syncGeneration;
    setSyncing(true);
    const QList<v1::ConversationCursor> cursors = m_store->cursors();
    m_syncCursors.assign(cursors.begin(), cursors.end());
    std::sort(m_syncCursors.begin(), m_syncCursors.end(), [](const auto &a, const auto &b) {
        return a.conversation_id() < b.conversation_id();
    });
    qCInfo(lcSync) << "sync with" << m_syncCursors.size() << "held conversations";
    m_chatStatePending = false;
    m_chatStateAgain = false;
    syncChatState();
    requestSyncPage({});
}

void SyncEngine::syncChatState()
{
    if (!m_connection->isOnline())
        return;
    if (m_chatStatePending) {
        m_chatStateAgain = true;
        return;
    }
    m_chatStatePending = true;
    requestChatState(m_syncGeneration);
}

void SyncEngine::requestChatState(int generation)
{
    v1::Envelope env;
    env.mutable_chat_state_sync()->set_after_version(m_store->chatStateVersion());
    m_connection->request(env, [this, generation](Result<v1::Envelope> answer) {
        if (generation != m_syncGeneration)
            return; // a reconnect started over
        if (!answer && answer.error().code == v1::RATE_LIMITED && m_connection->isOnline()) {
            QTimer::singleShot(retryDelay(answer.error()), this, [this, generation] {
                if (generation == m_syncGeneration && m_connection->isOnline())
                    requestChatState(generation);
            });
            return;
        }
        if (!answer || answer->body_case() != v1::Envelope::kChatStateSyncResponse) {
            const QString error =
                answer ? QStringLiteral("Bad chat state answer") : answer.error().message;
            qCInfo(lcSync) << "chat state sync failed:" << error;
            m_chatStatePending = false;
            if (m_connection->isOnline())
                emit syncFailed(error);
            checkDone();
            return;
        }
        const v1::ChatStateSyncResponse &page = answer->chat_state_sync_response();
        for (const v1::ChatState &state : page.states()) {
            if (auto done = m_store->applyChatState(state); !done) {
                qCWarning(lcSync) << "cannot store chat state" << done.error().message;
                m_chatStatePending = false;
                checkDone();
                return;
            }
        }
        if (page.version() > m_store->chatStateVersion())
            (void)m_store->setChatStateVersion(page.version());
        // A page that does not move on would repeat forever.
        if ((page.has_more() && page.states_size() > 0) || m_chatStateAgain) {
            m_chatStateAgain = false;
            return requestChatState(generation);
        }
        m_chatStatePending = false;
        checkDone();
    });
}

void SyncEngine::applyChatState(const v1::ChatState &state)
{
    if (auto done = m_store->applyChatState(state); !done) {
        qCWarning(lcSync) << "cannot store chat state" << done.error().message;
        return;
    }
    const quint64 held = m_store->chatStateVersion();
    if (state.version() == held + 1)
        (void)m_store->setChatStateVersion(state.version());
    else if (state.version() > held + 1)
        syncChatState(); // a change in between was missed
}

void SyncEngine::requestSyncPage(const std::string &after)
{
    v1::Envelope env;
    auto *sync = env.mutable_sync();
    sync->set_after_conversation_id(after);
    // The cursors after `after`; when there are too many for one request,
    // the page may end no later than the last one sent.
    auto it = std::upper_bound(m_syncCursors.cbegin(), m_syncCursors.cend(), after,
                               [](const std::string &id, const v1::ConversationCursor &cursor) {
                                   return id < cursor.conversation_id();
                               });
    for (int n = 0; it != m_syncCursors.cend() && n < kMaxSyncHeld; ++it, ++n)
        *sync->add_held() = *it;
    if (it != m_syncCursors.cend())
        sync->set_held_through(sync->held(sync->held_size() - 1).conversation_id());
    m_connection->request(
        env,
        [this, after, generation = m_syncGeneration](Result<v1::Envelope> answer) {
            if (generation != m_syncGeneration || !m_awaitingSyncAnswer)
                return;
            if (!answer && answer.error().code == v1::RATE_LIMITED && m_connection->isOnline()) {
                ++m_retriesPending;
                QTimer::singleShot(retryDelay(answer.error()), this, [this, after, generation] {
                    --m_retriesPending;
                    if (generation == m_syncGeneration && m_awaitingSyncAnswer &&
                        m_connection->isOnline())
                        requestSyncPage(after);
                });
                return;
            }
            if (!answer || answer->body_case() != v1::Envelope::kSyncResponse) {
                m_awaitingSyncAnswer = false;
                const QString error =
                    answer ? QStringLiteral("Bad sync answer") : answer.error().message;
                qCInfo(lcSync) << "sync failed:" << error;
                setSyncing(false);
                emit syncFailed(error);
                return;
            }
            const v1::SyncResponse &page = answer->sync_response();
            applySyncPage(page);
            // A page that does not move on would repeat forever.
            if (page.has_more() && page.next_after() > after)
                return requestSyncPage(page.next_after());
            finishSync();
        },
        kSyncTimeoutMs);
}

void SyncEngine::applySyncPage(const v1::SyncResponse &response)
{
    QList<quint64> users;
    QList<QString> changed;
    for (const auto &state : response.changed()) {
        if (auto done = m_store->applyConversationState(state); !done) {
            qCWarning(lcSync) << "cannot store conversation" << toQString(state.id())
                              << done.error().message;
            continue;
        }
        changed << toQString(state.id());
        if (state.peer_user_id() != 0)
            users << state.peer_user_id();
        if (state.has_last_message() && state.last_message().sender_user_id() != 0)
            users << state.last_message().sender_user_id();
    }
    for (const auto &gone : response.gone_conversation_ids())
        (void)m_store->removeConversation(toQString(gone));
    qCInfo(lcSync) << "sync page:" << response.changed_size() << "changed,"
                   << response.gone_conversation_ids_size() << "gone"
                   << (response.has_more() ? "(more to come)" : "");
    resolveUsers(users);
    // The newest history of what changed comes while the next pages do.
    for (const QString &id : std::as_const(changed))
        fillGaps(id);
}

void SyncEngine::finishSync()
{
    m_awaitingSyncAnswer = false;
    m_syncCursors.clear();
    // Every conversation, not only the changed ones: a crash or an earlier
    // drop may have left holes that the server cannot know about.
    for (const auto &id : m_store->conversationIds())
        fillGaps(id);
    checkDone();
}

void SyncEngine::fillGaps(const QString &conversationId)
{
    if (!m_queued.contains(conversationId) && !m_pulling.contains(conversationId)) {
        m_queued.insert(conversationId);
        m_fillQueue.append(conversationId);
    }
    pumpPulls();
}

void SyncEngine::requestOlder(const QString &conversationId, quint64 beforeSeq)
{
    Q_UNUSED(beforeSeq)
    // History is filled newest page first; a reader scrolling back moves the
    // conversation to the front of the queue.
    if (m_queued.contains(conversationId)) {
        m_fillQueue.removeAll(conversationId);
        m_fillQueue.prepend(conversationId);
    } else if (!m_pulling.contains(conversationId)) {
        m_queued.insert(conversationId);
        m_fillQueue.prepend(conversationId);
    }
    pumpPulls();
}

void SyncEngine::pumpPulls()
{
    if (!m_connection->isOnline())
        return;
    while (m_pulling.size() < kMaxConcurrentPulls && !m_fillQueue.isEmpty()) {
        const QString id = m_fillQueue.takeFirst();
        m_queued.remove(id);
        pullNext(id);
    }
    checkDone();
}

void SyncEngine::pullNext(const QString &conversationId)
{
    const auto missing = m_store->missingRanges(conversationId);
    if (missing.isEmpty())
        return;
    // The newest page of the newest gap first: what a reader sees first.
    const SeqRange gap = missing.last();
    const quint64 from =
        gap.last - gap.first + 1 > kMaxPullLimit ? gap.last - kMaxPullLimit + 1 : gap.first;
    v1::Envelope env;
    auto *pull = env.mutable_pull();
    pull->set_conversation_id(toStd(conversationId));
    pull->set_direction(v1::PullRequest::FORWARD);
    pull->set_from_seq(from);
    pull->set_to_seq(gap.last);
    pull->set_limit(kMaxPullLimit);
    m_pulling.insert(conversationId);
    qCDebug(lcSync) << "pull" << conversationId << from << "…" << gap.last;
    m_connection->request(env, [this, conversationId, from](Result<v1::Envelope> answer) {
        onPullAnswer(conversationId, from, std::move(answer));
    });
}

void SyncEngine::onPullAnswer(const QString &conversationId, quint64 fromSeq,
                              Result<v1::Envelope> answer)
{
    m_pulling.remove(conversationId);
    if (!answer && answer.error().code == v1::RATE_LIMITED && m_connection->isOnline()) {
        // Asked again once the server allows it; the sync is not done before.
        ++m_retriesPending;
        QTimer::singleShot(retryDelay(answer.error()), this, [this, conversationId] {
            --m_retriesPending;
            fillGaps(conversationId);
        });
        pumpPulls();
        return;
    }
    if (!answer || answer->body_case() != v1::Envelope::kPullResponse) {
        const QString error = answer ? QStringLiteral("Bad pull answer") : answer.error().message;
        qCInfo(lcSync) << "pull of" << conversationId << "failed:" << error;
        if (!answer && answer.error().code == v1::NOT_FOUND)
            (void)m_store->removeConversation(conversationId);
        else if (m_connection->isOnline())
            emit syncFailed(error);
        pumpPulls();
        return;
    }
    const auto &page = answer->pull_response();
    QList<v1::Message> messages(page.messages().begin(), page.messages().end());
    std::sort(messages.begin(), messages.end(),
              [](const v1::Message &a, const v1::Message &b) { return a.seq() < b.seq(); });
    // The range claimed is only the run of seqs actually received from fromSeq on.
    quint64 next = fromSeq;
    QList<quint64> senders;
    for (const auto &m : messages) {
        if (m.seq() == next)
            ++next;
        if (m.sender_user_id() != 0)
            senders << m.sender_user_id();
    }
    const auto row = m_store->conversation(conversationId);
    if (row && page.max_seq() > row->maxSeq)
        (void)m_store->setServerMaxSeq(conversationId, page.max_seq());
    if (next == fromSeq) {
        if (page.max_seq() < fromSeq) {
            // The server holds less than we believed (a stale max): trust it.
            (void)m_store->setServerMaxSeq(conversationId, page.max_seq());
        } else {
            qCWarning(lcSync) << "pull of" << conversationId << "from" << fromSeq
                              << "returned no usable page; leaving it for the next sync";
        }
        pumpPulls();
        return;
    }
    if (auto done = m_store->storeMessages(conversationId, messages, {fromSeq, next - 1}); !done) {
        qCWarning(lcSync) << "cannot store page of" << conversationId << done.error().message;
        pumpPulls();
        return;
    }
    resolveUsers(senders);
    fillGaps(conversationId);
}

void SyncEngine::onPush(const v1::Envelope &env)
{
    if (m_pushFilter && !m_pushFilter(env))
        return;
    switch (env.body_case()) {
    case v1::Envelope::kMessage: {
        const auto &m = env.message().message();
        const QString id = toQString(m.conversation_id());
        const std::optional<ConversationRow> before = m_store->conversation(id);
        const bool known = before.has_value();
        if (auto done = m_store->storeMessages(id, {m}, {m.seq(), m.seq()}); !done) {
            qCWarning(lcSync) << "cannot store pushed message" << done.error().message;
            return;
        }
        // A group's new name or avatar shows now, not at the next sync (whose
        // state says the same): only from the newest event, as pushes come in order.
        if (known && m.content().has_system() && m.seq() >= before->maxSeq)
            (void)m_store->applyGroupEvent(id, m.content().system());
        QList<quint64> users{m.sender_user_id()};
        if (!known) {
            if (const auto ref = parseConversationId(id); ref && ref->isDirect())
                users << ref->peerOf(m_store->myUserId());
        }
        resolveUsers(users);
        if (m.sender_user_id() != m_store->myUserId())
            emit messageArrived(id, m.seq());
        // A seq beyond local max + 1 leaves a hole: pull it.
        if (!m_store->missingRanges(id).isEmpty())
            fillGaps(id);
        if (!known && id.startsWith(u'g'))
            refreshMembers(id);
        break;
    }
    case v1::Envelope::kRead: {
        const auto &read = env.read();
        const QString id = toQString(read.conversation_id());
        if (read.user_id() == m_store->myUserId())
            (void)m_store->setReadSeq(id, read.read_seq(), read.unread_count());
        else
            (void)m_store->setPeerReadSeq(id, read.read_seq());
        break;
    }
    case v1::Envelope::kTypingPush: {
        const auto &typing = env.typing_push();
        if (m_store->isBlocked(typing.user_id()))
            break; // the server leaves them out too; one sent before the block is dropped
        emit typingChanged(toQString(typing.conversation_id()), typing.user_id(), typing.typing());
        break;
    }
    case v1::Envelope::kProfile:
        // A contact's (or one's own, from another device) new name or avatar.
        if (env.profile().user().id() != 0)
            (void)m_store->upsertUser(env.profile().user());
        break;
    case v1::Envelope::kPresence: {
        const auto &presence = env.presence();
        if (m_store->user(presence.user_id()))
            (void)m_store->setPresence(presence.user_id(), presence.online(),
                                       presence.last_seen_ms());
        else
            resolveUsers({presence.user_id()});
        emit presenceChanged(presence.user_id(), presence.online());
        break;
    }
    case v1::Envelope::kConversation: {
        const auto &state = env.conversation().state();
        const QString id = toQString(state.id());
        if (auto done = m_store->applyConversationState(state); !done)
            return;
        if (state.peer_user_id() != 0)
            resolveUsers({state.peer_user_id()});
        if (state.kind() == v1::GROUP)
            refreshMembers(id);
        fillGaps(id);
        break;
    }
    case v1::Envelope::kChatStatePush:
        applyChatState(env.chat_state_push().state());
        break;
    case v1::Envelope::kConversationRemoved:
        (void)m_store->removeConversation(toQString(env.conversation_removed().conversation_id()));
        break;
    default:
        qCDebug(lcSync) << "ignoring push" << bodyName(env.body_case());
        break;
    }
}

void SyncEngine::resolveUsers(const QList<quint64> &userIds)
{
    for (quint64 id : userIds) {
        if (id == 0 || m_resolving.contains(id) || m_store->user(id))
            continue;
        m_resolving.insert(id);
        v1::Envelope env;
        env.mutable_get_profile()->set_user_id(id);
        m_connection->request(env, [this, id](Result<v1::Envelope> answer) {
            m_resolving.remove(id);
            if (answer && answer->body_case() == v1::Envelope::kUserProfile)
                (void)m_store->upsertUser(answer->user_profile().user());
            checkDone();
        });
    }
}

void SyncEngine::refreshMembers(const QString &conversationId)
{
    v1::Envelope env;
    env.mutable_list_members()->set_conversation_id(toStd(conversationId));
    m_connection->request(env, [this, conversationId](Result<v1::Envelope> answer) {
        if (!answer || answer->body_case() != v1::Envelope::kMemberList)
            return;
        const auto &list = answer->member_list();
        (void)m_store->replaceMembers(
            conversationId, QList<v1::Member>(list.members().begin(), list.members().end()));
    });
}

void SyncEngine::checkDone()
{
    // Names count too: a synced store can show every sender.
    if (!m_syncing || m_awaitingSyncAnswer || !m_fillQueue.isEmpty() || !m_pulling.isEmpty() ||
        !m_resolving.isEmpty() || m_retriesPending > 0 || m_chatStatePending)
        return;
    setSyncing(false);
    m_synced = true;
    qCInfo(lcSync) << "in sync";
    emit synced();
}

} // namespace kith::client
