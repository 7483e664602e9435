#pragma once
// The group changes of the PostgreSQL store, each run by the writer inside
// its own savepoint of the batch's transaction: the change, its SystemEvent
// in the group's seq stream, and the new state, atomically. Each locks the
// group's member rows first and the conversation row next, in the order
// appends take them, so nodes changing and writing one group never deadlock.

#include "pg_connection.h"
#include "store.h"

namespace kith::server::pg {

[[nodiscard]] Result<GroupChange> createGroup(PgConnection &c, quint64 ownerId, const QString &name,
                                              const QList<quint64> &memberIds);
[[nodiscard]] Result<GroupChange> addMembers(PgConnection &c, const QString &conversationId,
                                             quint64 actorId, const QList<quint64> &userIds);
[[nodiscard]] Result<GroupChange> removeMember(PgConnection &c, const QString &conversationId,
                                               quint64 actorId, quint64 userId);
[[nodiscard]] Result<GroupChange> leaveGroup(PgConnection &c, const QString &conversationId,
                                             quint64 userId);
[[nodiscard]] Result<GroupChange> renameGroup(PgConnection &c, const QString &conversationId,
                                              quint64 actorId, const QString &name);
[[nodiscard]] Result<GroupChange> setGroupAvatar(PgConnection &c, const QString &conversationId,
                                                 quint64 actorId, const QString &fileId,
                                                 quint32 color);

} // namespace kith::server::pg
