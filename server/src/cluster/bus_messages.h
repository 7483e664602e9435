#pragma once
// What kithd nodes say to each other over the bus, and the Redis names they
// say it under. A node listens on its own channel (pushes and closes for the
// connections it holds) and on one channel for all (changes of the node
// directory, and of group members that every node's caches must forget).
// Directory changes are written by the Lua scripts as short text
// ("u+3:42": user 42 came to node 3); the rest is binary, a kind byte first.

#include "events.h"
#include "kith/v1/envelope.pb.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>
#include <variant>

namespace kith::server::cluster {

// Redis keys and channels; every name starts with "kith:".
namespace names {
inline constexpr char kAll[] = "kith:all";          // the channel every node listens on
[[nodiscard]] QByteArray nodeChannel(quint32 node); // kith:to:<node>
} // namespace names

// Deliver `envelope` to the connections of `users` on the receiving node.
struct PushMessage
{
    quint32 from = 0;
    ConnectionRef except;
    QList<quint64> users;
    QByteArray envelope; // serialised v1::Envelope
};

// Close the connections of a device or of a user on the receiving node.
struct CloseMessage
{
    quint32 from = 0;
    bool device = false; // else a user
    quint64 id = 0;
    v1::ErrorCode code = v1::ERROR_UNSPECIFIED;
    QString text;
    ConnectionRef except;
};

// Caches of these members are stale on every node.
struct MembershipMessage
{
    quint32 from = 0;
    MembershipChanged change;
};

// A change of the directory (written by the scripts).
struct DirectoryDelta
{
    enum class What { UserOnline, UserOffline, DeviceOnline, DeviceOffline, NodeGone };
    What what = What::UserOnline;
    quint32 node = 0;
    quint64 id = 0; // the user or device; 0 for NodeGone
};

using BusMessage = std::variant<PushMessage, CloseMessage, MembershipMessage, DirectoryDelta>;

[[nodiscard]] QByteArray encode(const PushMessage &message);
[[nodiscard]] QByteArray encode(const CloseMessage &message);
[[nodiscard]] QByteArray encode(const MembershipMessage &message);
[[nodiscard]] QByteArray encode(const DirectoryDelta &delta);
// nullopt for anything malformed (a node of another version, or noise).
[[nodiscard]] std::optional<BusMessage> decode(const QByteArray &payload);
// The node a message came from (for the counters).
[[nodiscard]] quint32 sourceOf(const BusMessage &message);

} // namespace kith::server::cluster
