#pragma once
// UserPool hands out benchmark users by name prefix and index, registering
// the ones it does not know yet and caching their device tokens in a file
// next to the server's data, so later runs resume instead of paying for
// Argon2 again: password hashing is slow by design and is not what the
// scenarios measure.

#include "kith_session.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kith::bench {

class UserPool
{
public:
    explicit UserPool(std::string cacheFile);

    // Credentials of prefix0 .. prefix(count-1). Missing users are registered
    // (or logged in, when the name exists but its token was lost) with at most
    // `concurrency` password hashes in flight. nullopt with *error on failure.
    [[nodiscard]] std::optional<std::vector<Credentials>>
    ensure(const std::string &prefix, int count, const sockaddr_in &target, int concurrency,
           int64_t deadlineNs, std::string *error);

private:
    void load();
    void append(const Credentials &credentials);

    std::string m_cacheFile;
    std::map<std::string, Credentials> m_known;
};

} // namespace kith::bench
