// The listening socket kithd makes itself so that it can choose the backlog
// (Qt's listen() fixes it at 50), and the host's listen-queue drop counters
// it reports. The backlog is read back as the kernel holds it, with `ss`
// (iproute2), which shows a listening socket's backlog as its Send-Q.

#include "bulk_lane.h"
#include "gateway.h"
#include "listen_socket.h"
#include "service_fixture.h"

#include <QProcess>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QtTest>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace kith::server;

namespace {

// CTest reports a test that prints this as skipped, not passed.
QString skipMessage(const char *why)
{
    return QStringLiteral("kith-test-skip: ") + QLatin1String(why);
}

// The backlog of the socket listening on `port` as the kernel holds it; -1
// when ss did not list exactly one.
int kernelBacklog(quint16 port)
{
    QProcess ss;
    ss.start(QStringLiteral("ss"),
             {QStringLiteral("-Hltn"), QStringLiteral("sport = :%1").arg(port)});
    if (!ss.waitForFinished(10000) || ss.exitCode() != 0)
        return -1;
    const QList<QByteArray> lines = ss.readAllStandardOutput().trimmed().split('\n');
    if (lines.size() != 1)
        return -1;
    // State Recv-Q Send-Q Local Peer
    const QList<QByteArray> fields = lines.first().simplified().split(' ');
    bool ok = false;
    const int backlog = fields.size() >= 3 ? fields[2].toInt(&ok) : -1;
    return ok ? backlog : -1;
}

quint16 localPort(int fd)
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
        return 0;
    return ntohs(reinterpret_cast<sockaddr_in *>(&address)->sin_port);
}

} // namespace

class TestListenSocket : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("ss")).isEmpty())
            QSKIP(qPrintable(
                skipMessage("ss (iproute2) is not installed; tools/deps.sh installs it")));
    }

    void theKernelKeepsTheBacklogAskedFor()
    {
        const auto fd = openListeningSocket(QHostAddress::LocalHost, 0, 77);
        QVERIFY2(fd.ok(), qPrintable(fd.ok() ? QString() : fd.error().message));
        const quint16 port = localPort(*fd);
        QVERIFY(port != 0);
        QCOMPARE(kernelBacklog(port), 77);
        // It listens: a client gets in.
        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(client.waitForConnected(10000));
        ::close(*fd);
    }

    void refusesWhatCannotBeBound()
    {
        const auto first = openListeningSocket(QHostAddress::LocalHost, 0, 8);
        QVERIFY(first.ok());
        const quint16 port = localPort(*first);
        const auto second = openListeningSocket(QHostAddress::LocalHost, port, 8);
        QVERIFY(!second.ok());
        QVERIFY2(second.error().message.contains(QStringLiteral("bind")),
                 qPrintable(second.error().message));
        ::close(*first);

        const auto none = openListeningSocket(QHostAddress(), 0, 8);
        QVERIFY(!none.ok());
        QCOMPARE(none.error().code, kith::v1::INVALID_ARGUMENT);
    }

    void anyIsDualStack()
    {
        const auto fd = openListeningSocket(QHostAddress::Any, 0, 16);
        QVERIFY2(fd.ok(), qPrintable(fd.ok() ? QString() : fd.error().message));
        const quint16 port = localPort(*fd);
        QTcpSocket v4;
        v4.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(v4.waitForConnected(10000));
        QTcpSocket v6;
        v6.connectToHost(QHostAddress::LocalHostIPv6, port);
        if (!v6.waitForConnected(10000) && v6.error() != QAbstractSocket::ConnectionRefusedError) {
            ::close(*fd);
            QSKIP("no IPv6 loopback here");
        }
        QCOMPARE(v6.state(), QAbstractSocket::ConnectedState);
        ::close(*fd);
    }

    // The gateway's socket, ws:// and wss:// alike, gets the backlog from its
    // options, and the system's maximum when none is given.
    void gatewayListensWithItsBacklog_data()
    {
        QTest::addColumn<bool>("secure");
        QTest::addColumn<int>("asked");
        QTest::newRow("ws, asked") << false << 300;
        QTest::newRow("ws, default") << false << 0;
        QTest::newRow("wss, asked") << true << 300;
        QTest::newRow("wss, default") << true << 0;
    }

    void gatewayListensWithItsBacklog()
    {
        QFETCH(bool, secure);
        QFETCH(int, asked);
        if (secure && !QSslSocket::supportsSsl())
            QSKIP(qPrintable(skipMessage("no TLS backend")));
        test::ServiceFixture fixture;
        QVERIFY(fixture.opened);
        BulkLane bulk;
        const ServiceSet services{*fixture.auth,  *fixture.messages, *fixture.groups,
                                  *fixture.users, *fixture.files,    *fixture.router,
                                  bulk,           fixture.metrics};
        GatewayOptions options;
        options.address = QHostAddress::LocalHost;
        options.port = 0;
        options.listenBacklog = asked;
        QTemporaryDir dir;
        if (secure) {
            const QString cert = dir.filePath(QStringLiteral("cert.pem"));
            const QString key = dir.filePath(QStringLiteral("key.pem"));
            QProcess openssl;
            openssl.start(QStringLiteral("openssl"),
                          {QStringLiteral("req"), QStringLiteral("-x509"),
                           QStringLiteral("-newkey"), QStringLiteral("ec"),
                           QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:P-256"),
                           QStringLiteral("-nodes"), QStringLiteral("-subj"),
                           QStringLiteral("/CN=localhost"), QStringLiteral("-days"),
                           QStringLiteral("1"), QStringLiteral("-keyout"), key,
                           QStringLiteral("-out"), cert});
            if (!openssl.waitForFinished(30000) || openssl.exitCode() != 0)
                QSKIP(qPrintable(skipMessage("openssl cannot make a certificate here")));
            options.certFile = cert;
            options.keyFile = key;
        }
        Gateway gateway(services, options);
        const kith::Status listening = gateway.listen();
        QVERIFY2(listening.ok(),
                 qPrintable(listening.ok() ? QString() : listening.error().message));
        const int expected = asked > 0 ? asked : systemListenBacklog();
        QCOMPARE(gateway.listenBacklog(), expected);
        QCOMPARE(kernelBacklog(gateway.port()), expected);
    }

    void countersComeFromTheTcpExtLines()
    {
        const QByteArray text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPTimeouts\n"
                                "TcpExt: 0 86 212 5\n"
                                "IpExt: InNoRoutes ListenOverflows\n"
                                "IpExt: 1 999\n";
        const ListenQueueCounters counters = parseListenQueueCounters(text);
        QVERIFY(counters.known);
        QCOMPARE(counters.overflows, 86u);
        QCOMPARE(counters.drops, 212u);

        QVERIFY(!parseListenQueueCounters("IpExt: ListenOverflows\nIpExt: 3\n").known);
        QVERIFY(
            !parseListenQueueCounters("TcpExt: ListenOverflows ListenDrops\nTcpExt: 1\n").known);
        QVERIFY(!parseListenQueueCounters("TcpExt: SyncookiesSent\nTcpExt: 4\n").known);
        // This host has them (Linux).
        QVERIFY(readListenQueueCounters().known);
    }
};

QTEST_GUILESS_MAIN(TestListenSocket)
#include "tst_listen_socket.moc"
