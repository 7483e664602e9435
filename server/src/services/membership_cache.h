#pragma once
// The members of groups as the session loop asks for them (mark read, typing,
// member lists, group checks), kept from committed group changes so a request
// makes no store read of its own; a group not seen yet is read once. Also the
// users known to exist (accounts are never deleted), for direct chats, each
// user's presence contacts, kept from the same events, and who blocks each
// user (dropped on a block change here or, through the router, on another node).
// Owned by Services; session loop only.

#include "events.h"
#include "store.h"

#include <QHash>
#include <QSet>

#include <optional>

namespace kith::server {

class MembershipCache
{
public:
    explicit MembershipCache(Store &store);

    // The members of a group in order of standing; NOT_FOUND for a group that
    // does not exist or has no member.
    [[nodiscard]] Result<QList<MemberRecord>> members(const QString &groupId);
    // nullopt when `userId` is not a member of the group.
    [[nodiscard]] Result<std::optional<MemberRecord>> membership(const QString &groupId,
                                                                 quint64 userId);
    // Whether the account exists (disabled ones included).
    [[nodiscard]] Result<bool> userExists(quint64 userId);

    // Who hears the user's presence (see Store::contactsOf).
    [[nodiscard]] Result<QList<quint64>> contactsOf(quint64 userId);
    // The users who block userId (see Store::blockersOf).
    [[nodiscard]] Result<QList<quint64>> blockersOf(quint64 userId);
    // Someone blocked or unblocked userId: its blockers are read again.
    void blockChanged(quint64 userId);

    // A committed change: its member list replaces what was kept, and the
    // contacts of everyone in or just out of the group are read again.
    void groupChanged(const GroupChange &change);
    // The first message of a direct chat made its two users contacts.
    void directChatStarted(quint64 lowUser, quint64 highUser);
    // A change committed on another node: what it touched is read again
    // when next asked (everything, when changes may have been missed).
    void forget(const MembershipChanged &change);

    [[nodiscard]] qsizetype groupsKept() const { return m_groups.size(); }
    // Store reads of members and contacts made on a miss (for tests: a hit
    // makes none); blockers' reads are counted apart.
    [[nodiscard]] quint64 loads() const { return m_loads; }
    [[nodiscard]] quint64 blockerLoads() const { return m_blockerLoads; }

private:
    Store &m_store;
    QHash<QString, QList<MemberRecord>> m_groups;
    QSet<quint64> m_users;
    QHash<quint64, QList<quint64>> m_contacts;
    QHash<quint64, QList<quint64>> m_blockers;
    quint64 m_loads = 0;
    quint64 m_blockerLoads = 0;
};

} // namespace kith::server
