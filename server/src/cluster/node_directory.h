#pragma once
// NodeDirectory: this node's copy of which other nodes hold which users and
// devices, so that a push is routed to exactly the nodes holding a recipient
// and "is this user online" is answered without a round trip. Kept from the
// directory deltas every node publishes, and rebuilt from a snapshot of
// Redis after (re)connecting: deltas that arrive while the snapshot is read
// wait and are applied after it (each sets a value, so applying one the
// snapshot already holds changes nothing). Owned by the RedisPushRouter;
// session loop only.

#include "bus_messages.h"

#include <QHash>
#include <QList>
#include <QSet>

#include <array>

namespace kith::server::cluster {

class NodeDirectory
{
public:
    // Other nodes held at once (a bit each per user and device).
    static constexpr int kMaxNodes = 64;

    explicit NodeDirectory(quint32 self);

    void apply(const DirectoryDelta &delta);

    struct Holdings
    {
        QList<quint64> users;
        QList<quint64> devices;
    };
    void beginSnapshot();
    [[nodiscard]] bool readingSnapshot() const { return m_reading; }
    // Replaces what was known with `nodes` (Redis as read), then applies the
    // deltas that came meanwhile.
    void finishSnapshot(const QHash<quint32, Holdings> &nodes);
    // The snapshot will not come (the connection went): the deltas that came
    // meanwhile are applied to what was known.
    void abandonSnapshot();

    // A node is gone: none of its users or devices are anywhere any more.
    void dropNode(quint32 node);
    // Drops every node not in `alive`.
    void keepOnly(const QSet<quint32> &alive);

    [[nodiscard]] bool userOnline(quint64 userId) const { return m_users.contains(userId); }
    [[nodiscard]] bool deviceOnline(quint64 deviceId) const { return m_devices.contains(deviceId); }
    // `users` grouped by the other nodes holding them (a user on two nodes
    // is in both lists); users no other node holds are left out.
    [[nodiscard]] QList<std::pair<quint32, QList<quint64>>>
    usersByNode(const QList<quint64> &users) const;
    [[nodiscard]] QList<quint32> nodesOfUser(quint64 userId) const;
    [[nodiscard]] QList<quint32> nodesOfDevice(quint64 deviceId) const;
    [[nodiscard]] QList<quint32> nodes() const;

    [[nodiscard]] qsizetype userCount() const { return m_users.size(); }
    [[nodiscard]] qsizetype deviceCount() const { return m_devices.size(); }
    // Entries left out because more than kMaxNodes other nodes were seen.
    [[nodiscard]] quint64 overflow() const { return m_overflow; }

private:
    using Mask = quint64;
    // -1 when the node has no slot (and `create` is false or none is free).
    int slotOf(quint32 node, bool create);
    void set(QHash<quint64, Mask> &table, quint32 node, quint64 id, bool present);
    [[nodiscard]] QList<quint32> nodesOf(Mask mask) const;
    void clear();

    quint32 m_self;
    std::array<quint32, kMaxNodes> m_nodeOfSlot{}; // 0: free
    QHash<quint32, int> m_slotOfNode;
    QHash<quint64, Mask> m_users;
    QHash<quint64, Mask> m_devices;
    bool m_reading = false;
    QList<DirectoryDelta> m_waiting;
    quint64 m_overflow = 0;
};

} // namespace kith::server::cluster
