// kithd at its connection limit: a new connection is answered "server full"
// and closed, with a log line; the sessions it already holds go on chatting
// and reading history; a freed place is taken again. The limit is
// --max-connections or, by default, what the open-file limit leaves after the
// descriptors kithd keeps for its database and threads.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QRegularExpression>
#include <QTest>

#include <memory>
#include <vector>

using namespace kith;
using namespace kith::test;

namespace {

// A refused connection is answered at once; this only bounds a broken server.
constexpr int kRefusedWithinMs = 5000;

// alice sends one message to bob and bob gets its push.
bool chatStillWorks(TestClient &alice, TestClient &bob, const QString &text)
{
    const QString conversation = directConversationId(alice.userId(), bob.userId());
    const QString id = newClientMsgId();
    const auto ack = alice.send(conversation, text, id);
    if (!ack || !ack->has_send_ack()) {
        qWarning("no ack: %s", describe(ack).constData());
        return false;
    }
    const auto push = bob.waitForPush([&](const v1::Envelope &e) {
        return e.has_message() && toQString(e.message().message().client_msg_id()) == id;
    });
    return push.has_value();
}

bool logSays(const TestServer &server, const char *text)
{
    return TestClient::waitUntil([&] { return server.stderrLog().contains(text); });
}

} // namespace

class TestConnectionLimit : public QObject
{
    Q_OBJECT

private slots:
    void newConnectionsAreTurnedAwayAtTheLimit();
    void theDefaultLimitLeavesFilesForTheServer();
};

void TestConnectionLimit::newConnectionsAreTurnedAwayAtTheLimit()
{
    TestServer server({QStringLiteral("--max-connections"), QStringLiteral("3")});
    QVERIFY(server.start());
    QVERIFY(server.stderrLog().contains("serving up to 3 connections"));
    TestClient alice, bob;
    QVERIFY(alice.connectAndRegister(server.url(), QStringLiteral("alice")));
    QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
    auto third = std::make_unique<TestClient>();
    QVERIFY(third->connectTo(server.url()));

    TestClient fourth;
    QVERIFY(!fourth.connectTo(server.url(), kRefusedWithinMs));
    QVERIFY(logSays(server, "connection limit reached (3 open, limit 3)"));
    QVERIFY(chatStillWorks(alice, bob, QStringLiteral("still here")));

    // The third one leaves: its place is free again.
    third->close();
    QVERIFY(third->waitForDisconnected());
    TestClient again;
    bool connected = false;
    for (int attempt = 0; attempt < 20 && !connected; ++attempt) {
        connected = again.connectTo(server.url(), kRefusedWithinMs);
        if (!connected)
            QTest::qWait(100);
    }
    QVERIFY(connected);
    const auto hello = again.hello();
    QVERIFY2(hello && hello->has_hello_ok(), describe(hello).constData());
    QVERIFY(server.isRunning());
}

void TestConnectionLimit::theDefaultLimitLeavesFilesForTheServer()
{
    // The crowd comes from one address and never authenticates: the limit
    // of such connections per address is lifted, so the one counted here is
    // the limit of connections in all.
    TestServer server({QStringLiteral("--max-unauthenticated-per-address"), QStringLiteral("0")});
    server.setOpenFileLimit(256);
    QVERIFY(server.start());
    const QRegularExpression said(
        QStringLiteral("serving up to (\\d+) connections \\(open-file limit 256\\)"));
    const auto match = said.match(QString::fromUtf8(server.stderrLog()));
    QVERIFY2(match.hasMatch(), server.stderrLog().constData());
    const int limit = match.captured(1).toInt();
    QVERIFY2(limit > 2 && limit < 256, qPrintable(QString::number(limit)));

    TestClient alice, bob;
    QVERIFY(alice.connectAndRegister(server.url(), QStringLiteral("alice")));
    QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
    QVERIFY(chatStillWorks(alice, bob, QStringLiteral("before the crowd")));
    std::vector<std::unique_ptr<TestClient>> crowd;
    for (int i = 2; i < limit; ++i) {
        crowd.push_back(std::make_unique<TestClient>());
        QVERIFY2(crowd.back()->connectTo(server.url()),
                 qPrintable(QStringLiteral("connection %1 of %2").arg(i + 1).arg(limit)));
    }

    TestClient extra;
    QVERIFY(!extra.connectTo(server.url(), kRefusedWithinMs));
    QVERIFY(logSays(server, "connection limit reached"));
    // With every connection in use, kithd still has the files it needs: a
    // history page is read on a thread of its own, with a database connection
    // of its own, and the chat goes on.
    QVERIFY(chatStillWorks(alice, bob, QStringLiteral("at the limit")));
    const QString conversation = directConversationId(alice.userId(), bob.userId());
    const auto history = bob.pullAll(conversation);
    QVERIFY(history.has_value());
    QCOMPARE(history->size(), 2);
    QVERIFY(server.isRunning());
}

QTEST_GUILESS_MAIN(TestConnectionLimit)
#include "tst_connection_limit.moc"
