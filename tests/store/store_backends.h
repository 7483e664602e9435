#pragma once
// The Store backends the contract suite (tst_store_contract.cpp) runs
// against. A backend joins by adding one entry to storeBackends() in
// store_backends.cpp: a name and a maker of fresh, empty data for one test.

#include "store.h"

#include <QString>

#include <functional>
#include <memory>
#include <vector>

namespace kith::server::test {

// One test's data in one backend (a temporary file, a scratch database).
class BackendUnderTest
{
public:
    virtual ~BackendUnderTest() = default;
    // A new, unopened Store on this test's data; called again to reopen it.
    [[nodiscard]] virtual std::unique_ptr<Store> open() = 0;
    // Sets a member's role behind the store's back: no request grants a role
    // yet, and the rules for admins still need testing. Test use only.
    [[nodiscard]] virtual bool setMemberRole(const QString &conversationId, quint64 userId,
                                             v1::Role role) = 0;
};

struct StoreBackend
{
    const char *name;
    // Fresh data, or null with *whyNot set when the backend cannot run here
    // (its test is then skipped, saying why).
    std::function<std::unique_ptr<BackendUnderTest>(QString *whyNot)> make;
};

// SQLite first, then PostgreSQL (on a server the tests start).
[[nodiscard]] const std::vector<StoreBackend> &storeBackends();

} // namespace kith::server::test
