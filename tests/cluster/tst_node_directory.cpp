// NodeDirectory, this node's copy of where users and devices are: a push is
// grouped by exactly the other nodes holding each recipient, a node that goes
// takes its entries with it, and a snapshot read while deltas keep coming
// ends where Redis ended, whichever way the two interleaved.

#include "node_directory.h"

#include <QTest>

using namespace kith::server::cluster;
using What = DirectoryDelta::What;

class TestNodeDirectory : public QObject
{
    Q_OBJECT

    static DirectoryDelta delta(What what, quint32 node, quint64 id = 0)
    {
        return DirectoryDelta{what, node, id};
    }

    static QList<std::pair<quint32, QList<quint64>>>
    sorted(QList<std::pair<quint32, QList<quint64>>> routed)
    {
        std::sort(routed.begin(), routed.end());
        return routed;
    }

private slots:
    void routesToTheNodesHoldingEachUser()
    {
        NodeDirectory directory(1);
        directory.apply(delta(What::UserOnline, 2, 10));
        directory.apply(delta(What::UserOnline, 3, 20));
        directory.apply(delta(What::UserOnline, 3, 10)); // user 10 on two nodes
        directory.apply(delta(What::UserOnline, 1, 30)); // this node: not in the copy
        QVERIFY(directory.userOnline(10));
        QVERIFY(!directory.userOnline(30));
        using Routed = QList<std::pair<quint32, QList<quint64>>>;
        QCOMPARE(sorted(directory.usersByNode({10, 20, 30, 40})),
                 (Routed{{2, {10}}, {3, {10, 20}}}));
        QCOMPARE(directory.usersByNode({30, 40}), Routed{});
        directory.apply(delta(What::UserOffline, 3, 10));
        QCOMPARE(sorted(directory.usersByNode({10, 20})), (Routed{{2, {10}}, {3, {20}}}));
        directory.apply(delta(What::UserOffline, 2, 10));
        QVERIFY(!directory.userOnline(10));
    }

    void devicesAndGoneNodes()
    {
        NodeDirectory directory(1);
        directory.apply(delta(What::DeviceOnline, 2, 100));
        directory.apply(delta(What::UserOnline, 2, 10));
        directory.apply(delta(What::UserOnline, 3, 10));
        QCOMPARE(directory.nodesOfDevice(100), QList<quint32>{2});
        directory.apply(delta(What::NodeGone, 2));
        QVERIFY(!directory.deviceOnline(100));
        QCOMPARE(directory.nodesOfUser(10), QList<quint32>{3});
        directory.keepOnly({});
        QVERIFY(!directory.userOnline(10));
        QCOMPARE(directory.nodes(), QList<quint32>{});
        // A freed slot serves another node.
        directory.apply(delta(What::UserOnline, 4, 11));
        QCOMPARE(directory.nodesOfUser(11), QList<quint32>{4});
    }

    void aSnapshotAndTheDeltasThatCameMeanwhile()
    {
        NodeDirectory directory(1);
        directory.apply(delta(What::UserOnline, 2, 10)); // stale: Redis lost it
        directory.apply(delta(What::UserOnline, 2, 11));
        directory.beginSnapshot();
        // While the snapshot is read: 11 leaves (the snapshot may or may not
        // hold it yet), 12 comes, 13 comes and goes.
        directory.apply(delta(What::UserOffline, 2, 11));
        directory.apply(delta(What::UserOnline, 3, 12));
        directory.apply(delta(What::UserOnline, 3, 13));
        directory.apply(delta(What::UserOffline, 3, 13));
        QVERIFY(directory.userOnline(11)); // waits for the snapshot
        QHash<quint32, NodeDirectory::Holdings> redis;
        redis[2].users = {11}; // read before 11 left
        redis[3].users = {12};
        redis[1].users = {99}; // this node's own entries are not copied
        directory.finishSnapshot(redis);
        QVERIFY(!directory.userOnline(10));
        QVERIFY(!directory.userOnline(11));
        QVERIFY(directory.userOnline(12));
        QVERIFY(!directory.userOnline(13));
        QVERIFY(!directory.userOnline(99));
        QVERIFY(!directory.readingSnapshot());
    }

    void anAbandonedSnapshotKeepsTheDeltas()
    {
        NodeDirectory directory(1);
        directory.beginSnapshot();
        directory.apply(delta(What::UserOnline, 2, 10));
        directory.abandonSnapshot();
        QVERIFY(directory.userOnline(10));
    }

    void moreNodesThanSlots()
    {
        NodeDirectory directory(1);
        for (quint32 node = 2; node < 2 + NodeDirectory::kMaxNodes; ++node)
            directory.apply(delta(What::UserOnline, node, node));
        QCOMPARE(directory.overflow(), 0u);
        directory.apply(delta(What::UserOnline, 1000, 5000));
        QCOMPARE(directory.overflow(), 1u);
        QVERIFY(!directory.userOnline(5000));
        QCOMPARE(directory.nodesOfUser(2 + NodeDirectory::kMaxNodes - 1),
                 QList<quint32>{2 + NodeDirectory::kMaxNodes - 1});
    }
};

QTEST_GUILESS_MAIN(TestNodeDirectory)
#include "tst_node_directory.moc"
