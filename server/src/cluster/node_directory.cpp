#include "node_directory.h"

#include "bus_logging.h"

#include <bit>

namespace kith::server::cluster {

NodeDirectory::NodeDirectory(quint32 self)
    : m_self(self)
{}

int NodeDirectory::slotOf(quint32 node, bool create)
{
    if (const auto it = m_slotOfNode.constFind(node); it != m_slotOfNode.cend())
        return *it;
    if (!create)
        return -1;
    for (int slot = 0; slot < kMaxNodes; ++slot) {
        if (m_nodeOfSlot[size_t(slot)] == 0) {
            m_nodeOfSlot[size_t(slot)] = node;
            m_slotOfNode.insert(node, slot);
            return slot;
        }
    }
    if (m_overflow++ == 0)
        qCWarning(lcBus) << "more than" << kMaxNodes
                         << "other nodes: pushes to the newest go unrouted (clients sync instead)";
    return -1;
}

void NodeDirectory::set(QHash<quint64, Mask> &table, quint32 node, quint64 id, bool present)
{
    const int slot = slotOf(node, present);
    if (slot < 0)
        return;
    const Mask bit = Mask(1) << slot;
    if (present) {
        table[id] |= bit;
        return;
    }
    const auto it = table.find(id);
    if (it == table.end())
        return;
    *it &= ~bit;
    if (*it == 0)
        table.erase(it);
}

void NodeDirectory::apply(const DirectoryDelta &delta)
{
    if (delta.node == m_self)
        return;
    if (m_reading) {
        m_waiting.append(delta);
        return;
    }
    switch (delta.what) {
    case DirectoryDelta::What::UserOnline:
        set(m_users, delta.node, delta.id, true);
        break;
    case DirectoryDelta::What::UserOffline:
        set(m_users, delta.node, delta.id, false);
        break;
    case DirectoryDelta::What::DeviceOnline:
        set(m_devices, delta.node, delta.id, true);
        break;
    case DirectoryDelta::What::DeviceOffline:
        set(m_devices, delta.node, delta.id, false);
        break;
    case DirectoryDelta::What::NodeGone:
        dropNode(delta.node);
        break;
    }
}

void NodeDirectory::beginSnapshot()
{
    m_reading = true;
    m_waiting.clear();
}

void NodeDirectory::finishSnapshot(const QHash<quint32, Holdings> &nodes)
{
    clear();
    for (auto it = nodes.cbegin(); it != nodes.cend(); ++it) {
        if (it.key() == m_self || it.key() == 0)
            continue;
        for (quint64 user : it->users)
            set(m_users, it.key(), user, true);
        for (quint64 device : it->devices)
            set(m_devices, it.key(), device, true);
    }
    abandonSnapshot();
}

void NodeDirectory::abandonSnapshot()
{
    m_reading = false;
    const QList<DirectoryDelta> waiting = std::exchange(m_waiting, {});
    for (const DirectoryDelta &delta : waiting)
        apply(delta);
}

void NodeDirectory::clear()
{
    m_users.clear();
    m_devices.clear();
    m_slotOfNode.clear();
    m_nodeOfSlot.fill(0);
}

void NodeDirectory::dropNode(quint32 node)
{
    if (m_reading) {
        DirectoryDelta gone;
        gone.what = DirectoryDelta::What::NodeGone;
        gone.node = node;
        m_waiting.append(gone);
    }
    const int slot = slotOf(node, false);
    if (slot < 0)
        return;
    const Mask keep = ~(Mask(1) << slot);
    for (QHash<quint64, Mask> *table : {&m_users, &m_devices}) {
        for (auto it = table->begin(); it != table->end();) {
            *it &= keep;
            if (*it == 0)
                it = table->erase(it);
            else
                ++it;
        }
    }
    m_slotOfNode.remove(node);
    m_nodeOfSlot[size_t(slot)] = 0;
}

void NodeDirectory::keepOnly(const QSet<quint32> &alive)
{
    for (quint32 node : nodes()) {
        if (!alive.contains(node))
            dropNode(node);
    }
}

QList<std::pair<quint32, QList<quint64>>>
NodeDirectory::usersByNode(const QList<quint64> &users) const
{
    std::array<QList<quint64>, kMaxNodes> bySlot;
    Mask used = 0;
    for (quint64 user : users) {
        const auto it = m_users.constFind(user);
        if (it == m_users.cend())
            continue;
        for (Mask mask = *it; mask != 0; mask &= mask - 1) {
            const int slot = std::countr_zero(mask);
            bySlot[size_t(slot)].append(user);
        }
        used |= *it;
    }
    QList<std::pair<quint32, QList<quint64>>> routed;
    for (Mask mask = used; mask != 0; mask &= mask - 1) {
        const int slot = std::countr_zero(mask);
        routed.append({m_nodeOfSlot[size_t(slot)], std::move(bySlot[size_t(slot)])});
    }
    return routed;
}

QList<quint32> NodeDirectory::nodesOf(Mask mask) const
{
    QList<quint32> nodes;
    for (; mask != 0; mask &= mask - 1)
        nodes.append(m_nodeOfSlot[size_t(std::countr_zero(mask))]);
    return nodes;
}

QList<quint32> NodeDirectory::nodesOfUser(quint64 userId) const
{
    return nodesOf(m_users.value(userId));
}

QList<quint32> NodeDirectory::nodesOfDevice(quint64 deviceId) const
{
    return nodesOf(m_devices.value(deviceId));
}

QList<quint32> NodeDirectory::nodes() const
{
    return m_slotOfNode.keys();
}

} // namespace kith::server::cluster
