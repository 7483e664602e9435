#include "membership_cache.h"

#include "kith/protocol.h"

namespace kith::server {

namespace {
// Groups and users kept at once; past it the table starts over (each entry is
// then read again once). A bound on memory, not a tuning.
constexpr qsizetype kMaxGroups = 16384;
constexpr qsizetype kMaxUsers = 1 << 20;
constexpr qsizetype kMaxContactLists = 65536;
} // namespace

MembershipCache::MembershipCache(Store &store)
    : m_store(store)
{}

Result<QList<MemberRecord>> MembershipCache::members(const QString &groupId)
{
    if (const auto it = m_groups.constFind(groupId); it != m_groups.cend())
        return *it;
    ++m_loads;
    Result<QList<MemberRecord>> loaded = m_store.members(groupId);
    if (!loaded)
        return loaded.error();
    if (loaded->isEmpty())
        return makeError(v1::NOT_FOUND, QStringLiteral("no such group"));
    if (m_groups.size() >= kMaxGroups)
        m_groups.clear();
    m_groups.insert(groupId, *loaded);
    return loaded;
}

Result<std::optional<MemberRecord>> MembershipCache::membership(const QString &groupId,
                                                                quint64 userId)
{
    const Result<QList<MemberRecord>> all = members(groupId);
    if (!all) {
        if (all.error().code == v1::NOT_FOUND)
            return std::optional<MemberRecord>();
        return all.error();
    }
    for (const MemberRecord &member : *all) {
        if (member.userId == userId)
            return std::optional<MemberRecord>(member);
    }
    return std::optional<MemberRecord>();
}

Result<bool> MembershipCache::userExists(quint64 userId)
{
    if (m_users.contains(userId))
        return true;
    ++m_loads;
    const Result<UserRecord> user = m_store.userById(userId);
    if (!user) {
        if (user.error().code == v1::NOT_FOUND)
            return false;
        return user.error();
    }
    if (m_users.size() >= kMaxUsers)
        m_users.clear();
    m_users.insert(userId);
    return true;
}

Result<QList<quint64>> MembershipCache::contactsOf(quint64 userId)
{
    if (const auto it = m_contacts.constFind(userId); it != m_contacts.cend())
        return *it;
    ++m_loads;
    Result<QList<quint64>> loaded = m_store.contactsOf(userId);
    if (!loaded)
        return loaded.error();
    if (m_contacts.size() >= kMaxContactLists)
        m_contacts.clear();
    m_contacts.insert(userId, *loaded);
    return loaded;
}

Result<QList<quint64>> MembershipCache::blockersOf(quint64 userId)
{
    if (const auto it = m_blockers.constFind(userId); it != m_blockers.cend())
        return *it;
    ++m_blockerLoads;
    Result<QList<quint64>> loaded = m_store.blockersOf(userId);
    if (!loaded)
        return loaded.error();
    if (m_blockers.size() >= kMaxContactLists)
        m_blockers.clear();
    m_blockers.insert(userId, *loaded);
    return loaded;
}

void MembershipCache::blockChanged(quint64 userId)
{
    m_blockers.remove(userId);
}

void MembershipCache::directChatStarted(quint64 lowUser, quint64 highUser)
{
    const auto meet = [this](quint64 user, quint64 other) {
        const auto it = m_contacts.find(user);
        if (it != m_contacts.end() && !it->contains(other))
            it->append(other);
    };
    meet(lowUser, highUser);
    meet(highUser, lowUser);
}

void MembershipCache::forget(const MembershipChanged &change)
{
    if (change.everything) {
        m_groups.clear();
        m_contacts.clear();
        m_blockers.clear();
        return;
    }
    if (!change.groupId.isEmpty())
        m_groups.remove(change.groupId);
    for (quint64 userId : change.users) {
        m_contacts.remove(userId);
        m_blockers.remove(userId);
    }
}

void MembershipCache::groupChanged(const GroupChange &change)
{
    // Whether a group counts for presence depends on its size, so everyone it
    // touches has their contacts read again when next needed.
    for (quint64 userId : change.memberIds)
        m_contacts.remove(userId);
    for (quint64 userId : change.removedIds)
        m_contacts.remove(userId);
    const QString id = toQString(change.state.id());
    if (change.members.isEmpty()) {
        m_groups.remove(id);
        return;
    }
    if (!m_groups.contains(id) && m_groups.size() >= kMaxGroups)
        m_groups.clear();
    m_groups.insert(id, change.members);
}

} // namespace kith::server
