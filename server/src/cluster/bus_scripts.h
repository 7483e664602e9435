#pragma once
// The Lua scripts that keep the node directory in Redis. Each runs
// atomically in Redis, so "first connection anywhere" and "last connection
// everywhere" are decided once, however many nodes race, and a change of the
// directory is published in the same step as it is made.
//
// Keys (N a node id, U a user id, D a device id):
//   kith:nodes        hash N -> incarnation of every node that joined
//   kith:alive:N      N's incarnation while N is alive (expires unless N renews it)
//   kith:reaped:N     the incarnation of N that a peer cleaned up after its death
//   kith:u:U          set of the nodes holding U
//   kith:nu:N         set of the users N holds; kith:nd:N the same for devices
//   kith:su:N, :sd:N  what N held before it joined again, swept once it has
//                     said what it holds now

#include <QByteArray>

namespace kith::server::cluster::scripts {

enum Id {
    AttachUser,    // node user -> 1 when the user came online anywhere
    DetachUser,    // node user -> 1 when the user is offline everywhere now
    Device,        // node device 1|0
    Join,          // node incarnation ttl -> {mode, holder}
    ResyncUsers,   // node user... -> the users that came online anywhere
    ResyncDevices, // node device...
    Sweep,         // node batch -> {left, users offline everywhere now}
    Heartbeat,     // node incarnation ttl -> {"ok", "+N" | "-N:incarnation" ...} or {"lost"}
    Reap,          // node incarnation batch -> {left (-1: not dead or done), users offline}
    Leave,         // node incarnation
    Count
};

[[nodiscard]] const QByteArray &source(Id id);
// The SHA-1 that EVALSHA names it by (hex).
[[nodiscard]] const QByteArray &sha1(Id id);

} // namespace kith::server::cluster::scripts
