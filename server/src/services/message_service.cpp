#include "message_service.h"

#include "conversation_access.h"
#include "event_router.h"
#include "kith/content.h"
#include "kith/protocol.h"
#include "logging.h"
#include "membership_cache.h"
#include "rate_limit.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace kith::server {

namespace {
v1::SendAck ackFor(const AppendResult &result)
{
    v1::SendAck ack;
    ack.set_conversation_id(result.message.conversation_id());
    ack.set_client_msg_id(result.message.client_msg_id());
    ack.set_seq(result.message.seq());
    ack.set_server_id(result.message.server_id());
    ack.set_server_time_ms(result.message.server_time_ms());
    ack.set_duplicate(result.duplicate);
    return ack;
}

bool differs(const v1::ConversationState &state, const v1::ConversationCursor &held)
{
    return state.max_seq() != held.max_seq() || state.read_seq() != held.read_seq() ||
           state.metadata_version() != held.metadata_version() ||
           state.peer_read_seq() != held.peer_read_seq();
}
} // namespace

MessageService::MessageService(Store &store, MembershipCache &members, EventRouter &events,
                               const MessagePolicy &policy, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_members(members)
    , m_events(events)
    , m_policy(policy)
    , m_opBuckets(policy.opsPerSecond, policy.opsBurst)
{}

void MessageService::send(const Caller &caller, v1::SendMessageRequest request, QObject *context,
                          Completion<v1::SendAck> done)
{
    if (!isValidClientMsgId(request.client_msg_id()))
        return done(makeError(v1::INVALID_ARGUMENT,
                              QStringLiteral("client_msg_id must be 1 to %1 printable characters")
                                  .arg(kMaxClientMsgIdBytes)));
    const bool isOp = isOperation(request.content());
    if (isOp) {
        if (const quint32 wait = m_opBuckets.take(QString::number(caller.userId), monotonicMs()))
            return done(makeError(v1::RATE_LIMITED,
                                  QStringLiteral("Editing or reacting too fast; slow down"), wait));
    }
    if (const auto bad = validateUserContent(request.content()))
        return done(makeError(bad->code, bad->message));
    // No store read here: the writer's append is the membership check (it
    // moves the sender's read marker, which fails for a non-member, and a new
    // direct chat is only made between two existing users), inside the
    // transaction. Repeating it on the session loop cost one SQLite read per
    // message. Only what needs no storage is checked up front.
    const Result<ConversationRef> ref = parseSendTarget(request.conversation_id(), caller.userId);
    if (!ref) {
        // An op names a message: "not yours to see" reads as "no such message".
        if (isOp && ref.error().code == v1::NOT_FOUND)
            return done(makeError(v1::NOT_FOUND, QStringLiteral("No such message")));
        return done(ref.error());
    }
    // Blocked by the other user: the answer of a chat with nobody (the store's
    // for a user that does not exist), so a probe tells nothing.
    const Result<bool> blocked = blockedInDirect(*ref, caller.userId);
    if (!blocked)
        return done(blocked.error());
    if (*blocked)
        return done(makeError(v1::NOT_FOUND, isOp ? QStringLiteral("No such message")
                                                  : QStringLiteral("No such conversation")));
    if (request.content().mentions_size() > 0) {
        if (const Status named = checkMentions(*ref, caller.userId, request.content(), isOp);
            !named)
            return done(named.error());
    }

    AppendRequest append;
    append.conversationId = toQString(request.conversation_id());
    append.senderUserId = caller.userId;
    append.senderDeviceId = caller.deviceId;
    append.clientMsgId = request.client_msg_id();
    append.content = std::move(*request.mutable_content());
    append.opWindows = m_policy.windows;
    m_store.appendMessage(
        std::move(append), this,
        [this, isOp, origin = caller.connection,
         done = whileAlive<v1::SendAck>(context, std::move(done))](Result<AppendResult> result) {
            if (!result) {
                // One answer for "not a member" and "no such chat or user", as
                // checkConversationAccess gives.
                if (result.error().code == v1::NOT_FOUND)
                    return done(
                        makeError(v1::NOT_FOUND, isOp ? QStringLiteral("No such message")
                                                      : QStringLiteral("No such conversation")));
                return done(storeError(result.error()));
            }
            done(ackFor(*result));
            if (result->duplicate)
                return;
            // The recipients came with the append, read in its transaction.
            m_events.messageCommitted(MessageCommitted{std::move(result->message),
                                                       std::move(result->recipients), origin});
        });
}

Result<v1::PullResponse> MessageService::pull(const Caller &caller, const v1::PullRequest &request)
{
    const Result<ConversationRef> ref =
        checkConversationAccess(m_store, request.conversation_id(), caller.userId);
    if (!ref)
        return ref.error();
    PullQuery query;
    query.conversationId = toQString(request.conversation_id());
    query.backward = request.direction() == v1::PullRequest::BACKWARD;
    // Seqs are uint64 on the wire; no store holds one past kMaxSeq, so a
    // larger bound means the same as kMaxSeq (past the end / unbounded).
    query.fromSeq = std::min<quint64>(request.from_seq(), kMaxSeq);
    query.toSeq = std::min<quint64>(request.to_seq(), kMaxSeq);
    query.beforeSeq = std::min<quint64>(request.before_seq(), kMaxSeq);
    query.limit =
        request.limit() == 0 ? kDefaultPullLimit : qBound(1u, request.limit(), kMaxPullLimit);
    const Result<PullPage> page = m_store.pull(query);
    if (!page)
        return storeError(page.error());
    v1::PullResponse response;
    response.set_conversation_id(request.conversation_id());
    bool cut = false;
    qint64 bytes = 0;
    for (const v1::Message &message : page->messages) {
        // A page of long messages stops early: the client asks for the rest.
        bytes += qint64(message.ByteSizeLong());
        if (response.messages_size() > 0 && bytes > kMaxPageBytes) {
            cut = true;
            break;
        }
        *response.add_messages() = message;
    }
    response.set_max_seq(page->maxSeq);
    response.set_has_more(page->hasMore || cut);
    return response;
}

Result<v1::SyncResponse> MessageService::sync(const Caller &caller, const v1::SyncRequest &request)
{
    const std::string &after = request.after_conversation_id();
    std::string through = request.held_through();
    if (!through.empty() && through <= after)
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("held_through must come after after_conversation_id"));
    // The held cursors this page may cover, in id order; past kMaxSyncHeld the
    // page stops at the last one taken, as if the client had set held_through.
    std::vector<const v1::ConversationCursor *> held;
    for (const v1::ConversationCursor &cursor : request.held()) {
        const std::string &id = cursor.conversation_id();
        if (id > after && (through.empty() || id <= through))
            held.push_back(&cursor);
    }
    std::sort(held.begin(), held.end(), [](const auto *a, const auto *b) {
        return a->conversation_id() < b->conversation_id();
    });
    if (held.size() > size_t(kMaxSyncHeld)) {
        held.resize(size_t(kMaxSyncHeld));
        through = held.back()->conversation_id();
    }
    const int limit =
        int(request.limit() == 0 ? kDefaultSyncLimit : std::min(request.limit(), kMaxSyncLimit));
    ConversationPage page;
    page.after = after;
    page.through = through;
    page.limit = limit + 1; // one more tells whether the page was cut
    const Result<QList<ConversationView>> views = m_store.conversationsOf(caller.userId, page);
    if (!views)
        return storeError(views.error());

    v1::SyncResponse response;
    std::unordered_set<std::string> visible;
    std::string covered; // the last id the page covers
    bool cut = false;
    qint64 bytes = 0;
    auto heldAt = held.cbegin();
    for (qsizetype i = 0; i < views->size(); ++i) {
        if (i == limit) {
            cut = true;
            break;
        }
        ConversationView view = views->at(i);
        // A preview, not a download: a long last message is pulled instead.
        if (view.has_last_message() &&
            qint64(view.last_message().ByteSizeLong()) > kMaxPreviewBytes)
            view.clear_last_message();
        while (heldAt != held.cend() && (*heldAt)->conversation_id() < view.id())
            ++heldAt;
        const bool same = heldAt != held.cend() && (*heldAt)->conversation_id() == view.id() &&
                          !differs(view, **heldAt);
        if (!same) {
            const qint64 size = qint64(view.ByteSizeLong());
            if (response.changed_size() > 0 && bytes + size > kMaxPageBytes) {
                cut = true;
                break;
            }
            bytes += size;
            *response.add_changed() = std::move(view);
        }
        visible.insert(views->at(i).id());
        covered = views->at(i).id();
    }
    // Uncut, the page reaches the held list's end (or the last conversation).
    if (!cut)
        covered = through;
    for (const v1::ConversationCursor *cursor : held) {
        const std::string &id = cursor->conversation_id();
        if (!covered.empty() && id > covered)
            break;
        if (visible.contains(id))
            continue;
        // Not listed: either gone for this user, or a direct chat that holds
        // no message yet (still theirs to see).
        if (!checkConversationAccess(m_store, id, caller.userId))
            response.add_gone_conversation_ids(id);
    }
    response.set_has_more(!covered.empty());
    response.set_next_after(covered);
    response.set_server_time_ms(nowMs());
    return response;
}

void MessageService::markRead(const Caller &caller, const v1::MarkReadRequest &request,
                              QObject *context, Completion<Done> done)
{
    const Result<ConversationRef> ref =
        checkConversationAccess(m_members, request.conversation_id(), caller.userId);
    if (!ref)
        return done(ref.error());
    if (request.seq() == 0)
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Mark read up to which seq?")));
    const QString id = toQString(request.conversation_id());
    m_store.markRead(
        id, caller.userId, request.seq(), this,
        [this, id, peer = ref->peerOf(caller.userId), userId = caller.userId,
         origin = caller.connection,
         done = whileAlive<Done>(context, std::move(done))](Result<ReadResult> result) {
            if (!result)
                return done(storeError(result.error()));
            done(Done{});
            if (!result->moved)
                return;
            m_events.readMoved(
                ReadMoved{id, userId, result->readSeq, result->unreadCount, peer, origin});
        });
}

void MessageService::setChatState(const Caller &caller, const v1::SetChatStateRequest &request,
                                  QObject *context, Completion<v1::ChatState> done)
{
    ChatStateWrite write;
    write.userId = caller.userId;
    write.change = request.change_case();
    switch (write.change) {
    case v1::SetChatStateRequest::kMuteUntilMs:
        if (request.mute_until_ms() < kMutedForever)
            return done(makeError(v1::INVALID_ARGUMENT,
                                  QStringLiteral("mute_until_ms is 0, -1 or a time")));
        write.mutedUntilMs = request.mute_until_ms();
        break;
    case v1::SetChatStateRequest::kArchived:
        write.archived = request.archived();
        break;
    case v1::SetChatStateRequest::kHideSeq:
        if (request.hide_seq() == 0)
            return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Hide which seq?")));
        write.hideSeq = std::min<quint64>(request.hide_seq(), kMaxSeq);
        break;
    case v1::SetChatStateRequest::CHANGE_NOT_SET:
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Change what?")));
    }
    const bool hide = write.change == v1::SetChatStateRequest::kHideSeq;
    const Result<ConversationRef> ref =
        checkConversationAccess(m_members, request.conversation_id(), caller.userId);
    if (!ref) {
        // A message in a chat one is not in reads as no such message.
        if (hide && ref.error().code == v1::NOT_FOUND)
            return done(makeError(v1::NOT_FOUND, QStringLiteral("No such message")));
        return done(ref.error());
    }
    write.conversationId = toQString(request.conversation_id());
    m_store.setChatState(
        std::move(write), this,
        [this, hide, userId = caller.userId, origin = caller.connection,
         done = whileAlive<v1::ChatState>(context, std::move(done))](Result<v1::ChatState> result) {
            if (!result) {
                // Not a member (any more) and no such seq: one answer each.
                if (result.error().code == v1::NOT_FOUND)
                    return done(
                        makeError(v1::NOT_FOUND, hide ? QStringLiteral("No such message")
                                                      : QStringLiteral("No such conversation")));
                return done(storeError(result.error()));
            }
            done(*result);
            m_events.chatStateChanged(ChatStateChanged{userId, *result, origin});
        });
}

Result<v1::ChatStateSyncResponse>
MessageService::chatStateSync(const Caller &caller, const v1::ChatStateSyncRequest &request)
{
    const int limit = int(request.limit() == 0 ? kDefaultChatStateLimit
                                               : std::min(request.limit(), kMaxChatStateLimit));
    const Result<ChatStatePage> page =
        m_store.chatStateSince(caller.userId, request.after_version(), limit);
    if (!page)
        return storeError(page.error());
    v1::ChatStateSyncResponse response;
    quint64 version = request.after_version();
    for (const v1::ChatState &state : page->states) {
        version = std::max<quint64>(version, state.version());
        *response.add_states() = state;
    }
    response.set_version(version);
    response.set_has_more(page->hasMore);
    return response;
}

Status MessageService::typing(const Caller &caller, const v1::TypingRequest &request)
{
    const Result<ConversationRef> ref =
        checkConversationAccess(m_members, request.conversation_id(), caller.userId);
    if (!ref)
        return ref.error();
    const Result<bool> blocked = blockedInDirect(*ref, caller.userId);
    if (!blocked)
        return blocked.error();
    if (*blocked) // as for a chat with a user that does not exist
        return makeError(v1::NOT_FOUND, QStringLiteral("No such conversation"));
    if (!m_typing.shouldForward(caller.userId, request.conversation_id(), request.typing(),
                                monotonicMs()))
        return Done{}; // said already: the others' clients still show it
    Result<QList<quint64>> members = memberIdsOf(*ref);
    if (!members)
        return members.error();
    members->removeAll(caller.userId);
    // Who blocks the typist does not see it.
    const Result<QList<quint64>> blockers = m_members.blockersOf(caller.userId);
    if (!blockers)
        return storeError(blockers.error());
    for (quint64 blocker : *blockers)
        members->removeAll(blocker);
    m_events.typingChanged(TypingChanged{request.conversation_id(), caller.userId, request.typing(),
                                         std::move(*members)});
    return Done{};
}

Result<bool> MessageService::blockedInDirect(const ConversationRef &ref, quint64 userId)
{
    if (!ref.isDirect())
        return false;
    const Result<QList<quint64>> blockers = m_members.blockersOf(userId);
    if (!blockers)
        return storeError(blockers.error());
    return blockers->contains(ref.peerOf(userId));
}

void MessageService::blockUser(const Caller &caller, const v1::BlockUserRequest &request,
                               QObject *context, Completion<v1::ChatState> done)
{
    if (request.user_id() == 0)
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Block whom (user_id)?")));
    if (request.user_id() == caller.userId)
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("You cannot block yourself")));
    m_store.setBlocked(
        caller.userId, request.user_id(), request.blocked(), this,
        [this, userId = caller.userId, origin = caller.connection,
         done = whileAlive<v1::ChatState>(context, std::move(done))](Result<v1::ChatState> result) {
            if (!result) {
                if (result.error().code == v1::NOT_FOUND)
                    return done(makeError(v1::NOT_FOUND, QStringLiteral("No such user")));
                return done(storeError(result.error()));
            }
            done(*result);
            m_events.chatStateChanged(ChatStateChanged{userId, *result, origin});
        });
}

Status MessageService::checkMentions(const ConversationRef &ref, quint64 senderUserId,
                                     const v1::Content &content, bool isOp)
{
    // From the members kept for the session loop (a group read once), so a
    // send with mentions costs no store read of its own; the send budget and
    // kMaxMentions (checked with the content) bound the work.
    Result<QList<quint64>> members = memberIdsOf(ref);
    if (!members && members.error().code != v1::NOT_FOUND)
        return members.error();
    // A sender who cannot see the group learns nothing of its members: the
    // answer of a conversation that does not exist, as the append gives.
    if (!members || !members->contains(senderUserId))
        return makeError(v1::NOT_FOUND, isOp ? QStringLiteral("No such message")
                                             : QStringLiteral("No such conversation"));
    // One answer for a user who is not a member and one who does not exist:
    // a member learns no more than the member list tells them.
    for (quint64 user : mentionedUsers(content))
        if (!members->contains(user))
            return makeError(v1::INVALID_ARGUMENT,
                             QStringLiteral("Only members of the conversation can be mentioned"));
    return Done{};
}

Result<QList<quint64>> MessageService::memberIdsOf(const ConversationRef &ref)
{
    if (ref.isDirect())
        return QList<quint64>{ref.lowUser, ref.highUser};
    const Result<QList<MemberRecord>> members = m_members.members(ref.toString());
    if (!members)
        return storeError(members.error());
    QList<quint64> ids;
    ids.reserve(members->size());
    for (const MemberRecord &member : *members)
        ids.append(member.userId);
    return ids;
}

} // namespace kith::server
