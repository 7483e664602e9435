// kithd on PostgreSQL end to end: accounts made by `kithd user` against the
// database, kith-cli users chatting through kithd, a second kithd on the same
// database, a restart, and an account the admin disables cut off at once on
// every node, told by the database (no node polls for it on PostgreSQL).
#include "client_fixture.h"
#include "kith/conversation_id.h"
#include "test_postgres.h"
#include "test_server.h"

#include <QDir>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::test;

class TestClientPostgres : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestPostgres> m_postgres;
    QString m_url;
    std::unique_ptr<TestServer> m_node1;
    std::unique_ptr<TestServer> m_node2;
    QTemporaryDir m_dir;
    QString m_alice;
    QString m_bob;
    int m_lastCode = 0;

    QStringList storeArgs() const { return {QStringLiteral("--store"), m_url}; }

    // kith-cli for one user against one node; fails the test on a non-zero exit.
    QStringList run(TestServer &node, const QString &home, const QStringList &args)
    {
        QByteArray out;
        QByteArray err;
        m_lastCode =
            runCli(home, QStringList{QStringLiteral("--server"), node.url().toString()} + args,
                   &out, &err);
        if (m_lastCode != 0)
            qWarning() << "kith-cli" << args << "exited" << m_lastCode << err;
        return QString::fromUtf8(out).split(u'\n', Qt::SkipEmptyParts);
    }

    int admin(const QStringList &args, QByteArray *output = nullptr, const QByteArray &input = {})
    {
        return m_node1->runAdmin(QStringList{QStringLiteral("user")} + args + storeArgs(), output,
                                 input);
    }

private slots:
    void initTestCase()
    {
        KITH_REQUIRE_POSTGRES();
        QStandardPaths::setTestModeEnabled(true);
        m_postgres = std::make_unique<TestPostgres>();
        QVERIFY2(m_postgres->start(), m_postgres->log().right(3000).constData());
        QVERIFY(m_postgres->createDatabase(QStringLiteral("kith")));
        m_url = m_postgres->url(QStringLiteral("kith"));
        m_node1 = std::make_unique<TestServer>(storeArgs());
        QVERIFY(m_node1->start());
        m_alice = m_dir.filePath(QStringLiteral("alice"));
        m_bob = m_dir.filePath(QStringLiteral("bob"));
    }

    void adminCommandsWriteTheDatabase()
    {
        QCOMPARE(admin({QStringLiteral("add"), QStringLiteral("alice"),
                        QStringLiteral("--password"), kPassword}),
                 0);
        QCOMPARE(admin({QStringLiteral("add"), QStringLiteral("bob")}, nullptr,
                       kPassword.toUtf8() + '\n'),
                 0);
        QVERIFY(admin({QStringLiteral("add"), QStringLiteral("bob"), QStringLiteral("--password"),
                       kPassword}) != 0);
        QByteArray listed;
        QCOMPARE(admin({QStringLiteral("list")}, &listed), 0);
        QVERIFY2(listed.contains(" alice ") && listed.contains(" bob "), listed.constData());
        QCOMPARE(m_postgres->psql(QStringLiteral("kith"),
                                  QStringLiteral("SELECT string_agg(username, ',' ORDER BY id)"
                                                 " FROM users")),
                 QByteArray("alice,bob"));
        // Nothing went to a SQLite file in the data folder.
        QVERIFY(QDir(m_node1->dataDir()).entryList({QStringLiteral("*.sqlite3")}).isEmpty());

        // A database that is not there: one line, and a failure.
        QByteArray out;
        const int code = m_node1->runAdmin({QStringLiteral("user"), QStringLiteral("list"),
                                            QStringLiteral("--store"),
                                            m_postgres->url(QStringLiteral("missing"))},
                                           &out);
        QVERIFY(code > 0);
        QVERIFY2(m_node1->stderrLog().contains("cannot open the store postgresql://"),
                 m_node1->stderrLog().right(500).constData());
    }

    void usersChatThroughKithd()
    {
        run(*m_node1, m_alice,
            {QStringLiteral("--user"), QStringLiteral("alice"), QStringLiteral("--password"),
             kPassword, QStringLiteral("send"), QStringLiteral("bob"),
             QStringLiteral("hello bob")});
        QCOMPARE(m_lastCode, 0);
        const QStringList lines =
            run(*m_node1, m_bob,
                {QStringLiteral("--user"), QStringLiteral("bob"), QStringLiteral("--password"),
                 kPassword, QStringLiteral("history"), QStringLiteral("alice")});
        QCOMPARE(m_lastCode, 0);
        QCOMPARE(lines.size(), 1);
        QVERIFY2(lines.first().endsWith(QStringLiteral("alice: hello bob")),
                 qPrintable(lines.first()));
    }

    // Two kithd on one database: what one stores, the other serves, and the
    // seqs of a conversation written through both stay 1, 2, 3.
    void aSecondNodeSharesTheDatabase()
    {
        m_node2 = std::make_unique<TestServer>(storeArgs());
        QVERIFY(m_node2->start());
        // kith-cli keeps a session per server address: a first login there.
        run(*m_node2, m_bob,
            {QStringLiteral("--user"), QStringLiteral("bob"), QStringLiteral("--password"),
             kPassword, QStringLiteral("send"), QStringLiteral("alice"),
             QStringLiteral("from node two")});
        QCOMPARE(m_lastCode, 0);
        run(*m_node1, m_alice,
            {QStringLiteral("send"), QStringLiteral("bob"), QStringLiteral("back on node one")});
        QCOMPARE(m_lastCode, 0);
        const QStringList expected{QStringLiteral("alice: hello bob"),
                                   QStringLiteral("bob: from node two"),
                                   QStringLiteral("alice: back on node one")};
        for (TestServer *node : {m_node1.get(), m_node2.get()}) {
            const QStringList lines = run(*node, m_alice,
                                          {QStringLiteral("--user"), QStringLiteral("alice"),
                                           QStringLiteral("--password"), kPassword,
                                           QStringLiteral("history"), QStringLiteral("bob")});
            QCOMPARE(m_lastCode, 0);
            QCOMPARE(lines.size(), expected.size());
            for (int i = 0; i < lines.size(); ++i)
                QVERIFY2(lines.at(i).endsWith(expected.at(i)), qPrintable(lines.at(i)));
        }
        QCOMPARE(m_postgres->psql(QStringLiteral("kith"),
                                  QStringLiteral("SELECT string_agg(seq::text, ',' ORDER BY seq)"
                                                 " FROM messages")),
                 QByteArray("1,2,3"));
    }

    void historySurvivesARestartOfKithd()
    {
        QVERIFY(m_node1->restart());
        // Bob's device token, kept in the database, is still good.
        const QStringList lines = run(*m_node1, m_bob,
                                      {QStringLiteral("--user"), QStringLiteral("bob"),
                                       QStringLiteral("history"), QStringLiteral("alice")});
        QCOMPARE(m_lastCode, 0);
        QCOMPARE(lines.size(), 3);
    }

    // While PostgreSQL is down, sends and reads fail with UNAVAILABLE and a
    // retry hint (not INTERNAL); the same send again once it is back is
    // stored once.
    void sendsWhileTheDatabaseIsDown()
    {
        TestClient alice;
        QVERIFY(alice.connectAndLogin(m_node1->url(), QStringLiteral("alice"), kPassword));
        const QString chat =
            directConversationId(alice.userId(), userIdOf(alice, QStringLiteral("bob")));
        QVERIFY(m_postgres->stop());
        const QString clientId = newClientMsgId();
        const auto refused = alice.send(chat, QStringLiteral("while down"), clientId);
        QVERIFY2(refused && refused->has_error(), refused ? refused->DebugString().c_str() : "");
        QCOMPARE(refused->error().code(), v1::UNAVAILABLE);
        QVERIFY(refused->error().retry_after_ms() > 0);
        const auto pulled = alice.request(TestClient::pullRequest(chat, 1, 10));
        QVERIFY2(pulled && pulled->has_error(), pulled ? pulled->DebugString().c_str() : "");
        QCOMPARE(pulled->error().code(), v1::UNAVAILABLE);
        QVERIFY(alice.isConnected());

        QVERIFY(m_postgres->start());
        const auto stored = alice.send(chat, QStringLiteral("while down"), clientId);
        QVERIFY2(stored && stored->has_send_ack(), stored ? stored->DebugString().c_str() : "");
        QVERIFY(!stored->send_ack().duplicate());
        const auto again = alice.send(chat, QStringLiteral("while down"), clientId);
        QVERIFY(again && again->has_send_ack() && again->send_ack().duplicate());
        QCOMPARE(again->send_ack().seq(), stored->send_ack().seq());
        // (Client ids are UUIDs: nothing to quote.)
        QCOMPARE(
            m_postgres->psql(QStringLiteral("kith"), QStringLiteral("SELECT COUNT(*) FROM messages"
                                                                    " WHERE client_msg_id = '%1'")
                                                         .arg(clientId)),
            QByteArray("1"));
    }

    // `kithd user disable` is another process; every node holding the
    // user's connections hears of it from PostgreSQL and closes them.
    void disablingClosesSessionsOnEveryNode()
    {
        QVERIFY(m_node2);
        TestClient onNode1;
        QVERIFY(onNode1.connectAndLogin(m_node1->url(), QStringLiteral("bob"), kPassword));
        TestClient onNode2;
        QVERIFY(onNode2.connectAndLogin(m_node2->url(), QStringLiteral("bob"), kPassword));
        TestClient bystander;
        QVERIFY(bystander.connectAndLogin(m_node2->url(), QStringLiteral("alice"), kPassword));

        QCOMPARE(admin({QStringLiteral("disable"), QStringLiteral("bob")}), 0);
        for (TestClient *client : {&onNode1, &onNode2}) {
            const auto closing = client->waitForPush(
                [](const v1::Envelope &e) { return e.has_error(); }, kClientTimeoutMs);
            QVERIFY2(closing && closing->error().code() == v1::ACCOUNT_DISABLED,
                     closing ? closing->DebugString().c_str() : "no error pushed");
            QVERIFY(client->waitForDisconnected());
        }
        QVERIFY(bystander.isConnected());
        const quint64 next =
            m_postgres
                ->psql(QStringLiteral("kith"), QStringLiteral("SELECT MAX(seq) FROM messages"))
                .toULongLong() +
            1;
        const auto answer =
            bystander.send(directConversationId(bystander.userId(), onNode1.userId()),
                           QStringLiteral("still here"), newClientMsgId());
        QVERIFY(answer && answer->has_send_ack());
        QCOMPARE(answer->send_ack().seq(), next);
    }
};

QTEST_GUILESS_MAIN(TestClientPostgres)
#include "tst_client_postgres.moc"
