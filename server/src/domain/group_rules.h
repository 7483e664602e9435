#pragma once
// The rules of groups that every Store backend and the services share: one
// normalisation of group names, who may manage a group, and who inherits it
// when its owner leaves. Backends keep the SQL and the atomicity; the rules
// live here so that two backends cannot disagree.

#include "kith/result.h"
#include "records.h"

#include <QList>
#include <QString>

#include <optional>

namespace kith::server {

// A group name as stored: whitespace runs collapsed to one space and trimmed,
// 1..kMaxGroupNameChars characters. INVALID_ARGUMENT otherwise.
[[nodiscard]] Result<QString> normalizeGroupName(const QString &name);

// Owners and admins add, remove and rename; members do not.
[[nodiscard]] bool mayManageGroup(v1::Role role);

// Whether `actor` may remove `target` from a group: PERMISSION_DENIED for a
// plain member, INVALID_ARGUMENT for oneself (leave instead), PERMISSION_DENIED
// for the owner.
[[nodiscard]] Status checkRemoval(const MemberRecord &actor, const MemberRecord &target);

// Who owns the group after `leaver` (its owner) leaves: the longest-standing
// admin, else the longest-standing member; nullopt when nobody is left.
// `members` is in order of standing (earliest first), the leaver included.
[[nodiscard]] std::optional<quint64> successorOf(const QList<MemberRecord> &members,
                                                 quint64 leaver);

} // namespace kith::server
