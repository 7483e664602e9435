#pragma once
// Messages: send (validated, membership-checked, rate-limited, acked after
// commit, fanned out), pull, sync, read markers and typing. Owned by
// Services; plain service, no socket code.

#include "caller.h"
#include "kith/conversation_id.h"
#include "message_ops.h"
#include "rate_limit.h"
#include "typing_coalescer.h"

#include <QObject>

namespace kith::server {

class EventRouter;
class MembershipCache;

// Edits, deletions and reactions: their windows and their own budget per user
// (besides the send budget, whose sends they are).
struct MessagePolicy
{
    OpWindows windows;
    double opsPerSecond = 10;
    double opsBurst = 50;
};

class MessageService : public QObject
{
    Q_OBJECT
public:
    MessageService(Store &store, MembershipCache &members, EventRouter &events,
                   const MessagePolicy &policy = {}, QObject *parent = nullptr);

    // `done` gets the ack only after the message is committed; a resend of
    // (sender, client_msg_id) gets the original ack with duplicate = true.
    void send(const Caller &caller, v1::SendMessageRequest request, QObject *context,
              Completion<v1::SendAck> done);
    [[nodiscard]] Result<v1::PullResponse> pull(const Caller &caller,
                                                const v1::PullRequest &request);
    [[nodiscard]] Result<v1::SyncResponse> sync(const Caller &caller,
                                                const v1::SyncRequest &request);
    void markRead(const Caller &caller, const v1::MarkReadRequest &request, QObject *context,
                  Completion<Done> done);
    // One user's own chat state: a change is answered with the row as it now
    // is after its commit and pushed to the user's other connections; sync
    // answers the rows changed after a version, a page at a time.
    void setChatState(const Caller &caller, const v1::SetChatStateRequest &request,
                      QObject *context, Completion<v1::ChatState> done);
    [[nodiscard]] Result<v1::ChatStateSyncResponse>
    chatStateSync(const Caller &caller, const v1::ChatStateSyncRequest &request);
    // Blocks or unblocks a user (a chat state change, answered and pushed the
    // same way). A blocked user's sends and typing to the blocker's direct
    // chat get the answer of a chat with a user that does not exist.
    void blockUser(const Caller &caller, const v1::BlockUserRequest &request, QObject *context,
                   Completion<v1::ChatState> done);
    // Ephemeral: pushed to the other members' connections, never stored. A
    // repeat of what was pushed a moment ago is not pushed again.
    [[nodiscard]] Status typing(const Caller &caller, const v1::TypingRequest &request);

private:
    [[nodiscard]] Result<QList<quint64>> memberIdsOf(const ConversationRef &ref);
    // Every user the content mentions is a member of the conversation (and
    // so is the sender): INVALID_ARGUMENT otherwise, NOT_FOUND for a sender
    // who is not in it.
    [[nodiscard]] Status checkMentions(const ConversationRef &ref, quint64 senderUserId,
                                       const v1::Content &content, bool isOp);
    // Whether the other user of a direct chat blocks `userId` (false for a group).
    [[nodiscard]] Result<bool> blockedInDirect(const ConversationRef &ref, quint64 userId);

    Store &m_store;
    MembershipCache &m_members;
    EventRouter &m_events;
    MessagePolicy m_policy;
    KeyedBuckets m_opBuckets; // by user id: ops from all of a user's connections
    TypingCoalescer m_typing;
};

} // namespace kith::server
