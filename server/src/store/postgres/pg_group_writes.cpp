#include "pg_group_writes.h"

#include "group_rules.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "pg_rows.h"

#include <algorithm>

namespace kith::server::pg {

namespace {

QByteArray serialize(const google::protobuf::MessageLite &message)
{
    QByteArray bytes(qsizetype(message.ByteSizeLong()), Qt::Uninitialized);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<quint8 *>(bytes.data()));
    return bytes;
}

Status insertMember(PgConnection &c, const QString &conversationId, quint64 userId, v1::Role role,
                    qint64 now, quint64 joinedSeq, quint64 readSeq)
{
    auto r = c.query(QStringLiteral("INSERT INTO members (conversation_id, user_id, role,"
                                    " joined_ms, joined_seq, read_seq)"
                                    " VALUES ($1, $2, $3, $4, $5, $6)"),
                     {conversationId, userId, int(role), now, joinedSeq, readSeq}, "insert member");
    if (!r)
        return r.error();
    return Done{};
}

Status checkUsersExist(PgConnection &c, const QList<quint64> &userIds)
{
    for (quint64 id : userIds) {
        auto r = c.query(QStringLiteral("SELECT 1 FROM users WHERE id = $1"), {id}, "user exists");
        if (!r)
            return r.error();
        if (!r->next())
            return invalid(QStringLiteral("no such user: %1").arg(id));
    }
    return Done{};
}

// The group's members, locked (so that no append of theirs and no other
// change runs beside this one), and the actor's role; NOT_FOUND when there
// is no such group or the actor is not in it.
Result<QList<MemberRow>> groupMembers(PgConnection &c, const QString &conversationId,
                                      quint64 actorId, v1::Role *actorRole)
{
    const auto ref = parseConversationId(conversationId);
    if (!ref || ref->isDirect())
        return notFound(QStringLiteral("no such group"));
    // In user order, as a writer's member locks are taken (see PgWriter).
    auto locked = c.query(QStringLiteral("SELECT 1 FROM members WHERE conversation_id = $1"
                                         " ORDER BY user_id FOR UPDATE"),
                          {conversationId}, "lock members");
    if (!locked)
        return locked.error();
    auto rows = loadMembers(c, conversationId);
    if (!rows)
        return rows.error();
    const auto actor = std::find_if(rows->cbegin(), rows->cend(), [actorId](const MemberRow &r) {
        return r.record.userId == actorId;
    });
    if (actor == rows->cend())
        return notFound(QStringLiteral("no such group"));
    *actorRole = actor->record.role;
    return rows;
}

// Appends the SystemEvent with the next seq (the conversation row's lock is
// taken here, after the members'), bumps the metadata version and moves the
// actor's read marker (no row when the actor just left).
Result<v1::Message> appendSystemEvent(PgConnection &c, const QString &conversationId,
                                      quint64 actorId, v1::SystemEvent event)
{
    const qint64 now = nowMs();
    event.set_actor_user_id(actorId);
    v1::Content content;
    *content.mutable_system() = std::move(event);
    auto r =
        c.query(QStringLiteral("WITH conv AS (UPDATE conversations SET max_seq = max_seq + 1,"
                               "  metadata_version = metadata_version + 1, last_activity_ms = $2"
                               "  WHERE id = $1 RETURNING max_seq)"
                               " INSERT INTO messages (conversation_id, seq, sender_user_id,"
                               "  sender_device_id, client_msg_id, server_time_ms, content)"
                               " SELECT $1, conv.max_seq, $3, 0, NULL, $2, $4 FROM conv"
                               " RETURNING server_id, seq"),
                {conversationId, now, actorId, serialize(content)}, "append system event");
    if (!r)
        return r.error();
    if (!r->next())
        return notFound(QStringLiteral("no such group"));
    v1::Message message;
    message.set_conversation_id(toStd(conversationId));
    message.set_server_id(r->u64(0));
    message.set_seq(r->u64(1));
    message.set_sender_user_id(actorId);
    message.set_server_time_ms(now);
    *message.mutable_content() = std::move(content);
    auto marker = c.query(QStringLiteral("UPDATE members SET read_seq = $1"
                                         " WHERE conversation_id = $2 AND user_id = $3"),
                          {message.seq(), conversationId, actorId}, "actor read marker");
    if (!marker)
        return marker.error();
    return message;
}

Result<GroupChange> finishChange(PgConnection &c, const QString &conversationId, quint64 actorId,
                                 v1::Message event, QList<quint64> added, QList<quint64> removed)
{
    auto view = loadView(c, conversationId, actorId, false);
    if (!view)
        return view.error();
    const auto rows = loadMembers(c, conversationId);
    if (!rows)
        return rows.error();
    GroupChange change;
    change.state = std::move(*view);
    change.event = std::move(event);
    change.memberIds.reserve(rows->size());
    change.members.reserve(rows->size());
    for (const MemberRow &row : *rows) {
        change.memberIds.append(row.record.userId);
        change.members.append(row.record);
    }
    change.addedIds = std::move(added);
    change.removedIds = std::move(removed);
    return change;
}

Status deleteMember(PgConnection &c, const QString &conversationId, quint64 userId)
{
    auto r = c.query(QStringLiteral("DELETE FROM members WHERE conversation_id = $1"
                                    " AND user_id = $2"),
                     {conversationId, userId}, "remove member");
    if (!r)
        return r.error();
    return Done{};
}

} // namespace

Result<GroupChange> createGroup(PgConnection &c, quint64 ownerId, const QString &name,
                                const QList<quint64> &memberIds)
{
    const Result<QString> title = normalizeGroupName(name);
    if (!title)
        return title.error();
    if (const auto owner = loadUser(c, ownerId); !owner)
        return owner.error();
    QList<quint64> initial;
    for (quint64 id : memberIds)
        if (id != ownerId && !initial.contains(id))
            initial.append(id);
    if (Status known = checkUsersExist(c, initial); !known)
        return known.error();

    // Group ids come from a sequence, so nodes never hand out the same one
    // (a rolled-back creation leaves a gap, which nothing relies on).
    auto id = c.query(QStringLiteral("SELECT nextval('group_ids')"), {}, "group id");
    if (!id)
        return id.error();
    if (!id->next())
        return makeError(v1::INTERNAL, QStringLiteral("storage error (group id)"));
    const QString conversationId = groupConversationId(id->u64(0));
    const qint64 now = nowMs();
    auto inserted = c.query(QStringLiteral("INSERT INTO conversations (id, kind, title, max_seq,"
                                           " metadata_version, last_activity_ms, created_ms)"
                                           " VALUES ($1, $2, $3, 0, 0, $4, $4)"),
                            {conversationId, int(v1::GROUP), *title, now}, "insert group");
    if (!inserted)
        return inserted.error();

    // Everyone joins with the creation event (seq 1); the others have it unread.
    if (Status added = insertMember(c, conversationId, ownerId, v1::OWNER, now, 1, 0); !added)
        return added.error();
    for (quint64 member : initial)
        if (Status added = insertMember(c, conversationId, member, v1::MEMBER, now, 1, 0); !added)
            return added.error();

    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_CREATED);
    for (quint64 member : initial)
        event.add_user_ids(member);
    event.set_name(toStd(*title));
    auto stored = appendSystemEvent(c, conversationId, ownerId, std::move(event));
    if (!stored)
        return stored.error();
    QList<quint64> everyone = {ownerId};
    everyone.append(initial);
    return finishChange(c, conversationId, ownerId, std::move(*stored), everyone, {});
}

Result<GroupChange> addMembers(PgConnection &c, const QString &conversationId, quint64 actorId,
                               const QList<quint64> &userIds)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(c, conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManageGroup(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may add members"));
    if (userIds.isEmpty())
        return invalid(QStringLiteral("no users to add"));
    if (Status known = checkUsersExist(c, userIds); !known)
        return known.error();
    QList<quint64> added;
    for (quint64 id : userIds) {
        const bool present = std::any_of(rows->cbegin(), rows->cend(), [id](const MemberRow &r) {
            return r.record.userId == id;
        });
        if (!present && !added.contains(id))
            added.append(id);
    }
    if (added.isEmpty())
        return invalid(QStringLiteral("everyone listed is already a member"));

    // New members join with the event announcing them, which they have not
    // read yet; its seq is the next one, as the conversation row is locked.
    auto max = c.query(QStringLiteral("SELECT max_seq FROM conversations WHERE id = $1 FOR UPDATE"),
                       {conversationId}, "lock group");
    if (!max)
        return max.error();
    if (!max->next())
        return notFound(QStringLiteral("no such group"));
    const quint64 eventSeq = max->u64(0) + 1;
    const qint64 now = nowMs();
    for (quint64 id : added)
        if (Status inserted =
                insertMember(c, conversationId, id, v1::MEMBER, now, eventSeq, eventSeq - 1);
            !inserted)
            return inserted.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBERS_ADDED);
    for (quint64 id : added)
        event.add_user_ids(id);
    auto stored = appendSystemEvent(c, conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(c, conversationId, actorId, std::move(*stored), added, {});
}

Result<GroupChange> removeMember(PgConnection &c, const QString &conversationId, quint64 actorId,
                                 quint64 userId)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(c, conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    MemberRecord actor;
    actor.userId = actorId;
    actor.role = actorRole;
    if (userId == actorId || !mayManageGroup(actorRole))
        return checkRemoval(actor, actor).error(); // the error that applies, whoever the target
    const auto target = std::find_if(rows->cbegin(), rows->cend(), [userId](const MemberRow &r) {
        return r.record.userId == userId;
    });
    if (target == rows->cend())
        return notFound(QStringLiteral("not a member of the group"));
    if (Status allowed = checkRemoval(actor, target->record); !allowed)
        return allowed.error();
    if (Status removed = deleteMember(c, conversationId, userId); !removed)
        return removed.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBER_REMOVED);
    event.add_user_ids(userId);
    auto stored = appendSystemEvent(c, conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(c, conversationId, actorId, std::move(*stored), {}, {userId});
}

Result<GroupChange> leaveGroup(PgConnection &c, const QString &conversationId, quint64 userId)
{
    v1::Role role = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(c, conversationId, userId, &role);
    if (!rows)
        return rows.error();
    if (role == v1::OWNER) {
        QList<MemberRecord> standing;
        standing.reserve(rows->size());
        for (const MemberRow &row : *rows)
            standing.append(row.record);
        if (const std::optional<quint64> successor = successorOf(standing, userId)) {
            auto r = c.query(QStringLiteral("UPDATE members SET role = $1"
                                            " WHERE conversation_id = $2 AND user_id = $3"),
                             {int(v1::OWNER), conversationId, *successor}, "hand over ownership");
            if (!r)
                return r.error();
        }
    }
    if (Status left = deleteMember(c, conversationId, userId); !left)
        return left.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBER_LEFT);
    auto stored = appendSystemEvent(c, conversationId, userId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(c, conversationId, userId, std::move(*stored), {}, {userId});
}

Result<GroupChange> renameGroup(PgConnection &c, const QString &conversationId, quint64 actorId,
                                const QString &name)
{
    const Result<QString> title = normalizeGroupName(name);
    if (!title)
        return title.error();
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(c, conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManageGroup(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may rename the group"));
    auto r = c.query(QStringLiteral("UPDATE conversations SET title = $1 WHERE id = $2"),
                     {*title, conversationId}, "rename group");
    if (!r)
        return r.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_RENAMED);
    event.set_name(toStd(*title));
    auto stored = appendSystemEvent(c, conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(c, conversationId, actorId, std::move(*stored), {}, {});
}

Result<GroupChange> setGroupAvatar(PgConnection &c, const QString &conversationId, quint64 actorId,
                                   const QString &fileId, quint32 color)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(c, conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManageGroup(actorRole))
        return makeError(v1::PERMISSION_DENIED,
                         QStringLiteral("only admins may change the group's picture"));
    if (!fileId.isEmpty()) {
        // The file's row is locked (FOR KEY SHARE, as the foreign key would)
        // so that a sweep cannot take it between the check and the update.
        auto r = c.query(QStringLiteral("SELECT 1 FROM files WHERE id = $1 AND uploader_id = $2"
                                        " AND complete FOR KEY SHARE"),
                         {fileId, actorId}, "group avatar file");
        if (!r)
            return r.error();
        if (!r->next())
            return invalid(QStringLiteral("no such file"));
    }
    QString previousFileId;
    {
        auto before = c.query(QStringLiteral("SELECT COALESCE(avatar_file_id, '') FROM"
                                             " conversations WHERE id = $1"),
                              {conversationId}, "group avatar before");
        if (!before)
            return before.error();
        if (before->next())
            previousFileId = before->text(0);
    }
    auto r =
        c.query(QStringLiteral("UPDATE conversations SET avatar_file_id = NULLIF($1, ''),"
                               " avatar_color = $2 WHERE id = $3"),
                {fileId.isEmpty() ? QStringLiteral("") : fileId, qint64(color), conversationId},
                "set group avatar");
    if (!r)
        return r.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_AVATAR_CHANGED);
    event.set_avatar_file_id(toStd(fileId));
    event.set_avatar_color(color);
    event.set_color_only(previousFileId == fileId);
    auto stored = appendSystemEvent(c, conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(c, conversationId, actorId, std::move(*stored), {}, {});
}

} // namespace kith::server::pg
