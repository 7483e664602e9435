#include "group_rules.h"

#include "kith/protocol.h"

namespace kith::server {

Result<QString> normalizeGroupName(const QString &name)
{
    const QString cleaned = name.simplified();
    if (cleaned.isEmpty() || cleaned.size() > kMaxGroupNameChars)
        return makeError(
            v1::INVALID_ARGUMENT,
            QStringLiteral("A group name has 1 to %1 characters").arg(kMaxGroupNameChars));
    return cleaned;
}

bool mayManageGroup(v1::Role role)
{
    return role == v1::OWNER || role == v1::ADMIN;
}

Status checkRemoval(const MemberRecord &actor, const MemberRecord &target)
{
    if (!mayManageGroup(actor.role))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may remove members"));
    if (actor.userId == target.userId)
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("leave the group instead of removing yourself"));
    if (target.role == v1::OWNER)
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("the owner cannot be removed"));
    return Done{};
}

std::optional<quint64> successorOf(const QList<MemberRecord> &members, quint64 leaver)
{
    for (v1::Role wanted : {v1::ADMIN, v1::MEMBER}) {
        for (const MemberRecord &member : members) {
            if (member.userId != leaver && member.role == wanted)
                return member.userId;
        }
    }
    return std::nullopt;
}

} // namespace kith::server
