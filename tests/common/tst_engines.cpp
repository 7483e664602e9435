// The test harness's engines: a real PostgreSQL and a real redis-server start
// in temporary folders on free loopback ports, answer, survive a restart on
// the same port, and are gone (by PID) when stopped.
#include "test_postgres.h"
#include "test_redis.h"

#include <QTcpSocket>
#include <QTest>

#include <csignal>

using namespace kith::test;

namespace {

bool processExists(qint64 pid)
{
    return pid > 0 && ::kill(pid_t(pid), 0) == 0;
}

// One Redis command in the inline protocol; the reply's first line.
QByteArray redisCommand(quint16 port, const QByteArray &command)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return {};
    socket.write(command + "\r\n");
    QByteArray reply;
    while (!reply.contains("\r\n") && socket.waitForReadyRead(5000))
        reply += socket.readAll();
    return reply.left(reply.indexOf("\r\n"));
}

} // namespace

class TestEngines : public QObject
{
    Q_OBJECT

private slots:
    void postgresStartsRestartsAndStops()
    {
        KITH_REQUIRE_POSTGRES();
        TestPostgres postgres;
        QVERIFY2(postgres.start(), postgres.log().right(2000).constData());
        QVERIFY(postgres.port() != 0);
        QVERIFY(postgres.createDatabase(QStringLiteral("kith_probe")));
        QCOMPARE(
            postgres.psql(QStringLiteral("kith_probe"),
                          QStringLiteral("CREATE TABLE t (v integer); INSERT INTO t VALUES (7);"
                                         " SELECT v FROM t")),
            QByteArray("7"));
        // Loopback only.
        QCOMPARE(
            postgres.psql(QStringLiteral("kith_probe"), QStringLiteral("SHOW listen_addresses")),
            QByteArray("127.0.0.1"));

        // A crash (immediate shutdown), then the same port and data again.
        const quint16 port = postgres.port();
        const qint64 first = postgres.pid();
        QVERIFY(postgres.crash());
        QVERIFY(!processExists(first));
        QVERIFY(postgres.psql(QStringLiteral("kith_probe"), QStringLiteral("SELECT 1")).isNull());
        QVERIFY2(postgres.start(), postgres.log().right(2000).constData());
        QCOMPARE(postgres.port(), port);
        QCOMPARE(postgres.psql(QStringLiteral("kith_probe"), QStringLiteral("SELECT v FROM t")),
                 QByteArray("7"));

        const qint64 second = postgres.pid();
        QVERIFY(processExists(second));
        QVERIFY(postgres.stop());
        QVERIFY(!processExists(second));
    }

    void twoPostgresServersStayApart()
    {
        KITH_REQUIRE_POSTGRES();
        TestPostgres one;
        TestPostgres two;
        QVERIFY(one.start());
        QVERIFY(two.start());
        QVERIFY(one.port() != two.port());
        QVERIFY(one.createDatabase(QStringLiteral("only_here")));
        QCOMPARE(one.psql(QStringLiteral("only_here"), QStringLiteral("SELECT 1")),
                 QByteArray("1"));
        QVERIFY(two.psql(QStringLiteral("only_here"), QStringLiteral("SELECT 1")).isNull());
    }

    void redisStartsRestartsAndStops()
    {
        KITH_REQUIRE_REDIS();
        TestRedis redis;
        QVERIFY2(redis.start(), redis.log().right(2000).constData());
        QCOMPARE(redisCommand(redis.port(), "PING"), QByteArray("+PONG"));
        QCOMPARE(redisCommand(redis.port(), "SET k v"), QByteArray("+OK"));
        QVERIFY(redis.url().endsWith(QString::number(redis.port())));

        const quint16 port = redis.port();
        const qint64 first = redis.pid();
        QVERIFY(redis.kill9());
        QVERIFY(!processExists(first));
        QVERIFY(redisCommand(port, "PING").isEmpty());
        QVERIFY(redis.start());
        QCOMPARE(redis.port(), port);
        // Nothing was kept on disk: a restarted bus starts empty.
        QCOMPARE(redisCommand(port, "EXISTS k"), QByteArray(":0"));

        const qint64 second = redis.pid();
        QVERIFY(redis.stop());
        QVERIFY(!processExists(second));
    }
};

QTEST_GUILESS_MAIN(TestEngines)
#include "tst_engines.moc"
