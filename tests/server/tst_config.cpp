// kithd's command line and config file: defaults, the INI file, flags over the
// file, and refusals of values that would weaken the server.

#include "config.h"
#include "redis_address.h"

#include <QTemporaryDir>
#include <QTest>

using namespace kith::server;

class TestConfig : public QObject
{
    Q_OBJECT

    static QStringList argv(QStringList args)
    {
        args.prepend(QStringLiteral("kithd"));
        return args;
    }

private slots:
    void defaults()
    {
        const auto parsed = parseCommandLine(argv({}));
        QVERIFY(parsed.ok());
        const Config &config = parsed->config;
        QCOMPARE(config.port, 7400);
        QCOMPARE(config.adminPort, 7401);
        QCOMPARE(config.listenAddress, QHostAddress(QHostAddress::AnyIPv4));
        QCOMPARE(config.dataDir, QStringLiteral("kith-data"));
        QVERIFY(config.registrationOpen);
        QCOMPARE(config.registrationsPerHour, 30);
        QCOMPARE(config.authTimeoutMs, 10000);
        QCOMPARE(config.idleTimeoutMs, 90000);
        QCOMPARE(config.sendRate, 100.0);
        QCOMPARE(config.sendBurst, 500.0);
        QCOMPARE(config.argon2.memoryKib, 19456u);
        QCOMPARE(config.argon2.ops, 2u);
        QVERIFY(config.certFile.isEmpty());
        // The system's maximum backlog unless told otherwise.
        QCOMPARE(config.listenBacklog, 0);
        // wss:// with kithd's own certificate unless plain ws:// is asked for.
        QVERIFY(!config.plain);
        QVERIFY(!config.insecurePlain);
        QVERIFY(config.announce);
        QVERIFY(config.serverName.isEmpty());
        // SQLite in the data folder unless --store names a database.
        QVERIFY(config.store.isEmpty());
        QCOMPARE(config.storeLocation(), config.databasePath());
    }

    void storeUrl()
    {
        const QString url = QStringLiteral("postgresql://kith:secret@db.example:5432/kith");
        const auto parsed =
            parseCommandLine(argv({QStringLiteral("--store"), url,
                                   QStringLiteral("--store-connections"), QStringLiteral("4")}));
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        QCOMPARE(parsed->config.store, url);
        QCOMPARE(parsed->config.storeLocation(), url);
        QCOMPARE(parsed->config.storeConnections, 4);
        // A refusal does not repeat the password.
        const auto refused = parseCommandLine(
            argv({QStringLiteral("--store"), QStringLiteral("mysql://u:pw@h/db")}));
        QVERIFY(!refused.ok());
        QVERIFY(!refused.error().message.contains(QStringLiteral("pw@")));
    }

    void busUrlAndNode()
    {
        const QString store = QStringLiteral("postgresql://kith@db.example/kith");
        const auto parsed = parseCommandLine(
            argv({QStringLiteral("--store"), store, QStringLiteral("--bus"),
                  QStringLiteral("redis://:secret@bus.example:6380/2"), QStringLiteral("--node-id"),
                  QStringLiteral("7"), QStringLiteral("--node-ttl-ms"), QStringLiteral("5000")}));
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        QCOMPARE(parsed->config.bus, QStringLiteral("redis://:secret@bus.example:6380/2"));
        QCOMPARE(parsed->config.nodeId, 7u);
        QCOMPARE(parsed->config.nodeTtlMs, 5000);
        const auto address = cluster::parseRedisUrl(parsed->config.bus);
        QVERIFY(address.ok());
        QCOMPARE(address->host, QStringLiteral("bus.example"));
        QCOMPARE(address->port, 6380);
        QCOMPARE(address->database, 2);
        QCOMPARE(address->password, QByteArrayLiteral("secret"));
        QCOMPARE(address->describe(), QStringLiteral("redis://bus.example:6380/2"));
        QCOMPARE(cluster::parseRedisUrl(QStringLiteral("redis://127.0.0.1"))->port, 6379);
        // Defaults: one node.
        const auto alone = parseCommandLine(argv({}));
        QVERIFY(alone->config.bus.isEmpty());
        QCOMPARE(alone->config.nodeId, 0u);
        // Nodes on a bus share one database: not a SQLite file of their own.
        const auto sqlite = parseCommandLine(
            argv({QStringLiteral("--bus"), QStringLiteral("redis://127.0.0.1:6379")}));
        QVERIFY(!sqlite.ok());
        QVERIFY2(sqlite.error().message.contains(QStringLiteral("--store postgresql")),
                 qPrintable(sqlite.error().message));
        // A refusal does not repeat the password.
        const auto refused =
            parseCommandLine(argv({QStringLiteral("--store"), store, QStringLiteral("--bus"),
                                   QStringLiteral("rediss://:secret@h:1")}));
        QVERIFY(!refused.ok());
        QVERIFY(!refused.error().message.contains(QStringLiteral("secret")));
    }

    void helpListsEveryOption()
    {
        const auto parsed = parseCommandLine(argv({QStringLiteral("--help")}));
        QVERIFY(parsed.ok());
        for (const char *option : {"--port",
                                   "--listen",
                                   "--admin-port",
                                   "--data",
                                   "--config",
                                   "--registration",
                                   "--cert",
                                   "--key",
                                   "--auth-timeout-ms",
                                   "--idle-timeout-ms",
                                   "--send-rate",
                                   "--send-burst",
                                   "--argon2-memory-kib",
                                   "--argon2-ops",
                                   "--log-rules",
                                   "--registrations-per-hour",
                                   "--store",
                                   "--store-connections",
                                   "--listen-backlog",
                                   "--plain",
                                   "--insecure-plain",
                                   "--no-announce",
                                   "--name",
                                   "--bus",
                                   "--node-id",
                                   "--node-ttl-ms",
                                   "kithd user add"})
            QVERIFY2(parsed->printAndExit.contains(QLatin1String(option)), option);
    }

    // Plain ws:// stays on the machine unless the admin says in so many words
    // that it may cross the network.
    void plainOnLoopbackOnly()
    {
        for (const char *address : {"127.0.0.1", "::1"}) {
            const auto parsed =
                parseCommandLine(argv({QStringLiteral("--plain"), QStringLiteral("--listen"),
                                       QString::fromLatin1(address)}));
            QVERIFY2(parsed.ok(), address);
            QVERIFY(parsed->config.plain);
        }
        for (const char *address : {"0.0.0.0", "192.168.1.10", "::"}) {
            const auto refused =
                parseCommandLine(argv({QStringLiteral("--plain"), QStringLiteral("--listen"),
                                       QString::fromLatin1(address)}));
            QVERIFY2(!refused.ok(), address);
            QVERIFY2(refused.error().message.contains(QLatin1String("--insecure-plain")),
                     qPrintable(refused.error().message));
        }
        // The default address is every interface: --plain alone is refused.
        QVERIFY(!parseCommandLine(argv({QStringLiteral("--plain")})).ok());
        const auto insecure =
            parseCommandLine(argv({QStringLiteral("--insecure-plain"), QStringLiteral("--listen"),
                                   QStringLiteral("192.168.1.10")}));
        QVERIFY(insecure.ok());
        QVERIFY(insecure->config.plain);
        QVERIFY(insecure->config.insecurePlain);
        // Plain and a certificate contradict each other.
        QVERIFY(!parseCommandLine(argv({QStringLiteral("--plain"), QStringLiteral("--listen"),
                                        QStringLiteral("127.0.0.1"), QStringLiteral("--cert"),
                                        QStringLiteral("/c.pem"), QStringLiteral("--key"),
                                        QStringLiteral("/k.pem")}))
                     .ok());
    }

    void announceOptions()
    {
        const auto parsed =
            parseCommandLine(argv({QStringLiteral("--no-announce"), QStringLiteral("--name"),
                                   QStringLiteral("Office chat")}));
        QVERIFY(parsed.ok());
        QVERIFY(!parsed->config.announce);
        QCOMPARE(parsed->config.serverName, QStringLiteral("Office chat"));
        QVERIFY(!parseCommandLine(argv({QStringLiteral("--name"), QString(64, QLatin1Char('x'))}))
                     .ok());
    }

    void plainFromFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("kithd.ini"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("listen=127.0.0.1\nplain=true\n");
        file.close();
        const auto parsed = parseCommandLine(argv({QStringLiteral("--config"), path}));
        QVERIFY(parsed.ok());
        QVERIFY(parsed->config.plain);
        QVERIFY(!parsed->config.insecurePlain);
    }

    void fileThenFlags()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("kithd.ini"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(
            "port=7500\nregistration=closed\ndata=/srv/kith\nsend-rate=5\n"
            "registrations-per-hour=0\nlisten-backlog=2048\n"
            "log-rules=kith.session.debug=true\ncert=/etc/kith/a,b.pem\nkey=/etc/kith/key.pem\n");
        file.close();
        const auto parsed = parseCommandLine(
            argv({QStringLiteral("--config"), path, QStringLiteral("--port"), QStringLiteral("0"),
                  QStringLiteral("--listen"), QStringLiteral("127.0.0.1")}));
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        QCOMPARE(parsed->config.port, 0); // the flag wins
        QVERIFY(!parsed->config.registrationOpen);
        QCOMPARE(parsed->config.dataDir, QStringLiteral("/srv/kith"));
        QCOMPARE(parsed->config.sendRate, 5.0);
        QCOMPARE(parsed->config.registrationsPerHour, 0);
        QCOMPARE(parsed->config.listenBacklog, 2048);
        QCOMPARE(parsed->config.listenAddress, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(parsed->config.logRules, QStringLiteral("kith.session.debug=true"));
        QCOMPARE(parsed->config.certFile, QStringLiteral("/etc/kith/a,b.pem"));
    }

    void refusals_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("weak argon2 memory")
            << QStringList{QStringLiteral("--argon2-memory-kib"), QStringLiteral("8192")};
        QTest::newRow("one argon2 pass")
            << QStringList{QStringLiteral("--argon2-ops"), QStringLiteral("1")};
        QTest::newRow("port out of range")
            << QStringList{QStringLiteral("--port"), QStringLiteral("70000")};
        QTest::newRow("port not a number")
            << QStringList{QStringLiteral("--port"), QStringLiteral("http")};
        QTest::newRow("registration")
            << QStringList{QStringLiteral("--registration"), QStringLiteral("sometimes")};
        QTest::newRow("negative registrations per hour")
            << QStringList{QStringLiteral("--registrations-per-hour"), QStringLiteral("-1")};
        QTest::newRow("listen") << QStringList{QStringLiteral("--listen"),
                                               QStringLiteral("example.org")};
        QTest::newRow("cert without key")
            << QStringList{QStringLiteral("--cert"), QStringLiteral("/tmp/c.pem")};
        QTest::newRow("unknown option") << QStringList{QStringLiteral("--frobnicate")};
        QTest::newRow("missing config file")
            << QStringList{QStringLiteral("--config"), QStringLiteral("/nonexistent/kithd.ini")};
        QTest::newRow("stray argument") << QStringList{QStringLiteral("serve")};
        QTest::newRow("store not a url")
            << QStringList{QStringLiteral("--store"), QStringLiteral("/var/lib/kith/db")};
        QTest::newRow("negative listen backlog")
            << QStringList{QStringLiteral("--listen-backlog"), QStringLiteral("-1")};
        QTest::newRow("listen backlog not a number")
            << QStringList{QStringLiteral("--listen-backlog"), QStringLiteral("max")};
        QTest::newRow("no store connections")
            << QStringList{QStringLiteral("--store-connections"), QStringLiteral("0")};
        const QString pg = QStringLiteral("postgresql://kith@db/kith");
        QTest::newRow("bus not redis")
            << QStringList{QStringLiteral("--store"), pg, QStringLiteral("--bus"),
                           QStringLiteral("http://bus:6379")};
        QTest::newRow("bus without host")
            << QStringList{QStringLiteral("--store"), pg, QStringLiteral("--bus"),
                           QStringLiteral("redis://:6379")};
        QTest::newRow("bus database")
            << QStringList{QStringLiteral("--store"), pg, QStringLiteral("--bus"),
                           QStringLiteral("redis://bus/x")};
        QTest::newRow("node id 0") << QStringList{QStringLiteral("--node-id"), QStringLiteral("0")};
        QTest::newRow("node id past 31 bits")
            << QStringList{QStringLiteral("--node-id"), QStringLiteral("2147483648")};
        QTest::newRow("node ttl too short")
            << QStringList{QStringLiteral("--node-ttl-ms"), QStringLiteral("999")};
    }

    void refusals()
    {
        QFETCH(QStringList, args);
        const auto parsed = parseCommandLine(argv(args));
        QVERIFY(!parsed.ok());
        QVERIFY(!parsed.error().message.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"
