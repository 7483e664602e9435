#pragma once
// Groups: create, add members, remove a member, leave, rename, set the
// avatar, list members.
// Role checks happen in the store (by the rules of domain/group_rules.h),
// atomically with each change; this service validates input and emits the
// committed change, which tells the members (event message, conversation and
// conversation_removed pushes). Owned by Services; no socket code.

#include "blob_store.h"
#include "caller.h"

#include <QObject>

namespace kith::server {

class EventRouter;
class MembershipCache;
class PresenceService;
class PushRouter;

class GroupService : public QObject
{
    Q_OBJECT
public:
    GroupService(Store &store, BlobStore &blobs, MembershipCache &members, EventRouter &events,
                 PushRouter &router, PresenceService &presence, QObject *parent = nullptr);

    // Answers the new group's state as the creator sees it.
    void createGroup(const Caller &caller, const v1::CreateGroupRequest &request, QObject *context,
                     Completion<v1::ConversationState> done);
    void addMembers(const Caller &caller, const v1::AddMembersRequest &request, QObject *context,
                    Completion<Done> done);
    void removeMember(const Caller &caller, const v1::RemoveMemberRequest &request,
                      QObject *context, Completion<Done> done);
    void leaveGroup(const Caller &caller, const v1::LeaveGroupRequest &request, QObject *context,
                    Completion<Done> done);
    void renameGroup(const Caller &caller, const v1::RenameGroupRequest &request, QObject *context,
                     Completion<Done> done);
    // The picture and colour, checked as a user's own (avatar_check.h):
    // INVALID_ARGUMENT for a bad colour or a file that is not the caller's own
    // finished image upload; PERMISSION_DENIED for a plain member, as rename.
    void setGroupAvatar(const Caller &caller, const v1::SetGroupAvatarRequest &request,
                        QObject *context, Completion<Done> done);
    [[nodiscard]] Result<v1::MemberList> listMembers(const Caller &caller,
                                                     const v1::ListMembersRequest &request);

private:
    // Status of a group id for an acting user: INVALID_ARGUMENT for a direct
    // or malformed id, NOT_FOUND for a group the actor cannot see.
    [[nodiscard]] Status checkGroup(const std::string &conversationId, quint64 actorId);
    [[nodiscard]] Completion<GroupChange> announceThen(const Caller &caller, QObject *context,
                                                       Completion<Done> done);
    void announce(GroupChange change, ConnectionRef origin);

    Store &m_store;
    BlobStore &m_blobs;
    MembershipCache &m_members;
    EventRouter &m_events;
    PushRouter &m_router;
    PresenceService &m_presence;
};

} // namespace kith::server
