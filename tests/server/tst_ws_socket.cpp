// kithd's own ws:// layer (WsListener, WsSocket) against Qt's QWebSocket as
// the client, and against raw bytes where QWebSocket would never send them:
// the upgrade, framing, limits, the close handshake, a peer that stops reading,
// and buffers that are given back once drained.

#include "ws_listener.h"
#include "ws_socket.h"

#include <QPointer>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>
#include <QtEndian>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <memory>
#include <thread>

using namespace kith::server;

namespace {
constexpr int kWaitMs = 20000;
constexpr qint64 kMaxMessageBytes = 1024 * 1024; // what kithd's Gateway sets
constexpr int kHandshakeTimeoutMs = 10000;
// The example key and answer of RFC 6455 section 1.3.
constexpr QByteArrayView kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr QByteArrayView kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

QByteArray upgradeRequest(quint16 port)
{
    return "GET /chat HTTP/1.1\r\n"
           "Host: 127.0.0.1:" +
           QByteArray::number(port) +
           "\r\n"
           "upgrade: WebSocket\r\n"
           "Connection: keep-alive, Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: " +
           kSampleKey.toByteArray() + "\r\n\r\n";
}

// A client frame as raw bytes; `masked` false breaks the protocol on purpose.
QByteArray clientFrame(quint8 opcode, const QByteArray &payload, bool fin = true,
                       bool masked = true)
{
    QByteArray frame;
    frame.append(char((fin ? 0x80 : 0) | opcode));
    const char maskBit = masked ? char(0x80) : 0;
    if (payload.size() < 126) {
        frame.append(char(maskBit | char(payload.size())));
    } else {
        frame.append(char(maskBit | 126));
        frame.append(char(payload.size() >> 8)).append(char(payload.size() & 0xFF));
    }
    if (!masked)
        return frame + payload;
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    frame.append(mask, 4);
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame.append(char(payload[i] ^ mask[i % 4]));
    return frame;
}

// The payloads of the complete server frames (unmasked, unfragmented) at the
// start of `bytes`.
QList<QByteArray> serverFrames(const QByteArray &bytes)
{
    QList<QByteArray> payloads;
    qsizetype at = 0;
    while (bytes.size() - at >= 2) {
        quint64 length = quint8(bytes[at + 1]) & 0x7F;
        qsizetype head = 2;
        if (length == 126) {
            if (bytes.size() - at < 4)
                break;
            length = qFromBigEndian<quint16>(bytes.constData() + at + 2);
            head = 4;
        } else if (length == 127) {
            if (bytes.size() - at < 10)
                break;
            length = qFromBigEndian<quint64>(bytes.constData() + at + 2);
            head = 10;
        }
        if (quint64(bytes.size() - at - head) < length)
            break;
        payloads.append(bytes.mid(at + head, qsizetype(length)));
        at += head + qsizetype(length);
    }
    return payloads;
}

QByteArray pattern(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char((i * 7 + i / 251) & 0xFF);
    return bytes;
}
} // namespace

class TestWsSocket : public QObject
{
    Q_OBJECT

private:
    WsListener *m_listener = nullptr;
    QList<QPointer<WsSocket>> m_accepted;
    QList<QByteArray> m_received; // every binary message the server got
    QStringList m_texts;
    bool m_echo = true;

    [[nodiscard]] quint16 port() const { return m_listener->serverPort(); }
    [[nodiscard]] QUrl url() const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(port()));
    }

    bool open(QWebSocket &client)
    {
        QSignalSpy connected(&client, &QWebSocket::connected);
        client.open(url());
        return connected.wait(kWaitMs);
    }

    // A raw client that has done the upgrade by hand.
    bool openRaw(QTcpSocket &raw)
    {
        raw.connectToHost(QHostAddress::LocalHost, port());
        if (!raw.waitForConnected(kWaitMs))
            return false;
        raw.write(upgradeRequest(port()));
        // The server runs on this thread: wait in the event loop, not in
        // QTcpSocket's blocking calls.
        QByteArray head;
        QDeadlineTimer deadline(kWaitMs);
        while (!head.contains("\r\n\r\n") && !deadline.hasExpired()) {
            QTest::qWait(5);
            head += raw.readAll(); // nothing follows the 101 until we send
        }
        return head.startsWith("HTTP/1.1 101 ") &&
               head.contains("Sec-WebSocket-Accept: " + kSampleAccept.toByteArray() + "\r\n");
    }

    // Reads from `raw` until the server hangs up; returns all it sent.
    static QByteArray readUntilClosed(QTcpSocket &raw)
    {
        QByteArray all;
        QDeadlineTimer deadline(kWaitMs);
        while (raw.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()) {
            QTest::qWait(5);
            all += raw.readAll();
        }
        return all + raw.readAll();
    }

    // A raw client that upgrades by hand with a small receive buffer and reads
    // nothing until told to; returns its descriptor (owned by the caller) and
    // leaves the 101 answer unread.
    int stalledClient()
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        const int small = 4096;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port());
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0)
            return -1;
        const QByteArray request = upgradeRequest(port());
        if (::write(fd, request.data(), size_t(request.size())) != ssize_t(request.size()))
            return -1;
        return fd;
    }

    // Reads from `fd` (serving this thread's events meanwhile) until the
    // server's frames after the 101 answer hold `count` messages.
    static QList<QByteArray> readFrames(int fd, int count)
    {
        QByteArray all;
        QList<QByteArray> frames;
        QDeadlineTimer deadline(kWaitMs);
        while (frames.size() < count && !deadline.hasExpired()) {
            QTest::qWait(1);
            char chunk[64 * 1024];
            ssize_t got = 0;
            while ((got = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT)) > 0)
                all.append(chunk, got);
            const qsizetype body = all.indexOf("\r\n\r\n");
            if (body >= 0)
                frames = serverFrames(all.mid(body + 4));
        }
        return frames;
    }

    // Opens `client` and returns the server's side of it (null on failure).
    WsSocket *openAccepted(QWebSocket &client)
    {
        if (!open(client) || !QTest::qWaitFor([this] { return !m_accepted.isEmpty(); }, kWaitMs))
            return nullptr;
        return lastAccepted();
    }

    WsSocket *lastAccepted() { return m_accepted.isEmpty() ? nullptr : m_accepted.last().data(); }

    // A WsSocket on one end of a local socket pair whose peer end (`peer`,
    // owned by the caller) is never read unless the test reads it: bytes are
    // fed in with feed(), and output piles up once the small buffers are full.
    static std::unique_ptr<WsSocket> fedSocket(int *peer, qint64 maxMessageBytes = kMaxMessageBytes)
    {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
            return nullptr;
        const int small = 4096;
        ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        *peer = fds[1];
        auto socket = std::make_unique<WsSocket>(fds[0], maxMessageBytes, kHandshakeTimeoutMs);
        socket->feed(upgradeRequest(7400));
        if (socket->isHandshaking())
            return nullptr;
        return socket;
    }

    // Reads and drops what the peer end holds, serving events meanwhile,
    // until `done` holds.
    static bool drainPeer(int peer, const std::function<bool()> &done)
    {
        QDeadlineTimer deadline(kWaitMs);
        while (!done() && !deadline.hasExpired()) {
            char chunk[64 * 1024];
            while (::recv(peer, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
            }
            QTest::qWait(1);
        }
        return done();
    }

private slots:
    void init()
    {
        m_listener = new WsListener(kMaxMessageBytes, kHandshakeTimeoutMs, this);
        m_accepted.clear();
        m_received.clear();
        m_texts.clear();
        m_echo = true;
        connect(m_listener, &WsListener::newWebSocket, this, [this](WsSocket *socket) {
            socket->setParent(this);
            m_accepted.append(socket);
            connect(socket, &WsSocket::binaryMessageReceived, this,
                    [this, socket](const QByteArray &message) {
                        m_received.append(message);
                        if (m_echo)
                            socket->sendBinaryMessage(message);
                    });
            connect(socket, &WsSocket::textMessageReceived, this,
                    [this](const QString &text) { m_texts.append(text); });
            connect(socket, &WsSocket::disconnected, socket, &QObject::deleteLater);
        });
        QVERIFY(m_listener->listen(QHostAddress::LocalHost, 0));
    }

    void cleanup()
    {
        for (const QPointer<WsSocket> &socket : std::as_const(m_accepted))
            delete socket.data();
        delete m_listener;
        m_listener = nullptr;
    }

    void upgradeSucceeds()
    {
        QWebSocket client;
        QVERIFY(open(client));
        QTRY_COMPARE(m_accepted.size(), 1);
        QCOMPARE(lastAccepted()->peerAddress(), QHostAddress(QHostAddress::LocalHost));

        QTcpSocket raw; // and the accept value is the one RFC 6455 gives
        QVERIFY(openRaw(raw));
    }

    void badUpgradeIsRefused_data()
    {
        QTest::addColumn<QByteArray>("request");
        const QByteArray key = "Sec-WebSocket-Key: " + kSampleKey.toByteArray() + "\r\n";
        const QByteArray common = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
        QTest::newRow("no key") << "GET / HTTP/1.1\r\n" + common +
                                       "Sec-WebSocket-Version: 13\r\n\r\n";
        QTest::newRow("version 8")
            << "GET / HTTP/1.1\r\n" + common + "Sec-WebSocket-Version: 8\r\n" + key + "\r\n";
        QTest::newRow("POST") << "POST / HTTP/1.1\r\n" + common + "Sec-WebSocket-Version: 13\r\n" +
                                     key + "\r\n";
        QTest::newRow("no upgrade") << "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
                                       "Sec-WebSocket-Version: 13\r\n" +
                                           key + "\r\n";
        QTest::newRow("short key") << "GET / HTTP/1.1\r\n" + common +
                                          "Sec-WebSocket-Version: 13\r\n"
                                          "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n";
        QTest::newRow("head over 8 KiB") << "GET / HTTP/1.1\r\n" + common +
                                                "X-Padding: " + QByteArray(9000, 'a') + "\r\n" +
                                                "Sec-WebSocket-Version: 13\r\n" + key + "\r\n";
        QTest::newRow("endless head")
            << "GET / HTTP/1.1\r\n" + common + "X-Padding: " + QByteArray(9000, 'a');
    }

    void badUpgradeIsRefused()
    {
        QFETCH(QByteArray, request);
        QTcpSocket raw;
        raw.connectToHost(QHostAddress::LocalHost, port());
        QVERIFY(raw.waitForConnected(kWaitMs));
        raw.write(request);
        const QByteArray answer = readUntilClosed(raw);
        QVERIFY2(answer.startsWith("HTTP/1.1 400 Bad Request\r\n"), answer.constData());
        QCOMPARE(raw.state(), QAbstractSocket::UnconnectedState);
        QVERIFY(m_accepted.isEmpty());
    }

    void binaryRoundTrip_data()
    {
        QTest::addColumn<int>("size");
        for (int size : {0, 1, 125, 126, 65535, 65536, 300 * 1024})
            QTest::addRow("%d bytes", size) << size;
    }

    void binaryRoundTrip()
    {
        QFETCH(int, size);
        QWebSocket client;
        QVERIFY(open(client));
        QSignalSpy echoed(&client, &QWebSocket::binaryMessageReceived);
        const QByteArray message = pattern(size);
        client.sendBinaryMessage(message);
        client.sendBinaryMessage("after");
        QTRY_COMPARE_WITH_TIMEOUT(echoed.size(), 2, kWaitMs);
        QCOMPARE(echoed.at(0).at(0).toByteArray(), message);
        QCOMPARE(echoed.at(1).at(0).toByteArray(), QByteArray("after"));
    }

    void fragmentedMessageIsReassembled()
    {
        QWebSocket client;
        client.setOutgoingFrameSize(1000);
        QVERIFY(open(client));
        QSignalSpy echoed(&client, &QWebSocket::binaryMessageReceived);
        const QByteArray message = pattern(10 * 1000 + 17);
        client.sendBinaryMessage(message);
        QTRY_COMPARE_WITH_TIMEOUT(echoed.size(), 1, kWaitMs);
        QCOMPARE(m_received, QList<QByteArray>{message});
        QCOMPARE(echoed.at(0).at(0).toByteArray(), message);
    }

    void textMessageIsReported()
    {
        QWebSocket client;
        QVERIFY(open(client));
        client.sendTextMessage(QStringLiteral("grüße"));
        QTRY_COMPARE_WITH_TIMEOUT(m_texts, QStringList{QStringLiteral("grüße")}, kWaitMs);
        QVERIFY(m_received.isEmpty());
    }

    void protocolErrorsClose_data()
    {
        QTest::addColumn<QByteArray>("frames");
        QTest::addColumn<int>("closeCode");
        QTest::newRow("unmasked") << clientFrame(0x2, "abc", true, false) << 1002;
        QByteArray rsv = clientFrame(0x2, "abc");
        rsv[0] = char(rsv[0] | 0x40);
        QTest::newRow("reserved bit") << rsv << 1002;
        QTest::newRow("unknown opcode") << clientFrame(0x3, "abc") << 1002;
        QTest::newRow("fragmented ping") << clientFrame(0x9, "abc", false) << 1002;
        QTest::newRow("long ping") << clientFrame(0x9, QByteArray(126, 'p')) << 1002;
        QTest::newRow("lone continuation") << clientFrame(0x0, "abc") << 1002;
        QTest::newRow("binary inside a message")
            << clientFrame(0x2, "ab", false) + clientFrame(0x2, "cd") << 1002;
    }

    void protocolErrorsClose()
    {
        QFETCH(QByteArray, frames);
        QFETCH(int, closeCode);
        QTcpSocket raw;
        QVERIFY(openRaw(raw));
        raw.write(frames);
        const QByteArray answer = readUntilClosed(raw);
        // One unmasked close frame carrying the code, then the end of stream.
        QVERIFY2(answer.size() >= 4, answer.toHex().constData());
        QCOMPARE(quint8(answer[0]), quint8(0x88));
        QVERIFY(!(quint8(answer[1]) & 0x80));
        QCOMPARE((quint8(answer[2]) << 8) | quint8(answer[3]), closeCode);
        QCOMPARE(raw.state(), QAbstractSocket::UnconnectedState);
        QVERIFY(m_received.isEmpty());
    }

    void oversizedMessageCloses1009()
    {
        QWebSocket client;
        QVERIFY(open(client));
        QSignalSpy disconnected(&client, &QWebSocket::disconnected);
        client.sendBinaryMessage(pattern(kMaxMessageBytes + 1));
        QVERIFY(disconnected.wait(kWaitMs));
        QCOMPARE(client.closeCode(), QWebSocketProtocol::CloseCodeTooMuchData);
        QVERIFY(m_received.isEmpty());
    }

    void messageAtTheLimitIsDelivered()
    {
        QWebSocket client;
        client.setOutgoingFrameSize(100 * 1000);
        QVERIFY(open(client));
        m_echo = false;
        client.sendBinaryMessage(pattern(kMaxMessageBytes));
        QTRY_COMPARE_WITH_TIMEOUT(m_received.size(), 1, kWaitMs);
        QCOMPARE(m_received.first(), pattern(kMaxMessageBytes));
    }

    void pingIsAnswered()
    {
        QWebSocket client;
        QVERIFY(open(client));
        QSignalSpy pong(&client, &QWebSocket::pong);
        client.ping("are you there");
        QVERIFY(pong.wait(kWaitMs));
        QCOMPARE(pong.first().at(1).toByteArray(), QByteArray("are you there"));
    }

    void pipelinedFramesAreAllAnswered()
    {
        // Three pings and a message in one write: the answers leave together.
        QTcpSocket raw;
        QVERIFY(openRaw(raw));
        m_echo = true;
        raw.write(clientFrame(0x9, "one") + clientFrame(0x9, "two") + clientFrame(0x2, "msg") +
                  clientFrame(0x9, "three"));
        const QByteArray expected = QByteArray("\x8a\x03one\x8a\x03two\x82\x03msg\x8a\x05three");
        QByteArray answer;
        QDeadlineTimer deadline(kWaitMs);
        while (answer.size() < expected.size() && !deadline.hasExpired()) {
            QTest::qWait(5);
            answer += raw.readAll();
        }
        QCOMPARE(answer, expected);
    }

    void clientCloseIsEchoed()
    {
        QTcpSocket raw;
        QVERIFY(openRaw(raw));
        QTRY_COMPARE(m_accepted.size(), 1);
        QSignalSpy serverGone(lastAccepted(), &WsSocket::disconnected);
        QByteArray payload(2, Qt::Uninitialized);
        payload[0] = char(1000 >> 8);
        payload[1] = char(1000 & 0xFF);
        raw.write(clientFrame(0x8, payload + "bye"));
        const QByteArray answer = readUntilClosed(raw);
        QCOMPARE(answer, QByteArray("\x88\x02\x03\xe8", 4));
        QVERIFY(serverGone.size() == 1 || serverGone.wait(kWaitMs));
    }

    void serverCloseEndsConnection()
    {
        QWebSocket client;
        QVERIFY(open(client));
        QTRY_COMPARE(m_accepted.size(), 1);
        QSignalSpy serverGone(lastAccepted(), &WsSocket::disconnected);
        QSignalSpy clientGone(&client, &QWebSocket::disconnected);
        lastAccepted()->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("stopping"));
        QVERIFY(clientGone.wait(kWaitMs));
        QCOMPARE(client.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
        QCOMPARE(client.closeReason(), QStringLiteral("stopping"));
        QVERIFY(serverGone.size() == 1 || serverGone.wait(kWaitMs));
    }

    void abortDropsAtOnce()
    {
        QWebSocket client;
        QVERIFY(open(client));
        QTRY_COMPARE(m_accepted.size(), 1);
        QSignalSpy clientGone(&client, &QWebSocket::disconnected);
        lastAccepted()->abort();
        QVERIFY(clientGone.wait(kWaitMs));
    }

    void peerThatStopsReadingDoesNotBlockOthers()
    {
        // A client that upgrades, then never reads again.
        const int stalled = ::socket(AF_INET, SOCK_STREAM, 0);
        QVERIFY(stalled >= 0);
        const auto closeStalled = qScopeGuard([stalled] { ::close(stalled); });
        const int small = 4096;
        ::setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port());
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        QCOMPARE(::connect(stalled, reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
        const QByteArray request = upgradeRequest(port());
        QCOMPARE(::write(stalled, request.data(), size_t(request.size())), ssize_t(request.size()));
        QTRY_COMPARE_WITH_TIMEOUT(m_accepted.size(), 1, kWaitMs);
        WsSocket *slow = lastAccepted();

        const QByteArray megabyte = pattern(1024 * 1024);
        for (int i = 0; i < 32; ++i)
            slow->sendBinaryMessage(megabyte); // returns at once, queueing the rest
        QVERIFY(slow->bytesToWrite() > 16 * 1024 * 1024);

        QWebSocket other;
        QVERIFY(open(other));
        QSignalSpy echoed(&other, &QWebSocket::binaryMessageReceived);
        other.sendBinaryMessage("still served");
        QVERIFY(echoed.wait(kWaitMs));
        QCOMPARE(echoed.first().at(0).toByteArray(), QByteArray("still served"));
        QVERIFY(slow->bytesToWrite() > 16 * 1024 * 1024);
    }

    void buffersAreGivenBackWhenDrained()
    {
        QWebSocket client;
        QVERIFY(open(client));
        QTRY_COMPARE(m_accepted.size(), 1);
        WsSocket *server = lastAccepted();

        // Inbound: a 1 MiB message in 64 KiB frames is buffered, then released.
        m_echo = false;
        client.setOutgoingFrameSize(64 * 1024);
        client.sendBinaryMessage(pattern(kMaxMessageBytes));
        QTRY_COMPARE_WITH_TIMEOUT(m_received.size(), 1, kWaitMs);
        QCOMPARE(server->bufferCapacity(), 0);

        // Outbound: a 1 MiB message, whatever the kernel did not take at once.
        QSignalSpy got(&client, &QWebSocket::binaryMessageReceived);
        server->sendBinaryMessage(pattern(kMaxMessageBytes));
        QVERIFY(got.wait(kWaitMs));
        QCOMPARE(got.first().at(0).toByteArray().size(), kMaxMessageBytes);
        QTRY_COMPARE_WITH_TIMEOUT(server->bytesToWrite(), 0, kWaitMs);
        QCOMPARE(server->bufferCapacity(), 0);
    }

    void directWriteFromAnotherThread()
    {
        QWebSocket client;
        WsSocket *server = openAccepted(client);
        QVERIFY(server);
        const std::shared_ptr<DirectWriter> writer = server->directWriter();
        QVERIFY(writer);
        const QByteArray message = pattern(100 * 1024);
        DirectWriter::Outcome outcome = DirectWriter::Outcome::NotSent;
        QByteArray rest;
        QSignalSpy got(&client, &QWebSocket::binaryMessageReceived);
        std::thread([&] { outcome = writer->trySend(message, &rest); }).join();
        QCOMPARE(outcome, DirectWriter::Outcome::Sent);
        QVERIFY(got.wait(kWaitMs));
        QCOMPARE(got.first().at(0).toByteArray(), message);
    }

    void directWriteWaitsForQueuedOutput()
    {
        QWebSocket client;
        WsSocket *server = openAccepted(client);
        QVERIFY(server);
        const std::shared_ptr<DirectWriter> writer = server->directWriter();
        QSignalSpy got(&client, &QWebSocket::binaryMessageReceived);
        // Queued for the flush posted to this thread: a direct write now
        // would overtake it.
        server->sendBinaryMessage("first");
        QByteArray rest;
        QCOMPARE(writer->trySend("second", &rest), DirectWriter::Outcome::NotSent);
        QTRY_COMPARE_WITH_TIMEOUT(got.size(), 1, kWaitMs);
        // "second" is now the owner's to send: nothing may overtake it.
        QCOMPARE(writer->trySend("third", &rest), DirectWriter::Outcome::NotSent);
        server->sendBinaryMessage("second");
        writer->sentByOwner();
        server->sendBinaryMessage("third");
        writer->sentByOwner();
        QTRY_COMPARE_WITH_TIMEOUT(got.size(), 3, kWaitMs);
        QCOMPARE(writer->trySend("fourth", &rest), DirectWriter::Outcome::Sent);
        QTRY_COMPARE_WITH_TIMEOUT(got.size(), 4, kWaitMs);
        QStringList order;
        for (const QList<QVariant> &message : std::as_const(got))
            order.append(QString::fromLatin1(message.at(0).toByteArray()));
        QCOMPARE(order, QStringList({"first", "second", "third", "fourth"}));
    }

    void heldMessageKeepsLaterOnesBack()
    {
        QWebSocket client;
        WsSocket *server = openAccepted(client);
        QVERIFY(server);
        const std::shared_ptr<DirectWriter> writer = server->directWriter();
        QByteArray rest;
        // An error answer the owner sends: the next page waits for it, and
        // goes to the owner too.
        writer->holdForOwner();
        QCOMPARE(writer->trySend("page 1", &rest), DirectWriter::Outcome::NotSent);
        writer->sentByOwner(); // the error
        QCOMPARE(writer->trySend("page 2", &rest), DirectWriter::Outcome::NotSent);
        writer->sentByOwner(); // page 1
        writer->sentByOwner(); // page 2
        QCOMPARE(writer->trySend("page 3", &rest), DirectWriter::Outcome::Sent);
    }

    void partialDirectWriteIsFinishedBeforeLaterFrames()
    {
        const int raw = stalledClient();
        QVERIFY(raw >= 0);
        const auto closeRaw = qScopeGuard([raw] { ::close(raw); });
        QTRY_COMPARE_WITH_TIMEOUT(m_accepted.size(), 1, kWaitMs);
        WsSocket *server = lastAccepted();
        QTRY_VERIFY_WITH_TIMEOUT(!server->isHandshaking(), kWaitMs);
        const std::shared_ptr<DirectWriter> writer = server->directWriter();

        // More than the kernel takes while the client reads nothing.
        const QByteArray big = pattern(16 * 1024 * 1024);
        DirectWriter::Outcome outcome = DirectWriter::Outcome::NotSent;
        QByteArray rest;
        std::thread([&] { outcome = writer->trySend(big, &rest); }).join();
        QCOMPARE(outcome, DirectWriter::Outcome::Partial);
        QVERIFY(!rest.isEmpty() && rest.size() < big.size());

        // Until the tail is written nothing may go out: not this thread's
        // frames, not another direct write.
        server->sendBinaryMessage("after");
        QByteArray ignored;
        QCOMPARE(writer->trySend("overtaking", &ignored), DirectWriter::Outcome::NotSent);
        QTest::qWait(50);
        server->finishDirect(rest);

        const QList<QByteArray> frames = readFrames(raw, 2);
        QCOMPARE(frames.size(), 2);
        QVERIFY(frames.at(0) == big);
        QCOMPARE(frames.at(1), QByteArray("after"));
    }

    // A frame queued behind this thread's own unflushed output while another
    // thread holds the write lock (a page going out to the same connection)
    // joins the queue; there is no lock of its own to release, and releasing
    // one anyway threw and ended the process.
    void writeBehindQueueWhileAnotherThreadWrites()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        const std::shared_ptr<DirectWriter> writer = socket->directWriter();
        std::promise<void> holding;
        std::promise<void> release;
        std::shared_future<void> released = release.get_future().share();
        socket->setDirectWriteHookForTesting([&holding, released] {
            holding.set_value();
            released.wait();
        });
        // Queued for the flush posted to this thread.
        socket->sendBinaryMessage("first");
        QByteArray rest;
        DirectWriter::Outcome outcome = DirectWriter::Outcome::Sent;
        {
            std::thread page([&] { outcome = writer->trySend("page", &rest); });
            const auto joinPage = qScopeGuard([&release, &page] {
                release.set_value();
                page.join();
            });
            holding.get_future().wait();
            socket->sendBinaryMessage("second");
        }
        // The page waits behind the queue and goes to the owner.
        QCOMPARE(outcome, DirectWriter::Outcome::NotSent);
        socket->setDirectWriteHookForTesting({});
        socket->sendBinaryMessage("page");
        writer->sentByOwner();
        const QList<QByteArray> frames = readFrames(peer, 3);
        QCOMPARE(frames, (QList<QByteArray>{"first", "second", "page"}));
    }

    void directWriterStopsWithTheConnection()
    {
        QWebSocket client;
        WsSocket *server = openAccepted(client);
        QVERIFY(server);
        const std::shared_ptr<DirectWriter> writer = server->directWriter();
        QByteArray rest;
        // Closing: nothing may follow the close frame.
        server->close(QWebSocketProtocol::CloseCodeNormal, QStringLiteral("bye"));
        QCOMPARE(writer->trySend("late", &rest), DirectWriter::Outcome::NotSent);
        // Gone: the writer outlives the socket, and writes nothing.
        QSignalSpy closed(&client, &QWebSocket::disconnected);
        QVERIFY(closed.wait(kWaitMs));
        QTRY_VERIFY_WITH_TIMEOUT(m_accepted.last().isNull(), kWaitMs);
        QCOMPARE(writer->trySend("later", &rest), DirectWriter::Outcome::NotSent);
    }

    // A peer that sends pings and never reads: past half the budget the
    // socket reads no more (its pongs stop piling up), and when nothing
    // queued is taken for the stall timeout, it is dropped.
    void outputBudgetStopsReadingThenDrops()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        constexpr qint64 kBudget = 64 * 1024;
        socket->setOutputBudget({kBudget, 300});
        // Every ping answered here: the pongs are what fills the queue.
        socket->setPingBudget(1e9, 1e9);
        QSignalSpy pressure(socket.get(), &WireSocket::outputPressureChanged);
        QSignalSpy overflowed(socket.get(), &WireSocket::outputOverflowed);
        QSignalSpy disconnected(socket.get(), &WireSocket::disconnected);
        const QByteArray ping = clientFrame(0x9, QByteArray(125, 'p'));
        for (int i = 0; i < 4000; ++i) {
            socket->feed(ping);
            QCOMPARE(overflowed.count(), 0); // held, never past the budget
        }
        QCOMPARE(pressure.count(), 1);
        QCOMPARE(pressure.first().at(0).toBool(), true);
        // Held at half the budget: the pongs of 4000 pings would be 500 KB.
        QVERIFY2(socket->bytesToWrite() < kBudget / 2 + 4096,
                 QByteArray::number(socket->bytesToWrite()).constData());
        QVERIFY(socket->bufferCapacity() < 1024 * 1024);
        QVERIFY(disconnected.wait(kWaitMs));
        QCOMPARE(overflowed.count(), 1);
    }

    // Pings past the budget get no pong, and the socket is not read until
    // the next is allowed: the flood waits (in TCP, here in the fed buffer)
    // instead of costing a frame each; later pings are answered at the rate.
    void pingFloodPastTheBudgetIsHeld()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        socket->setPingBudget(5, 20);
        QSignalSpy disconnected(socket.get(), &WireSocket::disconnected);
        QByteArray flood;
        for (int i = 0; i < 200; ++i)
            flood += clientFrame(0x9, "p");
        QByteArray pongs;
        const auto readPeer = [&] {
            char chunk[4096];
            ssize_t got = 0;
            while ((got = ::recv(peer, chunk, sizeof chunk, MSG_DONTWAIT)) > 0)
                pongs.append(chunk, got);
        };
        readPeer(); // the upgrade's answer
        QVERIFY(pongs.endsWith("\r\n\r\n"));
        pongs.clear();
        socket->feed(flood);
        const QByteArray pong("\x8a\x01p", 3);
        // The burst, and not one more while held.
        QTRY_COMPARE_WITH_TIMEOUT((readPeer(), pongs.count(pong)), 20, kWaitMs);
        readPeer();
        QCOMPARE(pongs.count(pong), 20);
        QCOMPARE(pongs.size(), 20 * 3);
        QVERIFY(socket->bufferCapacity() < 64 * 1024);
        // Once the next is allowed, the ones that waited are read and
        // answered at the rate; the connection stays.
        QTRY_VERIFY_WITH_TIMEOUT((readPeer(), pongs.count(pong) > 21), kWaitMs);
        QVERIFY(pongs.count(pong) < 200);
        QCOMPARE(disconnected.count(), 0);
    }

    // Reading resumes once the peer takes the queue down, and the frames
    // that waited meanwhile are handled then.
    void readingResumesWhenDrained()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        socket->setOutputBudget({64 * 1024, 0});
        QSignalSpy pressure(socket.get(), &WireSocket::outputPressureChanged);
        QList<QByteArray> received;
        connect(socket.get(), &WireSocket::binaryMessageReceived, this,
                [&received](const QByteArray &message) { received.append(message); });
        socket->sendBinaryMessage(pattern(40 * 1024)); // past half the budget
        QCOMPARE(pressure.count(), 1);
        socket->feed(clientFrame(0x2, "one") + clientFrame(0x2, "two"));
        QVERIFY(received.isEmpty());
        QVERIFY(drainPeer(peer, [&received] { return received.size() == 2; }));
        QCOMPARE(received, (QList<QByteArray>{"one", "two"}));
        QCOMPARE(pressure.last().at(0).toBool(), false);
    }

    // Past all of the budget (pushes to a peer that stopped reading) the
    // connection is dropped at once.
    void outputPastTheBudgetDrops()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        socket->setOutputBudget({64 * 1024, 0});
        QSignalSpy overflowed(socket.get(), &WireSocket::outputOverflowed);
        QSignalSpy disconnected(socket.get(), &WireSocket::disconnected);
        for (int i = 0; i < 4 && overflowed.isEmpty(); ++i)
            socket->sendBinaryMessage(pattern(30 * 1024));
        QCOMPARE(overflowed.count(), 1);
        QCOMPARE(socket->bytesToWrite(), 0); // the memory is given back at once
        QVERIFY(disconnected.wait(kWaitMs));
    }

    // The owner's hold stops frames even within one read; releasing it
    // delivers them.
    void holdReadingStopsFrames()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        QList<QByteArray> received;
        connect(socket.get(), &WireSocket::binaryMessageReceived, this,
                [&socket, &received](const QByteArray &message) {
                    received.append(message);
                    socket->holdReading(true); // one per turn, as a busy session would
                });
        socket->feed(clientFrame(0x2, "a") + clientFrame(0x2, "b") + clientFrame(0x2, "c"));
        QCOMPARE(received, QList<QByteArray>{"a"});
        socket->holdReading(false);
        QTRY_COMPARE_WITH_TIMEOUT(received.size(), 2, kWaitMs);
        socket->holdReading(false);
        QTRY_COMPARE_WITH_TIMEOUT(received.size(), 3, kWaitMs);
        QCOMPARE(received, (QList<QByteArray>{"a", "b", "c"}));
    }

    // RFC 6455 sections 5.5.1 and 7.4: a close code that may not be sent
    // gets 1002, a reason that is not UTF-8 gets 1007; a valid close is echoed.
    void closeFramesAreValidated_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QByteArray>("reason");
        QTest::addColumn<int>("answer");
        for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
            QTest::addRow("code %d", code) << code << QByteArray() << 1002;
        for (int code : {1000, 1001, 1003, 1011, 1013, 3000, 4999})
            QTest::addRow("valid %d", code) << code << QByteArray("bye") << code;
        QTest::addRow("bad utf-8") << 1000 << QByteArray("\xc3\x28") << 1007;
        QTest::addRow("surrogate") << 1000 << QByteArray("\xed\xa0\x80") << 1007;
    }
    void closeFramesAreValidated()
    {
        QFETCH(int, code);
        QFETCH(QByteArray, reason);
        QFETCH(int, answer);
        QTcpSocket raw;
        QVERIFY(openRaw(raw));
        QByteArray payload(2, Qt::Uninitialized);
        qToBigEndian<quint16>(quint16(code), payload.data());
        raw.write(clientFrame(0x8, payload + reason));
        const QList<QByteArray> frames = serverFrames(readUntilClosed(raw));
        QCOMPARE(frames.size(), 1);
        QVERIFY(frames.first().size() >= 2);
        QCOMPARE(int(qFromBigEndian<quint16>(frames.first().constData())), answer);
    }

    // After our close frame, the peer's data is dropped as it comes: a
    // large frame arriving then is never buffered.
    void dataWhileClosingIsNotBuffered()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        QList<QByteArray> received;
        connect(socket.get(), &WireSocket::binaryMessageReceived, this,
                [&received](const QByteArray &message) { received.append(message); });
        socket->close(QWebSocketProtocol::CloseCodeNormal, QStringLiteral("bye"));
        const QByteArray frame = clientFrame(0x2, pattern(60'000));
        // In pieces, as a slow peer sends it: never a whole frame at once.
        for (qsizetype at = 0; at < frame.size(); at += 1000) {
            socket->feed(
                QByteArrayView(frame).sliced(at, qMin<qsizetype>(1000, frame.size() - at)));
            QVERIFY2(socket->bufferCapacity() < 16 * 1024,
                     QByteArray::number(socket->bufferCapacity()).constData());
        }
        // A fragmented message too.
        socket->feed(clientFrame(0x2, pattern(20'000), false));
        QVERIFY(socket->bufferCapacity() < 16 * 1024);
        QVERIFY(received.isEmpty());
        // The peer's close frame still ends the connection.
        QSignalSpy disconnected(socket.get(), &WireSocket::disconnected);
        socket->feed(clientFrame(0x8, QByteArray("\x03\xe8", 2)));
        QVERIFY(disconnected.wait(kWaitMs));
    }

    // Past the message size limit the owner is told first (it may send an
    // error frame and close), then the connection closes with 1009; the
    // limit can change as the connection goes on.
    void messageSizeLimitIsTheOwnersToSet()
    {
        int peer = -1;
        std::unique_ptr<WsSocket> socket = fedSocket(&peer, 1024);
        QVERIFY(socket);
        const auto closePeer = qScopeGuard([peer] { ::close(peer); });
        QList<QByteArray> received;
        connect(socket.get(), &WireSocket::binaryMessageReceived, this,
                [&received](const QByteArray &message) { received.append(message); });
        QSignalSpy tooLarge(socket.get(), &WireSocket::messageTooLarge);
        socket->feed(clientFrame(0x2, pattern(1024)));
        QCOMPARE(received.size(), 1);
        socket->setMaxMessageBytes(4096);
        socket->feed(clientFrame(0x2, pattern(4096)));
        QCOMPARE(received.size(), 2);
        QCOMPARE(tooLarge.count(), 0);
        socket->feed(clientFrame(0x2, pattern(4097)).first(10));
        QCOMPARE(tooLarge.count(), 1);
        QCOMPARE(received.size(), 2);
    }

    void unfinishedUpgradeTimesOut()
    {
        // A listener with a short handshake timeout, for this test only.
        WsListener quick(kMaxMessageBytes, 200);
        QVERIFY(quick.listen(QHostAddress::LocalHost, 0));
        QTcpSocket raw;
        raw.connectToHost(QHostAddress::LocalHost, quick.serverPort());
        QVERIFY(raw.waitForConnected(kWaitMs));
        raw.write("GET / HTTP/1.1\r\n");
        QSignalSpy gone(&raw, &QTcpSocket::disconnected);
        QVERIFY(gone.wait(kWaitMs));
    }
};

QTEST_GUILESS_MAIN(TestWsSocket)
#include "tst_ws_socket.moc"
