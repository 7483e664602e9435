#include "group_service.h"

#include "avatar_check.h"
#include "conversation_access.h"
#include "event_router.h"
#include "group_rules.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "logging.h"
#include "membership_cache.h"
#include "presence_service.h"
#include "push_router.h"

namespace kith::server {

namespace {
// Bounds one request's work (and its system message); add more in batches.
constexpr int kMaxMembersPerRequest = 500;

Result<QList<quint64>> cleanUserIds(const google::protobuf::RepeatedField<uint64_t> &ids,
                                    quint64 exclude)
{
    if (ids.size() > kMaxMembersPerRequest)
        return makeError(
            v1::INVALID_ARGUMENT,
            QStringLiteral("At most %1 members per request").arg(kMaxMembersPerRequest));
    QList<quint64> out;
    for (quint64 id : ids) {
        if (id == 0)
            return makeError(v1::INVALID_ARGUMENT, QStringLiteral("User id 0 does not exist"));
        if (id != exclude && !out.contains(id))
            out.append(id);
    }
    return out;
}
} // namespace

GroupService::GroupService(Store &store, BlobStore &blobs, MembershipCache &members,
                           EventRouter &events, PushRouter &router, PresenceService &presence,
                           QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_blobs(blobs)
    , m_members(members)
    , m_events(events)
    , m_router(router)
    , m_presence(presence)
{}

void GroupService::createGroup(const Caller &caller, const v1::CreateGroupRequest &request,
                               QObject *context, Completion<v1::ConversationState> done)
{
    const Result<QString> name = normalizeGroupName(toQString(request.name()));
    if (!name)
        return done(name.error());
    const Result<QList<quint64>> members = cleanUserIds(request.member_user_ids(), caller.userId);
    if (!members)
        return done(members.error());
    m_store.createGroup(caller.userId, *name, *members, this,
                        [this, origin = caller.connection,
                         done = whileAlive<v1::ConversationState>(context, std::move(done))](
                            Result<GroupChange> change) {
                            if (!change)
                                return done(storeError(change.error()));
                            qCInfo(lcGroups)
                                << "group" << toQString(change->state.id()) << "created with"
                                << change->memberIds.size() << "members";
                            done(change->state);
                            announce(std::move(*change), origin);
                        });
}

void GroupService::addMembers(const Caller &caller, const v1::AddMembersRequest &request,
                              QObject *context, Completion<Done> done)
{
    if (const Status ok = checkGroup(request.conversation_id(), caller.userId); !ok)
        return done(ok.error());
    const Result<QList<quint64>> ids = cleanUserIds(request.user_ids(), 0);
    if (!ids)
        return done(ids.error());
    if (ids->isEmpty())
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Add whom?")));
    m_store.addMembers(toQString(request.conversation_id()), caller.userId, *ids, this,
                       announceThen(caller, context, std::move(done)));
}

void GroupService::removeMember(const Caller &caller, const v1::RemoveMemberRequest &request,
                                QObject *context, Completion<Done> done)
{
    if (const Status ok = checkGroup(request.conversation_id(), caller.userId); !ok)
        return done(ok.error());
    if (request.user_id() == 0)
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Remove whom?")));
    if (request.user_id() == caller.userId)
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("To leave a group, use leave")));
    m_store.removeMember(toQString(request.conversation_id()), caller.userId, request.user_id(),
                         this, announceThen(caller, context, std::move(done)));
}

void GroupService::leaveGroup(const Caller &caller, const v1::LeaveGroupRequest &request,
                              QObject *context, Completion<Done> done)
{
    if (const Status ok = checkGroup(request.conversation_id(), caller.userId); !ok)
        return done(ok.error());
    m_store.leaveGroup(toQString(request.conversation_id()), caller.userId, this,
                       announceThen(caller, context, std::move(done)));
}

void GroupService::renameGroup(const Caller &caller, const v1::RenameGroupRequest &request,
                               QObject *context, Completion<Done> done)
{
    if (const Status ok = checkGroup(request.conversation_id(), caller.userId); !ok)
        return done(ok.error());
    const Result<QString> name = normalizeGroupName(toQString(request.name()));
    if (!name)
        return done(name.error());
    m_store.renameGroup(toQString(request.conversation_id()), caller.userId, *name, this,
                        announceThen(caller, context, std::move(done)));
}

void GroupService::setGroupAvatar(const Caller &caller, const v1::SetGroupAvatarRequest &request,
                                  QObject *context, Completion<Done> done)
{
    if (const Status ok = checkGroup(request.conversation_id(), caller.userId); !ok)
        return done(ok.error());
    if (const Status color = checkAvatarColor(request.color()); !color)
        return done(color.error());
    if (const Status picture =
            checkAvatarPicture(m_store, m_blobs, caller.userId, request.file_id());
        !picture)
        return done(picture.error());
    m_store.setGroupAvatar(
        toQString(request.conversation_id()), caller.userId, toQString(request.file_id()),
        request.color(), this,
        [announce = announceThen(caller, context, std::move(done))](Result<GroupChange> change) {
            // The file went meanwhile (the sweep): as for any file not there.
            if (!change && change.error().code == v1::INVALID_ARGUMENT)
                return announce(notOwnPicture());
            announce(std::move(change));
        });
}

Result<v1::MemberList> GroupService::listMembers(const Caller &caller,
                                                 const v1::ListMembersRequest &request)
{
    const Result<ConversationRef> ref =
        checkConversationAccess(m_members, request.conversation_id(), caller.userId);
    if (!ref)
        return ref.error();
    v1::MemberList list;
    list.set_conversation_id(request.conversation_id());
    if (ref->isDirect()) {
        for (quint64 userId : {ref->lowUser, ref->highUser}) {
            const Result<UserRecord> user = m_store.userById(userId);
            if (!user)
                return storeError(user.error());
            Result<v1::User> shown = m_presence.toUserFor(*user, caller.userId);
            if (!shown)
                return storeError(shown.error());
            auto *member = list.add_members();
            *member->mutable_user() = std::move(*shown);
            member->set_role(v1::MEMBER);
        }
        return list;
    }
    const Result<QList<MemberRecord>> members =
        m_members.members(toQString(request.conversation_id()));
    if (!members)
        return storeError(members.error());
    for (const MemberRecord &record : *members) {
        const Result<UserRecord> user = m_store.userById(record.userId);
        if (!user)
            return storeError(user.error());
        Result<v1::User> shown = m_presence.toUserFor(*user, caller.userId);
        if (!shown)
            return storeError(shown.error());
        auto *member = list.add_members();
        *member->mutable_user() = std::move(*shown);
        member->set_role(record.role);
        member->set_joined_ms(record.joinedMs);
    }
    return list;
}

Status GroupService::checkGroup(const std::string &conversationId, quint64 actorId)
{
    const std::optional<ConversationRef> ref = parseConversationId(toQString(conversationId));
    if (ref && ref->isDirect())
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not a group"));
    const Result<ConversationRef> access =
        checkConversationAccess(m_members, conversationId, actorId);
    if (!access)
        return access.error();
    return Done{};
}

Completion<GroupChange> GroupService::announceThen(const Caller &caller, QObject *context,
                                                   Completion<Done> done)
{
    return [this, origin = caller.connection,
            done = whileAlive<Done>(context, std::move(done))](Result<GroupChange> change) {
        if (!change)
            return done(storeError(change.error()));
        qCInfo(lcGroups)
            << "group" << toQString(change->state.id()) << "changed:"
            << v1::SystemEvent::Kind_Name(change->event.content().system().kind()).c_str();
        done(Done{});
        announce(std::move(*change), origin);
    };
}

void GroupService::announce(GroupChange change, ConnectionRef origin)
{
    GroupChanged event;
    event.origin = origin;
    // Each user who gained access and is online gets the group as they see it.
    const QString id = toQString(change.state.id());
    for (quint64 userId : change.addedIds) {
        if (!m_router.isOnline(userId))
            continue;
        const Result<ConversationView> view = m_store.conversation(id, userId);
        if (!view) {
            qCWarning(lcGroups) << "no state of" << id << "for" << userId << view.error().message;
            continue;
        }
        event.views.append({userId, *view});
    }
    event.change = std::move(change);
    m_events.groupChanged(event);
}

} // namespace kith::server
