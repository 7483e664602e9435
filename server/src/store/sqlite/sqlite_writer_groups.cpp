#include "sqlite_writer.h"

#include "group_rules.h"

#include "kith/content.h"
#include "kith/protocol.h"

#include <algorithm>

namespace kith::server {

using namespace sqlite;

Result<v1::Message> SqliteStore::Writer::appendSystemEvent(const QString &conversationId,
                                                           quint64 actorId, v1::SystemEvent event)
{
    const qint64 now = nowMs();
    event.set_actor_user_id(actorId);
    v1::Content content;
    *content.mutable_system() = std::move(event);
    auto stored = insertMessage(conversationId, actorId, 0, nullptr, serialize(content), now);
    if (!stored)
        return stored.error();
    *stored->mutable_content() = std::move(content);
    {
        Stmt s(*m_c, QStringLiteral("UPDATE conversations SET metadata_version ="
                                    " metadata_version + 1 WHERE id = ?"));
        if (!s.exec({conversationId}))
            return s.error("bump metadata version");
    }
    // The actor has seen their own event (no row when they just left).
    Stmt s(*m_c, QStringLiteral("UPDATE members SET read_seq = ?"
                                " WHERE conversation_id = ? AND user_id = ?"));
    if (!s.exec({intValue(stored->seq()), conversationId, intValue(actorId)}))
        return s.error("actor read marker");
    return stored;
}

Status SqliteStore::Writer::checkUsersExist(const QList<quint64> &userIds)
{
    for (quint64 id : userIds) {
        Stmt s(*m_c, QStringLiteral("SELECT 1 FROM users WHERE id = ?"));
        if (!s.exec({intValue(id)}))
            return s.error("user exists");
        if (!s.next())
            return invalid(QStringLiteral("no such user: %1").arg(id));
    }
    return Done{};
}

Result<QList<MemberRow>> SqliteStore::Writer::groupMembers(const QString &conversationId,
                                                           quint64 actorId, v1::Role *actorRole)
{
    const auto ref = parseConversationId(conversationId);
    if (!ref || ref->isDirect() || !m_maxSeq.contains(conversationId))
        return notFound(QStringLiteral("no such group"));
    auto rows = loadMembers(*m_c, conversationId);
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

Result<GroupChange> SqliteStore::Writer::finishChange(const QString &conversationId,
                                                      quint64 actorId, v1::Message event,
                                                      QList<quint64> added, QList<quint64> removed)
{
    auto view = loadView(*m_c, conversationId, actorId, false);
    if (!view)
        return view.error();
    const auto rows = loadMembers(*m_c, conversationId);
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
    // The next append to the group reads its new members in its own transaction.
    forgetRecipients(conversationId);
    change.addedIds = std::move(added);
    change.removedIds = std::move(removed);
    return change;
}

Result<GroupChange> SqliteStore::Writer::createGroup(quint64 ownerId, const QString &name,
                                                     const QList<quint64> &memberIds)
{
    const Result<QString> title = normalizeGroupName(name);
    if (!title)
        return title.error();
    if (const auto owner = loadUser(*m_c, ownerId); !owner)
        return owner.error();
    QList<quint64> initial;
    for (quint64 id : memberIds)
        if (id != ownerId && !initial.contains(id))
            initial.append(id);
    if (Status known = checkUsersExist(initial); !known)
        return known.error();

    const quint64 groupId = m_nextGroupId;
    const QString conversationId = groupConversationId(groupId);
    const qint64 now = nowMs();
    {
        Stmt s(*m_c, QStringLiteral("INSERT INTO conversations (id, kind, title, max_seq, "
                                    "metadata_version, last_activity_ms, created_ms)"
                                    " VALUES (?, ?, ?, 0, 0, ?, ?)"));
        if (!s.exec({conversationId, int(v1::GROUP), *title, now, now}))
            return s.error("insert group");
    }
    {
        Stmt s(*m_c, QStringLiteral("UPDATE counters SET value = ? WHERE name = 'next_group_id'"));
        if (!s.exec({intValue(groupId + 1)}))
            return s.error("group counter");
    }
    ++m_nextGroupId;
    setMaxSeq(conversationId, 0);

    // Everyone joins with the creation event (seq 1); the others have it unread.
    if (Status added = insertMember(conversationId, ownerId, v1::OWNER, now, 1, 0); !added)
        return added.error();
    for (quint64 id : initial)
        if (Status added = insertMember(conversationId, id, v1::MEMBER, now, 1, 0); !added)
            return added.error();

    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_CREATED);
    for (quint64 id : initial)
        event.add_user_ids(id);
    event.set_name(toStd(*title));
    auto stored = appendSystemEvent(conversationId, ownerId, std::move(event));
    if (!stored)
        return stored.error();
    QList<quint64> everyone = {ownerId};
    everyone.append(initial);
    return finishChange(conversationId, ownerId, std::move(*stored), everyone, {});
}

Result<GroupChange> SqliteStore::Writer::addMembers(const QString &conversationId, quint64 actorId,
                                                    const QList<quint64> &userIds)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManageGroup(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may add members"));
    if (userIds.isEmpty())
        return invalid(QStringLiteral("no users to add"));
    if (Status known = checkUsersExist(userIds); !known)
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

    // New members join with the event announcing them, which they have not read yet.
    const quint64 eventSeq = m_maxSeq.value(conversationId) + 1;
    const qint64 now = nowMs();
    for (quint64 id : added)
        if (Status inserted =
                insertMember(conversationId, id, v1::MEMBER, now, eventSeq, eventSeq - 1);
            !inserted)
            return inserted.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBERS_ADDED);
    for (quint64 id : added)
        event.add_user_ids(id);
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), added, {});
}

Result<GroupChange> SqliteStore::Writer::removeMember(const QString &conversationId,
                                                      quint64 actorId, quint64 userId)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
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
    {
        Stmt s(*m_c,
               QStringLiteral("DELETE FROM members WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({conversationId, intValue(userId)}))
            return s.error("remove member");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBER_REMOVED);
    event.add_user_ids(userId);
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), {}, {userId});
}

Result<GroupChange> SqliteStore::Writer::leaveGroup(const QString &conversationId, quint64 userId)
{
    v1::Role role = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, userId, &role);
    if (!rows)
        return rows.error();
    if (role == v1::OWNER) {
        QList<MemberRecord> standing;
        standing.reserve(rows->size());
        for (const MemberRow &row : *rows)
            standing.append(row.record);
        const std::optional<quint64> successor = successorOf(standing, userId);
        if (successor) {
            Stmt s(*m_c, QStringLiteral("UPDATE members SET role = ?"
                                        " WHERE conversation_id = ? AND user_id = ?"));
            if (!s.exec({int(v1::OWNER), conversationId, intValue(*successor)}))
                return s.error("hand over ownership");
        }
    }
    {
        Stmt s(*m_c,
               QStringLiteral("DELETE FROM members WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({conversationId, intValue(userId)}))
            return s.error("leave group");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBER_LEFT);
    auto stored = appendSystemEvent(conversationId, userId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, userId, std::move(*stored), {}, {userId});
}

Result<GroupChange> SqliteStore::Writer::renameGroup(const QString &conversationId, quint64 actorId,
                                                     const QString &name)
{
    const Result<QString> title = normalizeGroupName(name);
    if (!title)
        return title.error();
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManageGroup(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may rename the group"));
    {
        Stmt s(*m_c, QStringLiteral("UPDATE conversations SET title = ? WHERE id = ?"));
        if (!s.exec({*title, conversationId}))
            return s.error("rename group");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_RENAMED);
    event.set_name(toStd(*title));
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), {}, {});
}

Result<GroupChange> SqliteStore::Writer::setGroupAvatar(const QString &conversationId,
                                                        quint64 actorId, const QString &fileId,
                                                        quint32 color)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManageGroup(actorRole))
        return makeError(v1::PERMISSION_DENIED,
                         QStringLiteral("only admins may change the group's picture"));
    if (!fileId.isEmpty()) {
        Stmt s(*m_c, QStringLiteral("SELECT 1 FROM files WHERE id = ? AND uploader_id = ?"
                                    " AND complete = 1"));
        if (!s.exec({fileId, intValue(actorId)}))
            return s.error("group avatar file");
        if (!s.next())
            return invalid(QStringLiteral("no such file"));
    }
    QString previousFileId;
    {
        Stmt s(*m_c, QStringLiteral("SELECT avatar_file_id FROM conversations WHERE id = ?"));
        if (!s.exec({conversationId}))
            return s.error("group avatar before");
        if (s.next())
            previousFileId = s.text(0);
    }
    {
        Stmt s(*m_c, QStringLiteral("UPDATE conversations SET avatar_file_id = ?, avatar_color = ?"
                                    " WHERE id = ?"));
        if (!s.exec(
                {fileId.isEmpty() ? Value::null() : Value(fileId), qint64(color), conversationId}))
            return s.error("set group avatar");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_AVATAR_CHANGED);
    event.set_avatar_file_id(toStd(fileId));
    event.set_avatar_color(color);
    event.set_color_only(previousFileId == fileId);
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), {}, {});
}

} // namespace kith::server
