#include "request_budgets.h"

namespace kith::server {

namespace {
std::array<Budget, size_t(RequestKind::Count)> budgetsOf(const RequestBudgetOptions &o)
{
    return {o.send, o.read, o.write, o.groupChange, o.typing};
}

KeyedBucketTable<quint64> tableFor(const Budget &budget)
{
    return KeyedBucketTable<quint64>(budget.rate, budget.burst);
}
} // namespace

RequestBudgets::RequestBudgets(const RequestBudgetOptions &options)
    : m_budgets(budgetsOf(options))
    , m_tables{tableFor(m_budgets[0]), tableFor(m_budgets[1]), tableFor(m_budgets[2]),
               tableFor(m_budgets[3]), tableFor(m_budgets[4])}
{
    static_assert(size_t(RequestKind::Count) == 5, "one table per kind");
}

std::optional<RequestKind> RequestBudgets::kindOf(v1::Envelope::BodyCase body)
{
    switch (body) {
    case v1::Envelope::kSend:
        return RequestKind::Send;
    case v1::Envelope::kPull:
    case v1::Envelope::kSync:
    case v1::Envelope::kListMembers:
    case v1::Envelope::kSearchUsers:
    case v1::Envelope::kGetProfile:
    case v1::Envelope::kListDevices:
    case v1::Envelope::kChatStateSync:
        return RequestKind::Read;
    case v1::Envelope::kMarkRead:
    case v1::Envelope::kLeaveGroup:
    case v1::Envelope::kSetDisplayName:
    case v1::Envelope::kSetAvatar:
    case v1::Envelope::kRevokeDevice:
    case v1::Envelope::kLogout:
    case v1::Envelope::kCreateUpload: // and the file service's own budget of uploads
    case v1::Envelope::kCancelUpload:
    case v1::Envelope::kSetChatState:
    case v1::Envelope::kBlockUser:
        return RequestKind::Write;
    case v1::Envelope::kCreateGroup:
    case v1::Envelope::kAddMembers:
    case v1::Envelope::kRemoveMember:
    case v1::Envelope::kRenameGroup:
    case v1::Envelope::kSetGroupAvatar:
        return RequestKind::GroupChange;
    case v1::Envelope::kTyping:
        return RequestKind::Typing;
    default:
        return std::nullopt;
    }
}

quint32 RequestBudgets::take(quint64 userId, RequestKind kind, qint64 nowMs)
{
    const auto index = size_t(kind);
    if (m_budgets[index].rate <= 0)
        return 0;
    return m_tables[index].take(userId, nowMs);
}

} // namespace kith::server
