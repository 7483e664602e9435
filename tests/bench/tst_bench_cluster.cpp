// kith-bench's scale-out scenarios at a tiny size: kith-bench starts its
// kithd nodes itself (--nodes N) on a real PostgreSQL and Redis that this
// test starts. Checks counts only (nothing lost, doubled or out of order,
// every client caught up) and where pushes went on the bus; the timings are
// printed and never checked.

#include "test_postgres.h"
#include "test_redis.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

using namespace kith::test;

namespace {
constexpr int kRunTimeoutMs = 90000;
}

class TestBenchCluster : public QObject
{
    Q_OBJECT

    TestPostgres m_postgres;
    TestRedis m_redis;
    QTemporaryDir m_dir;

    // Runs one scenario on `nodes` nodes; its JSON line (empty on failure).
    QJsonObject run(const QString &scenario, int nodes, const QStringList &args)
    {
        QProcess bench;
        bench.setProcessChannelMode(QProcess::SeparateChannels);
        bench.start(QStringLiteral(KITH_BENCH),
                    QStringList{scenario, QStringLiteral("--kithd"), QStringLiteral(KITHD),
                                QStringLiteral("--data"), m_dir.path(), QStringLiteral("--nodes"),
                                QString::number(nodes), QStringLiteral("--store"),
                                m_postgres.url(QStringLiteral("kith")), QStringLiteral("--bus"),
                                m_redis.url(), QStringLiteral("--deadline"), QStringLiteral("60")} +
                        args);
        if (!bench.waitForFinished(kRunTimeoutMs)) {
            bench.kill();
            bench.waitForFinished();
            qWarning("kith-bench %s hung", qPrintable(scenario));
            return {};
        }
        const QByteArray out = bench.readAllStandardOutput();
        qInfo("%s%s", out.constData(), bench.readAllStandardError().constData());
        if (bench.exitStatus() != QProcess::NormalExit || bench.exitCode() != 0)
            return {};
        const QRegularExpression line(QStringLiteral("^\\{\"scenario\":\"%1\".*\\}$").arg(scenario),
                                      QRegularExpression::MultilineOption);
        const auto match = line.match(QString::fromUtf8(out));
        if (!match.hasMatch())
            return {};
        return QJsonDocument::fromJson(match.captured(0).toUtf8()).object();
    }

private slots:
    void initTestCase()
    {
        KITH_REQUIRE_POSTGRES();
        KITH_REQUIRE_REDIS();
        QVERIFY2(m_postgres.start(), m_postgres.log().right(3000).constData());
        QVERIFY(m_postgres.createDatabase(QStringLiteral("kith")));
        QVERIFY2(m_redis.start(), m_redis.log().right(3000).constData());
    }

    // Three nodes, one pair: its users are on nodes 1 and 2, so node 3 is
    // sent nothing at all.
    void directRoutesToTheRecipientsNodesOnly()
    {
        const QJsonObject r =
            run(QStringLiteral("direct"), 3,
                {QStringLiteral("--pairs"), QStringLiteral("1"), QStringLiteral("--seconds"),
                 QStringLiteral("1"), QStringLiteral("--window"), QStringLiteral("4")});
        QVERIFY(!r.isEmpty());
        for (const char *zero : {"lost", "duplicates", "reordered", "errors"})
            QCOMPARE(r.value(QLatin1String(zero)).toInt(-1), 0);
        QCOMPARE(r.value(QLatin1String("nodes")).toInt(), 3);
        // Each side's pushes went to the other's node only, none to node 3
        // (which at most hears of the new chat's contacts, told to every node).
        const int sent = r.value(QLatin1String("sent")).toInt();
        const int one = r.value(QLatin1String("node1_bus_published")).toInt();
        const int two = r.value(QLatin1String("node2_bus_published")).toInt();
        QVERIFY(sent > 0);
        QVERIFY2(one + two >= sent, qPrintable(QStringLiteral("%1 + %2").arg(one).arg(two)));
        QCOMPARE(r.value(QLatin1String("node1_bus_published_to")).toString(),
                 QStringLiteral("2:%1 3:0").arg(one));
        QCOMPARE(r.value(QLatin1String("node2_bus_published_to")).toString(),
                 QStringLiteral("1:%1 3:0").arg(two));
        QCOMPARE(r.value(QLatin1String("node3_bus_published")).toInt(-1), 0);
        QVERIFY(r.value(QLatin1String("node3_bus_received")).toInt(-1) >= 0);
        QVERIFY(r.value(QLatin1String("node3_bus_received")).toInt(-1) < 10);
    }

    void connectAcrossNodes()
    {
        const QJsonObject r = run(QStringLiteral("connect"), 2,
                                  {QStringLiteral("--users"), QStringLiteral("12"),
                                   QStringLiteral("--connections-per-user"), QStringLiteral("2"),
                                   QStringLiteral("--workers"), QStringLiteral("2")});
        QVERIFY(!r.isEmpty());
        QCOMPARE(r.value(QLatin1String("connected")).toInt(), 24);
        QCOMPARE(r.value(QLatin1String("failed")).toInt(-1), 0);
        QCOMPARE(r.value(QLatin1String("node1_connections")).toInt(), 12);
        QCOMPARE(r.value(QLatin1String("node2_connections")).toInt(), 12);
    }

    void fanoutOverNodes()
    {
        const QJsonObject r =
            run(QStringLiteral("fanout"), 3,
                {QStringLiteral("--members"), QStringLiteral("12"), QStringLiteral("--messages"),
                 QStringLiteral("3"), QStringLiteral("--workers"), QStringLiteral("2")});
        QVERIFY(!r.isEmpty());
        for (const char *zero : {"missing", "duplicates", "errors"})
            QCOMPARE(r.value(QLatin1String(zero)).toInt(-1), 0);
        QCOMPARE(r.value(QLatin1String("deliveries")).toInt(), 33);
        // The sender is on node 1; members on 2 and 3 got theirs over the bus.
        QVERIFY(r.value(QLatin1String("node2_bus_received")).toInt() >= 3);
        QVERIFY(r.value(QLatin1String("node3_bus_received")).toInt() >= 3);
    }

    // The clients are on node 2 when it is killed; they catch up on 1 and 3.
    void nodeLossStorm()
    {
        const QJsonObject r =
            run(QStringLiteral("storm"), 3,
                {QStringLiteral("--clients"), QStringLiteral("10"), QStringLiteral("--missed"),
                 QStringLiteral("5"), QStringLiteral("--workers"), QStringLiteral("2"),
                 QStringLiteral("--kill-node"), QStringLiteral("2")});
        QVERIFY(!r.isEmpty());
        for (const char *zero : {"gaps", "duplicates", "errors"})
            QCOMPARE(r.value(QLatin1String(zero)).toInt(-1), 0);
        QCOMPARE(r.value(QLatin1String("caught_up")).toInt(), 10);
        QCOMPARE(r.value(QLatin1String("received")).toInt(), 50);
        QCOMPARE(r.value(QLatin1String("killed_node")).toInt(), 2);
        QCOMPARE(r.value(QLatin1String("node1_connections")).toInt() +
                     r.value(QLatin1String("node3_connections")).toInt(),
                 10);
    }
};

QTEST_GUILESS_MAIN(TestBenchCluster)
#include "tst_bench_cluster.moc"
