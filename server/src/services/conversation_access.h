#pragma once
// The one membership check every conversation request goes through, so that a
// user who is not in a conversation learns nothing about it: NOT_FOUND, exactly
// as for a conversation that does not exist.

#include "kith/conversation_id.h"
#include "store.h"

namespace kith::server {

class MembershipCache;

// INVALID_ARGUMENT for a malformed id; NOT_FOUND when `userId` is not a member
// (for a direct id: not one of the pair, or the other user does not exist).
// This form reads the store: for work off the session loop (history, sync).
[[nodiscard]] Result<ConversationRef>
checkConversationAccess(Store &store, const std::string &conversationId, quint64 userId);
// The same through the membership cache: for the session loop.
[[nodiscard]] Result<ConversationRef> checkConversationAccess(MembershipCache &members,
                                                              const std::string &conversationId,
                                                              quint64 userId);

// The part of that check a send makes before the store's own (see
// MessageService::send): INVALID_ARGUMENT for a malformed id, NOT_FOUND for a
// direct id `userId` is not one of. Membership itself is left to the writer.
[[nodiscard]] Result<ConversationRef> parseSendTarget(const std::string &conversationId,
                                                      quint64 userId);

// Maps a store error of a read onto the wire (store faults become INTERNAL).
[[nodiscard]] Error storeError(const Error &error);

} // namespace kith::server
