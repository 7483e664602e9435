#include "membership_cache.h"

#include "kith/protocol.h"

namespace kith::server {

namespace {
// Groups and users kept at once; past it the table starts over (each entry is
// then read again once). A bound on memory, not a tuning.
constexpr qsizetype kMaxGroups = 16384;
constexpr qsizetype kMaxUsers = 1 << 20;
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

void MembershipCache::groupChanged(const GroupChange &change)
{
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
