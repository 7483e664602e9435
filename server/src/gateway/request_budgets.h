#pragma once
// RequestBudgets: how many requests of each kind one user may make, as token
// buckets per user shared by all of the user's connections on this node.
// Every request a session accepts after authentication takes a token of its
// kind first; without one it is answered RATE_LIMITED with retry_after_ms.
// The budgets are kithd options (docs/security.md lists them). Owned by the
// Gateway; session loop only.

#include "rate_limit.h"

#include "kith/v1/envelope.pb.h"

#include <array>

namespace kith::server {

// The kinds of request that share a budget.
enum class RequestKind {
    Send,        // send
    Read,        // pull, sync, list_members, search_users, get_profile, list_devices
    Write,       // mark_read, leave_group, set_display_name, set_avatar, revoke_device, logout,
                 // create_upload, cancel_upload
    GroupChange, // create_group, add_members, remove_member, rename_group, set_group_avatar
    Typing,      // typing (also coalesced: see TypingCoalescer)
    Count
};

struct Budget
{
    double rate = 0;  // per second; 0: unlimited
    double burst = 0; // taken at once
};

struct RequestBudgetOptions
{
    Budget send{100, 500};
    Budget read{200, 2000};
    Budget write{20, 200};
    Budget groupChange{0.5, 20};
    Budget typing{5, 20};
};

class RequestBudgets
{
public:
    explicit RequestBudgets(const RequestBudgetOptions &options);

    // The kind a request body counts against; nullopt for bodies without a
    // budget of their own here (ping, auth, bodies refused anyway).
    [[nodiscard]] static std::optional<RequestKind> kindOf(v1::Envelope::BodyCase body);
    // Takes a token of `kind` for `userId`: 0 when allowed, else ms to wait.
    [[nodiscard]] quint32 take(quint64 userId, RequestKind kind, qint64 nowMs);

private:
    std::array<Budget, size_t(RequestKind::Count)> m_budgets;
    std::array<KeyedBucketTable<quint64>, size_t(RequestKind::Count)> m_tables;
};

} // namespace kith::server
