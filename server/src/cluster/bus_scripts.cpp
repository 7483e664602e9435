#include "bus_scripts.h"

#include <QCryptographicHash>

#include <array>

namespace kith::server::cluster::scripts {

namespace {

constexpr const char *kAttachUser = R"lua(
local node, user = ARGV[1], ARGV[2]
redis.call('SADD', 'kith:nu:' .. node, user)
redis.call('SREM', 'kith:su:' .. node, user)
if redis.call('SADD', 'kith:u:' .. user, node) == 0 then return 0 end
redis.call('PUBLISH', 'kith:all', 'u+' .. node .. ':' .. user)
if redis.call('SCARD', 'kith:u:' .. user) == 1 then return 1 end
return 0
)lua";

constexpr const char *kDetachUser = R"lua(
local node, user = ARGV[1], ARGV[2]
redis.call('SREM', 'kith:nu:' .. node, user)
redis.call('SREM', 'kith:su:' .. node, user)
if redis.call('SREM', 'kith:u:' .. user, node) == 0 then return 0 end
redis.call('PUBLISH', 'kith:all', 'u-' .. node .. ':' .. user)
if redis.call('EXISTS', 'kith:u:' .. user) == 0 then return 1 end
return 0
)lua";

// A device held before this node joined again is still known to the peers:
// only one they do not know of is published.
constexpr const char *kDevice = R"lua(
local node, device = ARGV[1], ARGV[2]
local held = redis.call('SREM', 'kith:sd:' .. node, device)
if ARGV[3] == '1' then
  if redis.call('SADD', 'kith:nd:' .. node, device) == 1 and held == 0 then
    redis.call('PUBLISH', 'kith:all', 'd+' .. node .. ':' .. device)
  end
elseif redis.call('SREM', 'kith:nd:' .. node, device) == 1 or held == 1 then
  redis.call('PUBLISH', 'kith:all', 'd-' .. node .. ':' .. device)
end
return 0
)lua";

// Modes: same (this process joined before and Redis kept it), reaped (a
// peer cleaned up after this process: its users were told offline), predecessor
// (another process with this node id was here before: what it held is swept),
// fresh (first join, or Redis lost its data). Taken: another live process has
// this node id.
constexpr const char *kJoin = R"lua(
local node, incarnation, ttl = ARGV[1], ARGV[2], ARGV[3]
local alive = redis.call('GET', 'kith:alive:' .. node)
if alive and alive ~= incarnation then return {'taken', alive} end
local before = redis.call('HGET', 'kith:nodes', node)
local mode = 'fresh'
if before == incarnation then mode = 'same'
elseif redis.call('GET', 'kith:reaped:' .. node) == incarnation then mode = 'reaped'
elseif before then mode = 'predecessor' end
for _, kind in ipairs({'u', 'd'}) do
  local held, sweep = 'kith:n' .. kind .. ':' .. node, 'kith:s' .. kind .. ':' .. node
  if redis.call('EXISTS', held) == 1 then
    if redis.call('EXISTS', sweep) == 1 then
      redis.call('SUNIONSTORE', sweep, sweep, held)
      redis.call('DEL', held)
    else
      redis.call('RENAME', held, sweep)
    end
  end
end
redis.call('HSET', 'kith:nodes', node, incarnation)
redis.call('SET', 'kith:alive:' .. node, incarnation, 'PX', ttl)
redis.call('DEL', 'kith:reaped:' .. node)
return {mode, ''}
)lua";

constexpr const char *kResyncUsers = R"lua(
local node = ARGV[1]
local first = {}
for i = 2, #ARGV do
  local user = ARGV[i]
  redis.call('SADD', 'kith:nu:' .. node, user)
  redis.call('SREM', 'kith:su:' .. node, user)
  if redis.call('SADD', 'kith:u:' .. user, node) == 1 then
    redis.call('PUBLISH', 'kith:all', 'u+' .. node .. ':' .. user)
    if redis.call('SCARD', 'kith:u:' .. user) == 1 then first[#first + 1] = user end
  end
end
return first
)lua";

constexpr const char *kResyncDevices = R"lua(
local node = ARGV[1]
for i = 2, #ARGV do
  local device = ARGV[i]
  local held = redis.call('SREM', 'kith:sd:' .. node, device)
  if redis.call('SADD', 'kith:nd:' .. node, device) == 1 and held == 0 then
    redis.call('PUBLISH', 'kith:all', 'd+' .. node .. ':' .. device)
  end
end
return 0
)lua";

constexpr const char *kSweep = R"lua(
local node, batch = ARGV[1], tonumber(ARGV[2])
for _, device in ipairs(redis.call('SPOP', 'kith:sd:' .. node, batch)) do
  redis.call('PUBLISH', 'kith:all', 'd-' .. node .. ':' .. device)
end
local gone = {}
for _, user in ipairs(redis.call('SPOP', 'kith:su:' .. node, batch)) do
  if redis.call('SREM', 'kith:u:' .. user, node) == 1 then
    redis.call('PUBLISH', 'kith:all', 'u-' .. node .. ':' .. user)
    if redis.call('EXISTS', 'kith:u:' .. user) == 0 then gone[#gone + 1] = user end
  end
end
return {redis.call('SCARD', 'kith:su:' .. node) + redis.call('SCARD', 'kith:sd:' .. node), gone}
)lua";

constexpr const char *kHeartbeat = R"lua(
local node, incarnation, ttl = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', 'kith:nodes', node) ~= incarnation then return {'lost'} end
redis.call('SET', 'kith:alive:' .. node, incarnation, 'PX', ttl)
local result = {'ok'}
local all = redis.call('HGETALL', 'kith:nodes')
for i = 1, #all, 2 do
  if redis.call('EXISTS', 'kith:alive:' .. all[i]) == 1 then
    result[#result + 1] = '+' .. all[i]
  else
    result[#result + 1] = '-' .. all[i] .. ':' .. all[i + 1]
  end
end
return result
)lua";

// Several peers may reap one dead node at once: each pops its own share of
// its users, so each user's "offline everywhere" is told by one of them. The
// last pop leaves a tombstone (the dead process, if it was only cut off,
// learns from it that its users were told offline) and says the node is gone.
constexpr const char *kReap = R"lua(
local node, incarnation, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HGET', 'kith:nodes', node) ~= incarnation
   or redis.call('EXISTS', 'kith:alive:' .. node) == 1 then
  return {-1, {}}
end
local gone = {}
local users = redis.call('SPOP', 'kith:nu:' .. node, batch)
if #users == 0 then users = redis.call('SPOP', 'kith:su:' .. node, batch) end
for _, user in ipairs(users) do
  if redis.call('SREM', 'kith:u:' .. user, node) == 1
     and redis.call('EXISTS', 'kith:u:' .. user) == 0 then
    gone[#gone + 1] = user
  end
end
if redis.call('SCARD', 'kith:nu:' .. node) + redis.call('SCARD', 'kith:su:' .. node) > 0 then
  return {1, gone}
end
redis.call('DEL', 'kith:nd:' .. node, 'kith:sd:' .. node)
redis.call('HDEL', 'kith:nodes', node)
redis.call('SET', 'kith:reaped:' .. node, incarnation, 'EX', 86400)
redis.call('PUBLISH', 'kith:all', 'x' .. node)
return {0, gone}
)lua";

// A node that stops on purpose is no longer alive at once; a peer reaps it
// at its next heartbeat and tells its users' contacts that they went offline.
constexpr const char *kLeave = R"lua(
if redis.call('GET', 'kith:alive:' .. ARGV[1]) == ARGV[2] then
  redis.call('DEL', 'kith:alive:' .. ARGV[1])
end
return 0
)lua";

struct Compiled
{
    QByteArray source;
    QByteArray sha1;
};

const std::array<Compiled, Count> &all()
{
    static const std::array<Compiled, Count> scripts = [] {
        const std::array<const char *, Count> sources{
            kAttachUser,    kDetachUser, kDevice,    kJoin, kResyncUsers,
            kResyncDevices, kSweep,      kHeartbeat, kReap, kLeave};
        std::array<Compiled, Count> compiled;
        for (size_t i = 0; i < sources.size(); ++i) {
            compiled[i].source = QByteArray(sources[i]);
            compiled[i].sha1 =
                QCryptographicHash::hash(compiled[i].source, QCryptographicHash::Sha1).toHex();
        }
        return compiled;
    }();
    return scripts;
}

} // namespace

const QByteArray &source(Id id)
{
    return all()[size_t(id)].source;
}

const QByteArray &sha1(Id id)
{
    return all()[size_t(id)].sha1;
}

} // namespace kith::server::cluster::scripts
