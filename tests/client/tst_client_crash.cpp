// A client killed in the middle of a large sync (kith-cli sync, SIGKILL)
// leaves a store that is intact — every seq range it claims is on disk — and
// a restarted sync ends equal to the server's history.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/local_store.h"
#include "kith/protocol.h"

#include <QProcess>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {
// SQLite's own check of the file, on a connection of the test's own.
QString integrityCheck(const QString &path)
{
    QString result;
    {
        QSqlDatabase db =
            QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("integrity"));
        db.setDatabaseName(path);
        if (db.open()) {
            QSqlQuery query(db);
            if (query.exec(QStringLiteral("PRAGMA integrity_check")) && query.next())
                result = query.value(0).toString();
        }
    }
    QSqlDatabase::removeDatabase(QStringLiteral("integrity"));
    return result;
}

// Every range the store claims holds exactly its messages.
bool rangesAreBacked(LocalStore &store, const QStringList &conversations, qint64 *total,
                     QString *why)
{
    *total = 0;
    for (const auto &id : conversations) {
        *total += store.messageCount(id);
        for (const auto &range : store.heldRanges(id)) {
            const auto stored =
                store.messagesAfter(id, range.first - 1, int(range.last - range.first + 1));
            if (stored.size() != qsizetype(range.last - range.first + 1) ||
                stored.last().seq != range.last) {
                *why = QStringLiteral("%1 claims %2-%3 but holds %4 of them")
                           .arg(id)
                           .arg(range.first)
                           .arg(range.last)
                           .arg(stored.size());
                return false;
            }
        }
    }
    return true;
}
} // namespace

class TestClientCrash : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void killedMidSyncConverges()
    {
        TestServer server(kFastSendArgs);
        QVERIFY(server.start());
        QTemporaryDir home;
        const QStringList serverArgs{QStringLiteral("--server"), server.url().toString()};
        QCOMPARE(runCli(home.path(), serverArgs + QStringList{QStringLiteral("register"),
                                                              QStringLiteral("alice"), kPassword}),
                 0);
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const quint64 aliceId = userIdOf(bob, QStringLiteral("alice"));
        QVERIFY(aliceId != 0);

        // 3,000 messages in 5 groups: 15 pages of 200 to pull.
        QStringList groups;
        for (int g = 0; g < 5; ++g) {
            const auto id = createGroup(bob, QStringLiteral("big %1").arg(g), {aliceId});
            QVERIFY(id);
            groups << *id;
        }
        QList<QPair<QString, QString>> messages;
        for (int i = 0; i < 600; ++i)
            for (const auto &g : groups)
                messages << qMakePair(g, QStringLiteral("bulk %1 %2").arg(g).arg(i));
        QVERIFY(sendMany(bob, messages));

        const QString storePath = LocalStore::defaultPath(
            server.url(), QStringLiteral("alice"), home.filePath(QStringLiteral("kith/kith-cli")));
        qint64 previous = -1;
        bool killedMidway = false;
        for (int attempt = 0; attempt < 3; ++attempt) {
            QProcess sync;
            QProcessEnvironment env = cliEnvironment(home.path());
            env.insert(QStringLiteral("QT_LOGGING_RULES"),
                       QStringLiteral("kith.client.sync.debug=true"));
            sync.setProcessEnvironment(env);
            sync.start(cliPath(), serverArgs + QStringList{QStringLiteral("sync")});
            QVERIFY(sync.waitForStarted());
            // Kill it once a few pages are on the wire.
            QByteArray log;
            QVERIFY(TestClient::waitUntil(
                [&] {
                    log += sync.readAllStandardError();
                    return log.count("pull ") >= 3 || sync.state() == QProcess::NotRunning;
                },
                kClientTimeoutMs));
            const bool wasRunning = sync.state() != QProcess::NotRunning;
            sync.kill();
            sync.waitForFinished();

            QCOMPARE(integrityCheck(storePath), QStringLiteral("ok"));
            LocalStore store;
            QVERIFY(store.open(storePath));
            qint64 total = 0;
            QString why;
            QVERIFY2(rangesAreBacked(store, groups, &total, &why), qPrintable(why));
            QVERIFY(total >= previous); // progress is kept across kills
            if (wasRunning && total < 3000 + 5)
                killedMidway = true;
            previous = total;
        }
        QVERIFY2(killedMidway, "the sync finished before it could be killed");

        QByteArray out;
        QCOMPARE(runCli(home.path(), serverArgs + QStringList{QStringLiteral("sync")}, &out), 0);
        QVERIFY(out.startsWith("synced 5 conversations, 3005 messages"));
        ClientDevice check(home.filePath(QStringLiteral("kith/kith-cli")), storePath);
        QVERIFY(check->openAccount(server.url(), QStringLiteral("alice")));
        for (const auto &g : groups) {
            QString why;
            QVERIFY2(historyMatchesServer(check->store(), bob, g, &why), qPrintable(why));
        }
    }
};

QTEST_GUILESS_MAIN(TestClientCrash)
#include "tst_client_crash.moc"
