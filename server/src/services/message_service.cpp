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
    if (caller.sendBucket) {
        if (const quint32 wait = caller.sendBucket->take(monotonicMs()))
            return done(
                makeError(v1::RATE_LIMITED, QStringLiteral("Sending too fast; slow down"), wait));
    }
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
    for (const v1::Message &message : page->messages)
        *response.add_messages() = message;
    response.set_max_seq(page->maxSeq);
    response.set_has_more(page->hasMore);
    return response;
}

Result<v1::SyncResponse> MessageService::sync(const Caller &caller, const v1::SyncRequest &request)
{
    const Result<QList<ConversationView>> views = m_store.conversationsOf(caller.userId);
    if (!views)
        return storeError(views.error());
    std::unordered_map<std::string, const v1::ConversationCursor *> held;
    held.reserve(size_t(request.held_size()));
    for (const v1::ConversationCursor &cursor : request.held())
        held.emplace(cursor.conversation_id(), &cursor);

    v1::SyncResponse response;
    std::unordered_set<std::string> visible;
    for (const ConversationView &view : *views) {
        visible.insert(view.id());
        const auto it = held.find(view.id());
        if (it == held.end() || differs(view, *it->second))
            *response.add_changed() = view;
    }
    for (const v1::ConversationCursor &cursor : request.held()) {
        if (visible.contains(cursor.conversation_id()))
            continue;
        // Not listed: either gone for this user, or a direct chat that holds
        // no message yet (still theirs to see).
        if (!checkConversationAccess(m_store, cursor.conversation_id(), caller.userId))
            response.add_gone_conversation_ids(cursor.conversation_id());
    }
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

Status MessageService::typing(const Caller &caller, const v1::TypingRequest &request)
{
    const Result<ConversationRef> ref =
        checkConversationAccess(m_members, request.conversation_id(), caller.userId);
    if (!ref)
        return ref.error();
    Result<QList<quint64>> members = memberIdsOf(*ref);
    if (!members)
        return members.error();
    members->removeAll(caller.userId);
    m_events.typingChanged(TypingChanged{request.conversation_id(), caller.userId, request.typing(),
                                         std::move(*members)});
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
