#pragma once
// Groups: create, add members, remove a member, leave, rename, list members.
// Role checks happen in the store, atomically with each change; this service
// validates input and tells the members (event message, conversation and
// conversation_removed pushes). Owned by the Server; no socket code.

#include "caller.h"

#include <QObject>

namespace kith::server {

class MessageService;
class PresenceService;
class SessionRegistry;

class GroupService : public QObject
{
    Q_OBJECT
public:
    GroupService(Store &store, SessionRegistry &registry, MessageService &messages,
                 PresenceService &presence, QObject *parent = nullptr);

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
    [[nodiscard]] Result<v1::MemberList> listMembers(const Caller &caller,
                                                     const v1::ListMembersRequest &request);

private:
    // Status of a group id for an acting user: INVALID_ARGUMENT for a direct
    // or malformed id, NOT_FOUND for a group the actor cannot see.
    [[nodiscard]] Status checkGroup(const std::string &conversationId, quint64 actorId);
    [[nodiscard]] Completion<GroupChange> announceThen(const Caller &caller, QObject *context,
                                                       Completion<Done> done);
    void announce(const GroupChange &change, quint64 actingConnectionId);

    Store &m_store;
    SessionRegistry &m_registry;
    MessageService &m_messages;
    PresenceService &m_presence;
};

} // namespace kith::server
