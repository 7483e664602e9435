// Bad input from one connection — garbage, truncated, oversized, text and
// unknown frames, a send flood — gets its error (and a close where the protocol
// says so), while a healthy pair of users keeps chatting through all of it.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QTest>
#include <QWebSocketProtocol>

#include <algorithm>
#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

// A low limit so a flood is short: a burst of 50 sends, then one per 100 s
// (the lowest rate kithd takes), so no send is let through by a refill
// while the test runs and the counts below are exact.
constexpr int kSendBurst = 50;
// The burst and a few past it: after each refusal the server reads nothing
// more of the connection for up to a second (until the wait it told), so each
// send past the burst costs the test that long.
constexpr int kFloodSends = kSendBurst + 4;
constexpr quint32 kRefillMs = 100 * 1000;

const QString kPassword = QStringLiteral("password123");

bool isError(const std::optional<v1::Envelope> &e, v1::ErrorCode code)
{
    return e && e->has_error() && e->error().code() == code;
}

} // namespace

class TestBadInput : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void cleanup();

    void garbageBytes();
    void truncatedFrame();
    void oversizedFrame_data();
    void oversizedFrame();
    void textFrame();
    void unknownBodyType();
    void envelopeWithoutBody();
    void textOverTheContentLimit();
    void sendFlood();

private:
    // A logged-in connection of the attacking user (budgets are per user: the
    // flood has a user of its own so the other tests' sends do not count).
    std::unique_ptr<TestClient> attacker(const QString &name = QStringLiteral("mallory"));
    // Waits for the error a bad frame earns and the close after it, with the
    // close code docs/protocol.md gives for that error.
    void expectErrorAndClose(TestClient &client, v1::ErrorCode code, quint32 requestId,
                             QWebSocketProtocol::CloseCode closeCode);

    TestServer m_server{{QStringLiteral("--send-rate"), QStringLiteral("0.01"),
                         QStringLiteral("--send-burst"), QString::number(kSendBurst)}};
    std::unique_ptr<TestClient> m_alice, m_bob;
    QString m_conversation;
    QString m_concurrentId;
    quint32 m_concurrentRequest = 0;
};

void TestBadInput::initTestCase()
{
    QVERIFY(m_server.start());
    m_alice = std::make_unique<TestClient>();
    m_bob = std::make_unique<TestClient>();
    QVERIFY(m_alice->connectAndRegister(m_server.url(), QStringLiteral("alice")));
    QVERIFY(m_bob->connectAndRegister(m_server.url(), QStringLiteral("bob")));
    TestClient mallory;
    QVERIFY(mallory.connectAndRegister(m_server.url(), QStringLiteral("mallory")));
    TestClient flooder;
    QVERIFY(flooder.connectAndRegister(m_server.url(), QStringLiteral("flooder")));
    m_conversation = directConversationId(m_alice->userId(), m_bob->userId());
}

void TestBadInput::init()
{
    // A healthy send in flight while the attack arrives.
    m_concurrentId = newClientMsgId();
    m_concurrentRequest = m_alice->post(
        TestClient::sendRequest(m_conversation, QStringLiteral("during"), m_concurrentId));
}

void TestBadInput::cleanup()
{
    // The healthy pair is unaffected: the concurrent send was acked and pushed,
    // and a fresh round trip in each direction works.
    const auto during = m_alice->waitForAnswer(m_concurrentRequest);
    QVERIFY2(during && during->has_send_ack(), describe(during).constData());
    QVERIFY(m_bob->waitForPush([&](const v1::Envelope &e) {
        return e.has_message() &&
               toQString(e.message().message().client_msg_id()) == m_concurrentId;
    }));
    for (auto [from, to] :
         {std::pair{m_alice.get(), m_bob.get()}, std::pair{m_bob.get(), m_alice.get()}}) {
        const QString id = newClientMsgId();
        const auto ack = from->send(m_conversation, QStringLiteral("after"), id);
        QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
        QVERIFY(to->waitForPush([&](const v1::Envelope &e) {
            return e.has_message() && toQString(e.message().message().client_msg_id()) == id;
        }));
    }
    QVERIFY(m_alice->isConnected());
    QVERIFY(m_bob->isConnected());
}

std::unique_ptr<TestClient> TestBadInput::attacker(const QString &name)
{
    auto client = std::make_unique<TestClient>();
    if (!client->connectAndLogin(m_server.url(), name, kPassword))
        return nullptr;
    return client;
}

void TestBadInput::expectErrorAndClose(TestClient &client, v1::ErrorCode code, quint32 requestId,
                                       QWebSocketProtocol::CloseCode closeCode)
{
    const auto error = client.waitForPush([](const v1::Envelope &e) { return e.has_error(); });
    QVERIFY2(error, "no error frame");
    QVERIFY2(error->error().code() == code, describe(error).constData());
    QCOMPARE(error->request_id(), requestId);
    QVERIFY(client.waitForDisconnected());
    QCOMPARE(client.closeCode(), int(closeCode));
}

void TestBadInput::garbageBytes()
{
    auto mallory = attacker();
    QVERIFY(mallory);
    // 0xff never ends a varint: not an Envelope however it is read.
    mallory->sendRaw(QByteArray(64, char(0xff)));
    expectErrorAndClose(*mallory, v1::BAD_FRAME, 0, QWebSocketProtocol::CloseCodeProtocolError);
}

void TestBadInput::truncatedFrame()
{
    auto mallory = attacker();
    QVERIFY(mallory);
    v1::Envelope envelope =
        TestClient::sendRequest(m_conversation, QString(100, u'x'), newClientMsgId());
    envelope.set_request_id(5);
    QByteArray bytes = encodeEnvelope(envelope);
    bytes.chop(10); // the text field now claims more bytes than follow
    mallory->sendRaw(bytes);
    expectErrorAndClose(*mallory, v1::BAD_FRAME, 0, QWebSocketProtocol::CloseCodeProtocolError);
}

// docs/protocol.md: up to 256 KiB a frame is read (here its text is too
// long: a TOO_LARGE answer, and the connection stays); past it, however far,
// TOO_LARGE with request id 0 and close 1009, refused on the frame's header.
void TestBadInput::oversizedFrame_data()
{
    QTest::addColumn<qsizetype>("bytes");
    QTest::addColumn<bool>("refusedFrame");
    QTest::addColumn<bool>("errorFrame");
    QTest::newRow("at the limit") << qsizetype(kMaxFrameBytes) << false << true;
    QTest::newRow("one byte over the limit") << qsizetype(kMaxFrameBytes + 1) << true << true;
    QTest::newRow("just under the transport's cap") << qsizetype(1024 * 1024 - 64) << true << true;
    QTest::newRow("far over the limit") << qsizetype(4 * 1024 * 1024) << true << true;
}

void TestBadInput::oversizedFrame()
{
    QFETCH(qsizetype, bytes);
    QFETCH(bool, refusedFrame);
    QFETCH(bool, errorFrame);
    auto mallory = attacker();
    QVERIFY(mallory);
    // A send whose encoded envelope is exactly `bytes` long.
    v1::Envelope envelope =
        TestClient::sendRequest(m_conversation, QStringLiteral("x"), newClientMsgId());
    envelope.set_request_id(6);
    for (int round = 0; round < 8 && qsizetype(envelope.ByteSizeLong()) != bytes; ++round) {
        const qsizetype text = qsizetype(envelope.send().content().text().body().size()) + bytes -
                               qsizetype(envelope.ByteSizeLong());
        envelope.mutable_send()->mutable_content()->mutable_text()->set_body(
            std::string(size_t(std::max<qsizetype>(text, 1)), 'x'));
    }
    QCOMPARE(qsizetype(envelope.ByteSizeLong()), bytes);
    mallory->sendEnvelope(envelope);
    if (!refusedFrame) {
        // Read and answered like any send; its text is over the content limit.
        const auto answer =
            mallory->waitForPush([](const v1::Envelope &e) { return e.request_id() == 6; });
        QVERIFY2(isError(answer, v1::TOO_LARGE), describe(answer).constData());
        QVERIFY(mallory->isConnected());
        const auto fine = mallory->send(directConversationId(mallory->userId(), m_bob->userId()),
                                        QStringLiteral("ok"), newClientMsgId());
        QVERIFY2(fine && fine->has_send_ack(), describe(fine).constData());
        return;
    }
    QVERIFY(mallory->waitForDisconnected());
    QCOMPARE(mallory->closeCode(), int(QWebSocketProtocol::CloseCodeTooMuchData));
    const auto errors =
        std::count_if(mallory->pushes().cbegin(), mallory->pushes().cend(), [](const auto &e) {
            return e.has_error() && e.error().code() == v1::TOO_LARGE && e.request_id() == 0;
        });
    QCOMPARE(errors, errorFrame ? 1 : 0);
    // The message was not stored.
    const auto history = m_bob->pullAll(m_conversation);
    QVERIFY(history);
    for (const auto &message : *history)
        QVERIFY(qsizetype(message.content().text().body().size()) < bytes);
}

void TestBadInput::textFrame()
{
    auto mallory = attacker();
    QVERIFY(mallory);
    mallory->sendText(QStringLiteral("{\"type\":\"send\"}"));
    expectErrorAndClose(*mallory, v1::BAD_FRAME, 0,
                        QWebSocketProtocol::CloseCodeDatatypeNotSupported);
}

void TestBadInput::unknownBodyType()
{
    auto mallory = attacker();
    QVERIFY(mallory);
    // request_id = 7, then field 999 (length-delimited, "abc"): a body from a
    // newer protocol this server does not know.
    mallory->sendRaw(QByteArray::fromHex("0807"
                                         "ba3e"
                                         "03616263"));
    expectErrorAndClose(*mallory, v1::UNKNOWN_TYPE, 7, QWebSocketProtocol::CloseCodeProtocolError);
}

void TestBadInput::envelopeWithoutBody()
{
    auto mallory = attacker();
    QVERIFY(mallory);
    mallory->sendRaw(QByteArray::fromHex("0809")); // request_id = 9 and nothing else
    expectErrorAndClose(*mallory, v1::UNKNOWN_TYPE, 9, QWebSocketProtocol::CloseCodeProtocolError);
}

void TestBadInput::textOverTheContentLimit()
{
    auto mallory = attacker();
    QVERIFY(mallory);
    const QString conversation = directConversationId(mallory->userId(), m_bob->userId());
    const auto answer =
        mallory->send(conversation, QString(kMaxTextBytes + 1, u'x'), newClientMsgId());
    QVERIFY2(isError(answer, v1::TOO_LARGE), describe(answer).constData());
    // A content error is an answer, not a protocol violation: the connection stays.
    QVERIFY(mallory->isConnected());
    const auto fine = mallory->send(conversation, QStringLiteral("short"), newClientMsgId());
    QVERIFY2(fine && fine->has_send_ack(), describe(fine).constData());
}

void TestBadInput::sendFlood()
{
    auto mallory = attacker(QStringLiteral("flooder"));
    QVERIFY(mallory);
    const QString conversation = directConversationId(mallory->userId(), m_bob->userId());
    QList<quint32> requests;
    for (int i = 0; i < kFloodSends; ++i) {
        requests.append(mallory->post(TestClient::sendRequest(
            conversation, QStringLiteral("flood %1").arg(i), newClientMsgId())));
    }
    // The burst is answered with acks, in order; every send after it is
    // refused with a hint (one at a time: each refusal holds the connection's
    // reading), and the connection stays.
    for (int i = 0; i < kFloodSends; ++i) {
        const auto answer = mallory->waitForAnswer(requests.at(i));
        QVERIFY2(answer, qPrintable(QStringLiteral("flooded send %1 got no answer").arg(i)));
        if (i < kSendBurst) {
            QVERIFY2(answer->has_send_ack(),
                     qPrintable(QStringLiteral("send %1 of the burst: ").arg(i) +
                                QString::fromUtf8(describe(answer))));
            continue;
        }
        QVERIFY2(isError(answer, v1::RATE_LIMITED),
                 qPrintable(QStringLiteral("send %1 past the burst: ").arg(i) +
                            QString::fromUtf8(describe(answer))));
        QVERIFY(answer->error().retry_after_ms() > 0);
        QVERIFY(answer->error().retry_after_ms() <= kRefillMs);
    }
    QVERIFY(mallory->isConnected());
    const auto history = m_bob->pullAll(conversation);
    QVERIFY(history);
    const auto flooded = std::count_if(history->cbegin(), history->cend(), [](const auto &m) {
        return m.content().text().body().starts_with("flood ");
    });
    QCOMPARE(flooded, kSendBurst);

    // The budget is the user's: another connection of the same user is
    // refused too, while another user sends as before.
    auto second = attacker(QStringLiteral("flooder"));
    QVERIFY(second);
    const auto other = second->send(conversation, QStringLiteral("calm now"), newClientMsgId());
    QVERIFY2(isError(other, v1::RATE_LIMITED), describe(other).constData());
    const auto bystander =
        m_bob->send(conversation, QStringLiteral("not limited"), newClientMsgId());
    QVERIFY2(bystander && bystander->has_send_ack(), describe(bystander).constData());
}

QTEST_GUILESS_MAIN(TestBadInput)
#include "tst_bad_input.moc"
