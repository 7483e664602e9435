// The "deflate" feature against a real kithd: only a client that asks gets it;
// a history page and a sync answer then come as Compressed frames that unwrap
// to exactly what a client without the feature gets, in fewer bytes; acks and
// pushes stay plain; and a Compressed frame from a client is refused.

#include "test_client.h"
#include "test_server.h"

#include "kith/compression.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTest>

#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kHistoryMessages = 300;
constexpr int kGroups = 8;
const QString kDeflate = QString::fromLatin1(kDeflateFeature);

// Chat lines of varied length and wording, a few with non-ASCII text.
QString chatLine(QRandomGenerator &random)
{
    static const char *const kOpeners[] = {"ok so",      "honestly",    "wait,",      "btw",
                                           "lol",        "fyi",         "quick one:", "hmm",
                                           "good news:", "sorry,",      "right,",     "so yeah",
                                           "agreed,",    "no worries,", "heads up:"};
    static const char *const kSentences[] = {
        "the standup moved to 10:30 because half the team is at the dentist",
        "did anyone try the new build on the old laptop yet",
        "I pushed a fix for the login crash, can you review it when you have a minute",
        "train is delayed again, I'll be about twenty minutes late",
        "let's get pizza tonight, the place on the corner reopened",
        "the quarterly numbers look better than we expected",
        "can you send me the slides from yesterday's workshop",
        "my cat just walked over the keyboard and sent that last message",
        "the server ran out of disk space at three in the morning",
        "I'm off on Friday, back on Monday",
        "that test is flaky, it failed twice on CI and passed locally",
        "we should rename the settings page, nobody finds it",
        "grandma says the cake recipe needs more butter, not less",
        "the printer on the second floor is jammed again",
        "who took the last coffee and didn't start a new pot",
        "meeting notes are in the shared folder under March",
        "the caf\xc3\xa9 downstairs has a new menu \xe2\x98\x95",
        "happy birthday! \xf0\x9f\x8e\x82 hope you have a great day",
        "the flight to M\xc3\xbcnchen got cancelled, rebooking now",
        "can we move the retro to after lunch",
        "the deploy went through, monitoring looks calm",
        "I can't reproduce it with the steps from the ticket",
        "remember to water the plants while I'm away",
        "the client wants the logo bigger, again",
        "it's snowing here, first time this year",
        "the battery on my phone dies by noon these days"};
    static const char *const kNames[] = {"Ana", "Bilal", "Chen", "Dora", "Emeka", "Farah", "Goran"};
    QString line;
    if (random.bounded(3) == 0)
        line += QString::fromLatin1(kOpeners[random.bounded(int(std::size(kOpeners)))]) + u' ';
    const int sentences = 1 + random.bounded(3);
    for (int i = 0; i < sentences; ++i) {
        if (i)
            line += random.bounded(2) ? u". "_qs : u", and "_qs;
        line += QString::fromUtf8(kSentences[random.bounded(int(std::size(kSentences)))]);
    }
    if (random.bounded(4) == 0)
        line += QStringLiteral(" (ask %1, ticket #%2)")
                    .arg(QString::fromLatin1(kNames[random.bounded(int(std::size(kNames)))]))
                    .arg(1000 + random.bounded(9000));
    line += random.bounded(5) == 0 ? u'?' : u'.';
    return line;
}

bool isError(const std::optional<v1::Envelope> &e, v1::ErrorCode code)
{
    return e && e->has_error() && e->error().code() == code;
}

// Sends `envelope` and waits for its answer, which is returned with its size on the wire.
std::pair<std::optional<v1::Envelope>, qsizetype> requestSized(TestClient &client,
                                                               v1::Envelope envelope)
{
    const quint32 id = client.post(std::move(envelope));
    auto answer = client.waitForAnswer(id);
    return {std::move(answer), client.answerFrameBytes(id)};
}

QByteArray metricsText(const QUrl &url)
{
    QNetworkAccessManager manager;
    std::unique_ptr<QNetworkReply> reply(manager.get(QNetworkRequest(url)));
    TestClient::waitUntil([&] { return reply->isFinished(); });
    return reply->isFinished() ? reply->readAll() : QByteArray();
}

// One sample of a counter without labels, or -1 when absent.
double metricValue(const QByteArray &text, const QString &name)
{
    const QRegularExpression sample(
        QStringLiteral("^%1\\s+(\\S+)\\s*$").arg(QRegularExpression::escape(name)),
        QRegularExpression::MultilineOption);
    const auto match = sample.match(QString::fromUtf8(text));
    return match.hasMatch() ? match.captured(1).toDouble() : -1;
}

} // namespace

class TestDeflate : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void onlyAskingClientsGetTheFeature();
    void historyPageComesCompressedAndIdentical();
    void syncAnswerComesCompressedAndIdentical();
    void smallPagesStayPlain();
    void acksAndPushesStayPlain();
    void compressedFromAClientIsRefused();
    void compressedBeforeLoginIsRefused();
    void metricsCountTheBytes();

private:
    // Another connection of alice (resumed), with or without "deflate".
    std::unique_ptr<TestClient> aliceConnection(bool deflate);

    TestServer m_server;
    std::unique_ptr<TestClient> m_alice, m_bob;
    QString m_direct;
};

void TestDeflate::initTestCase()
{
    QVERIFY(m_server.start());
    m_alice = std::make_unique<TestClient>();
    m_bob = std::make_unique<TestClient>();
    QVERIFY(m_alice->connectAndRegister(m_server.url(), QStringLiteral("alice")));
    QVERIFY(m_bob->connectAndRegister(m_server.url(), QStringLiteral("bob")));
    m_direct = directConversationId(m_alice->userId(), m_bob->userId());

    // A conversation of a few hundred lines from both sides, sent in small
    // pipelined batches.
    QRandomGenerator random(20261127);
    constexpr int kBatch = 20;
    for (int first = 0; first < kHistoryMessages; first += kBatch) {
        QList<std::pair<TestClient *, quint32>> posted;
        for (int i = first; i < first + kBatch && i < kHistoryMessages; ++i) {
            TestClient *from = random.bounded(3) ? m_alice.get() : m_bob.get();
            posted.append({from, from->post(TestClient::sendRequest(m_direct, chatLine(random),
                                                                    newClientMsgId()))});
        }
        for (const auto &[from, id] : std::as_const(posted)) {
            const auto ack = from->waitForAnswer(id);
            QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
        }
    }

    // Groups so that alice's sync answer lists enough conversations to be worth compressing.
    for (int g = 0; g < kGroups; ++g) {
        v1::Envelope create;
        create.mutable_create_group()->set_name(
            toStd(QStringLiteral("Project %1 planning").arg(QChar(u'A' + g))));
        create.mutable_create_group()->add_member_user_ids(m_bob->userId());
        const auto created = m_alice->request(std::move(create));
        QVERIFY2(created && created->has_conversation(), describe(created).constData());
    }
    m_alice->clearPushes();
    m_bob->clearPushes();
}

std::unique_ptr<TestClient> TestDeflate::aliceConnection(bool deflate)
{
    auto client = std::make_unique<TestClient>();
    if (deflate)
        client->setHelloFeatures({kDeflate});
    if (!client->connectAndResume(m_server.url(), m_alice->token()))
        return nullptr;
    return client;
}

void TestDeflate::onlyAskingClientsGetTheFeature()
{
    const auto featuresOf = [this](const QStringList &asked) {
        TestClient client;
        client.setHelloFeatures(asked);
        QStringList features;
        if (!client.connectTo(m_server.url()))
            return QStringList{QStringLiteral("<no connection>")};
        const auto answer = client.hello();
        if (!answer || !answer->has_hello_ok())
            return QStringList{QString::fromLatin1(describe(answer))};
        for (const auto &feature : answer->hello_ok().features())
            features.append(toQString(feature));
        return features;
    };
    QCOMPARE(featuresOf({}), QStringList());
    QCOMPARE(featuresOf({QStringLiteral("teleport")}), QStringList());
    QCOMPARE(featuresOf({QStringLiteral("teleport"), kDeflate}), QStringList{kDeflate});
    QCOMPARE(featuresOf({kDeflate, kDeflate}), QStringList{kDeflate});
    QCOMPARE(featuresOf({QStringLiteral("DEFLATE")}), QStringList());
}

void TestDeflate::historyPageComesCompressedAndIdentical()
{
    auto plain = aliceConnection(false);
    auto deflate = aliceConnection(true);
    QVERIFY(plain && deflate);

    const auto [plainAnswer, plainBytes] =
        requestSized(*plain, TestClient::pullRequest(m_direct, 1, kMaxPullLimit));
    QVERIFY2(plainAnswer && plainAnswer->has_pull_response(), describe(plainAnswer).constData());
    QCOMPARE(plainAnswer->pull_response().messages_size(), int(kMaxPullLimit));

    const quint32 id = deflate->post(TestClient::pullRequest(m_direct, 1, kMaxPullLimit));
    const auto outer = deflate->waitForAnswer(id);
    QVERIFY2(outer && outer->has_compressed(), describe(outer).constData());
    QCOMPARE(outer->request_id(), id);
    const qsizetype wireBytes = deflate->answerFrameBytes(id);

    const Result<v1::Envelope> inner = inflateEnvelope(outer->compressed());
    QVERIFY2(inner, qPrintable(inner ? QString() : inner.error().message));
    QCOMPARE(inner->request_id(), id);
    QVERIFY(inner->has_pull_response());
    QCOMPARE(inner->pull_response().SerializeAsString(),
             plainAnswer->pull_response().SerializeAsString());
    QCOMPARE(qsizetype(outer->compressed().raw_size()), plainBytes);

    QVERIFY2(wireBytes < plainBytes, qPrintable(u"%1 >= %2"_qs.arg(wireBytes).arg(plainBytes)));
    qInfo("200-message page: %lld bytes plain, %lld compressed, ratio %.3f", qlonglong(plainBytes),
          qlonglong(wireBytes), double(wireBytes) / double(plainBytes));
}

void TestDeflate::syncAnswerComesCompressedAndIdentical()
{
    auto plain = aliceConnection(false);
    auto deflate = aliceConnection(true);
    QVERIFY(plain && deflate);

    auto [plainAnswer, plainBytes] = requestSized(*plain, [] {
        v1::Envelope sync;
        sync.mutable_sync();
        return sync;
    }());
    QVERIFY2(plainAnswer && plainAnswer->has_sync_response(), describe(plainAnswer).constData());
    QCOMPARE(plainAnswer->sync_response().changed_size(), kGroups + 1);
    QVERIFY2(plainBytes >= kMinCompressBytes, qPrintable(QString::number(plainBytes)));

    v1::Envelope sync;
    sync.mutable_sync();
    auto [outer, wireBytes] = requestSized(*deflate, std::move(sync));
    QVERIFY2(outer && outer->has_compressed(), describe(outer).constData());
    Result<v1::Envelope> inner = inflateEnvelope(outer->compressed());
    QVERIFY2(inner, qPrintable(inner ? QString() : inner.error().message));
    QCOMPARE(inner->request_id(), outer->request_id());
    QVERIFY(inner->has_sync_response());
    // The answers were made a moment apart: only the server's clock may differ.
    inner->mutable_sync_response()->clear_server_time_ms();
    plainAnswer->mutable_sync_response()->clear_server_time_ms();
    QCOMPARE(inner->sync_response().SerializeAsString(),
             plainAnswer->sync_response().SerializeAsString());

    QVERIFY2(wireBytes < plainBytes, qPrintable(u"%1 >= %2"_qs.arg(wireBytes).arg(plainBytes)));
    qInfo("sync of %d conversations: %lld bytes plain, %lld compressed, ratio %.3f", kGroups + 1,
          qlonglong(plainBytes), qlonglong(wireBytes), double(wireBytes) / double(plainBytes));
}

void TestDeflate::smallPagesStayPlain()
{
    auto deflate = aliceConnection(true);
    QVERIFY(deflate);
    const auto [answer, bytes] = requestSized(*deflate, TestClient::pullRequest(m_direct, 5, 1));
    QVERIFY2(answer && answer->has_pull_response(), describe(answer).constData());
    QCOMPARE(answer->pull_response().messages_size(), 1);
    QVERIFY(bytes < kMinCompressBytes);
}

void TestDeflate::acksAndPushesStayPlain()
{
    auto deflate = aliceConnection(true);
    QVERIFY(deflate);
    // A long message: its push is well over the threshold and compresses
    // well, and still comes plain.
    QString longText;
    QRandomGenerator random(5);
    while (longText.size() < 3000)
        longText += chatLine(random) + u' ';

    const QString fromBob = newClientMsgId();
    const auto bobAck = m_bob->send(m_direct, longText, fromBob);
    QVERIFY2(bobAck && bobAck->has_send_ack(), describe(bobAck).constData());
    const auto push = deflate->waitForPush([&](const v1::Envelope &e) {
        return e.has_compressed() ||
               (e.has_message() && toQString(e.message().message().client_msg_id()) == fromBob);
    });
    QVERIFY2(push && push->has_message(), describe(push).constData());
    QCOMPARE(toQString(push->message().message().content().text().body()), longText);
    QVERIFY(encodeEnvelope(*push).size() >= kMinCompressBytes);

    const auto ack = deflate->send(m_direct, QStringLiteral("got it, thanks"), newClientMsgId());
    QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
}

void TestDeflate::compressedFromAClientIsRefused()
{
    auto deflate = aliceConnection(true);
    QVERIFY(deflate);
    const QByteArray frame = compressEnvelope([this] {
        v1::Envelope page = TestClient::pullRequest(m_direct, 1, kMaxPullLimit);
        page.mutable_pull()->set_conversation_id(std::string(1000, 'x'));
        return page;
    }());
    QVERIFY(!frame.isEmpty());
    auto sneaky = decodeEnvelope(frame);
    QVERIFY(sneaky && sneaky->has_compressed());

    const auto refused = deflate->request(*sneaky);
    QVERIFY2(isError(refused, v1::INVALID_ARGUMENT), describe(refused).constData());
    QCOMPARE(toQString(refused->error().message()),
             QStringLiteral("Compressed frames are only sent by the server"));

    // The session goes on.
    QVERIFY(deflate->isConnected());
    const auto ack = deflate->send(m_direct, QStringLiteral("still here"), newClientMsgId());
    QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
}

void TestDeflate::compressedBeforeLoginIsRefused()
{
    TestClient client;
    client.setHelloFeatures({kDeflate});
    QVERIFY(client.connectTo(m_server.url()));
    const auto hello = client.hello();
    QVERIFY2(hello && hello->has_hello_ok(), describe(hello).constData());

    v1::Envelope sneaky;
    sneaky.mutable_compressed()->set_raw_size(10);
    sneaky.mutable_compressed()->set_deflated("not zlib");
    const auto refused = client.request(sneaky);
    QVERIFY2(isError(refused, v1::INVALID_ARGUMENT), describe(refused).constData());
    QVERIFY(client.isConnected());
    const auto resumed = client.resume(m_alice->token());
    QVERIFY2(resumed && resumed->has_auth_ok(), describe(resumed).constData());
}

void TestDeflate::metricsCountTheBytes()
{
    const QUrl url = m_server.adminUrl().resolved(QUrl(QStringLiteral("metrics")));
    const QByteArray before = metricsText(url);
    const double framesBefore = metricValue(before, QStringLiteral("kith_compressed_frames_total"));
    const double rawBefore =
        metricValue(before, QStringLiteral("kith_compression_raw_bytes_total"));
    const double wireBefore =
        metricValue(before, QStringLiteral("kith_compression_wire_bytes_total"));
    QVERIFY(framesBefore >= 0 && rawBefore >= 0 && wireBefore >= 0);

    auto deflate = aliceConnection(true);
    QVERIFY(deflate);
    const auto [answer, wireBytes] =
        requestSized(*deflate, TestClient::pullRequest(m_direct, 1, 100));
    QVERIFY2(answer && answer->has_compressed(), describe(answer).constData());

    const QByteArray after = metricsText(url);
    QCOMPARE(metricValue(after, QStringLiteral("kith_compressed_frames_total")), framesBefore + 1);
    QCOMPARE(metricValue(after, QStringLiteral("kith_compression_raw_bytes_total")),
             rawBefore + answer->compressed().raw_size());
    QCOMPARE(metricValue(after, QStringLiteral("kith_compression_wire_bytes_total")),
             wireBefore + double(wireBytes));
}

QTEST_GUILESS_MAIN(TestDeflate)
#include "tst_deflate.moc"
