// File transfers when kithd serves wss:// itself (its default): the same
// port takes the TLS handshake, then tells a WebSocket upgrade from an HTTP
// transfer by the first request line. An upload in two pieces and a ranged
// download over TLS, several requests on one kept-alive connection, a file
// larger than what kithd buffers for a TLS peer, chat on the same port
// meanwhile; connections that never finish their handshake are bounded per
// address and dropped after the timeout, while others still get in.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "kith/sha256.h"

#include <QDeadlineTimer>
#include <QRandomGenerator>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTest>

#include <memory>
#include <vector>

using namespace kith;
using namespace kith::test;

namespace {
constexpr int kWaitMs = 30000;

QSslConfiguration acceptingAnyCertificate()
{
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);
    return tls;
}

QByteArray randomBytes(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char(QRandomGenerator::global()->generate());
    return bytes;
}

struct HttpResponse
{
    int status = 0; // 0: no answer
    QList<std::pair<QByteArray, QByteArray>> headers;
    QByteArray body;

    [[nodiscard]] QByteArray header(const QByteArray &name) const
    {
        for (const auto &[key, value] : headers)
            if (key.compare(name, Qt::CaseInsensitive) == 0)
                return value;
        return {};
    }
};

// An HTTP/1.1 client on one TLS connection, several requests in turn.
class TlsHttp
{
public:
    bool connect(quint16 port)
    {
        m_socket.setSslConfiguration(acceptingAnyCertificate());
        m_socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), port);
        return m_socket.waitForEncrypted(kWaitMs);
    }

    HttpResponse request(const QByteArray &method, const QByteArray &path,
                         const QList<std::pair<QByteArray, QByteArray>> &headers,
                         const QByteArray &body = {})
    {
        QByteArray head = method + ' ' + path + " HTTP/1.1\r\nHost: localhost\r\n";
        for (const auto &[name, value] : headers)
            head += name + ": " + value + "\r\n";
        if (method == "PUT")
            head += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        head += "\r\n";
        m_socket.write(head);
        // The body goes as the peer takes it, as a real client's would.
        for (qsizetype at = 0; at < body.size(); at += 64 * 1024) {
            m_socket.write(body.mid(at, 64 * 1024));
            while (m_socket.bytesToWrite() > 256 * 1024)
                if (!m_socket.waitForBytesWritten(kWaitMs))
                    return {};
        }
        return read(method == "HEAD");
    }

    [[nodiscard]] bool open() const { return m_socket.state() == QAbstractSocket::ConnectedState; }

private:
    bool more(const QDeadlineTimer &deadline)
    {
        if (deadline.hasExpired())
            return false;
        if (!m_socket.waitForReadyRead(int(deadline.remainingTime())) &&
            m_socket.bytesAvailable() == 0)
            return false;
        m_in += m_socket.readAll();
        return true;
    }

    HttpResponse read(bool head)
    {
        HttpResponse response;
        QDeadlineTimer deadline(kWaitMs);
        qsizetype headEnd = -1;
        while ((headEnd = m_in.indexOf("\r\n\r\n")) < 0)
            if (!more(deadline))
                return response;
        const QList<QByteArray> lines = m_in.left(headEnd).split('\n');
        const QList<QByteArray> status = lines.first().trimmed().split(' ');
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                response.headers.append(
                    {lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed()});
        }
        m_in.remove(0, headEnd + 4);
        const qint64 length = head ? 0 : response.header("Content-Length").toLongLong();
        while (m_in.size() < length)
            if (!more(deadline))
                return response;
        response.status = status.size() > 1 ? status[1].toInt() : 0;
        response.body = m_in.left(length);
        m_in.remove(0, length);
        return response;
    }

    QSslSocket m_socket;
    QByteArray m_in;
};

QByteArray bearer(const TestClient &client)
{
    return "Bearer " + client.token().toUtf8();
}
} // namespace

class TestFilesTls : public QObject
{
    Q_OBJECT

    std::unique_ptr<TestServer> m_server;

    quint16 port() const { return quint16(m_server->url().port()); }

private slots:
    void initTestCase()
    {
        if (!QSslSocket::supportsSsl())
            QSKIP("Qt has no TLS backend here");
        m_server = std::make_unique<TestServer>();
        m_server->useOwnCertificate();
        QVERIFY(m_server->start());
        QCOMPARE(m_server->url().scheme(), QStringLiteral("wss"));
    }

    void uploadAndRangedDownloadOverTls()
    {
        TestClient alice;
        alice.setSslConfiguration(acceptingAnyCertificate());
        QVERIFY(alice.connectAndRegister(m_server->url(), QStringLiteral("alice")));
        TestClient bob;
        bob.setSslConfiguration(acceptingAnyCertificate());
        QVERIFY(bob.connectAndRegister(m_server->url(), QStringLiteral("bob")));

        // Larger than kithd lets wait for a TLS peer, so the download goes
        // out piece by piece as the client takes it.
        const QByteArray bytes = randomBytes(3 * 1024 * 1024 + 11);
        v1::Envelope create;
        create.mutable_create_upload()->set_size(quint64(bytes.size()));
        create.mutable_create_upload()->set_sha256(Sha256::of(bytes).toStdString());
        create.mutable_create_upload()->set_mime_type("application/octet-stream");
        const auto ticket = alice.request(create);
        QVERIFY2(ticket && ticket->has_upload_ticket(), describe(ticket).constData());
        const QByteArray id = QByteArray::fromStdString(ticket->upload_ticket().upload_id());

        // Two pieces and a HEAD on one kept-alive connection.
        TlsHttp upload;
        QVERIFY(upload.connect(port()));
        const qint64 cut = 1'000'000;
        const HttpResponse first = upload.request(
            "PUT", "/v1/uploads/" + id, {{"Authorization", bearer(alice)}, {"Upload-Offset", "0"}},
            bytes.left(cut));
        QCOMPARE(first.status, 204);
        QCOMPARE(first.header("Upload-Offset").toLongLong(), cut);
        const HttpResponse held =
            upload.request("HEAD", "/v1/uploads/" + id, {{"Authorization", bearer(alice)}});
        QCOMPARE(held.status, 200);
        QCOMPARE(held.header("Upload-Offset").toLongLong(), cut);
        const HttpResponse rest = upload.request(
            "PUT", "/v1/uploads/" + id,
            {{"Authorization", bearer(alice)}, {"Upload-Offset", QByteArray::number(cut)}},
            bytes.mid(cut));
        QCOMPARE(rest.status, 201);

        v1::Envelope send;
        send.mutable_send()->set_conversation_id(
            directConversationId(alice.userId(), bob.userId()).toStdString());
        send.mutable_send()->set_client_msg_id(newClientMsgId().toStdString());
        auto *file = send.mutable_send()->mutable_content()->mutable_file();
        file->set_file_id(id.toStdString());
        file->set_name("data.bin");
        file->set_mime_type("application/octet-stream");
        file->set_size(quint64(bytes.size()));
        file->set_sha256(Sha256::of(bytes).toStdString());
        const auto sent = alice.request(send);
        QVERIFY2(sent && sent->has_send_ack(), describe(sent).constData());

        TlsHttp download;
        QVERIFY(download.connect(port()));
        const HttpResponse whole =
            download.request("GET", "/v1/files/" + id, {{"Authorization", bearer(bob)}});
        QCOMPARE(whole.status, 200);
        QCOMPARE(whole.body.size(), bytes.size());
        QVERIFY(whole.body == bytes);
        const HttpResponse part =
            download.request("GET", "/v1/files/" + id,
                             {{"Authorization", bearer(bob)}, {"Range", "bytes=2000000-"}});
        QCOMPARE(part.status, 206);
        QVERIFY(part.body == bytes.mid(2'000'000));
        // An outsider's answer is the missing file's, over TLS as on ws://.
        TestClient carol;
        carol.setSslConfiguration(acceptingAnyCertificate());
        QVERIFY(carol.connectAndRegister(m_server->url(), QStringLiteral("carol")));
        QCOMPARE(
            download.request("GET", "/v1/files/" + id, {{"Authorization", bearer(carol)}}).status,
            404);
        QVERIFY(download.open());

        // Chat on the same port went on all the while.
        const auto chat = alice.send(directConversationId(alice.userId(), bob.userId()),
                                     QStringLiteral("got it?"), newClientMsgId());
        QVERIFY2(chat && chat->has_send_ack(), describe(chat).constData());
    }

    void stalledHandshakesAreBoundedAndDropped()
    {
        // 80 connections from 127.0.0.2 that never start TLS: past the
        // per-address budget (64) they are closed at once, the rest when the
        // handshake's time is up; a client from elsewhere gets in meanwhile.
        std::vector<std::unique_ptr<QTcpSocket>> stalled;
        for (int i = 0; i < 80; ++i) {
            auto socket = std::make_unique<QTcpSocket>();
            socket->bind(QHostAddress(QStringLiteral("127.0.0.2")));
            socket->connectToHost(QHostAddress::LocalHost, port());
            stalled.push_back(std::move(socket));
        }
        for (auto &socket : stalled)
            QVERIFY(socket->waitForConnected(kWaitMs) ||
                    socket->state() == QAbstractSocket::UnconnectedState);
        const auto closed = [&stalled] {
            int count = 0;
            for (auto &socket : stalled) {
                socket->waitForReadyRead(0);
                if (socket->state() == QAbstractSocket::UnconnectedState)
                    ++count;
            }
            return count;
        };
        QTRY_VERIFY_WITH_TIMEOUT(closed() >= 80 - 64, kWaitMs);

        TestClient dave;
        dave.setSslConfiguration(acceptingAnyCertificate());
        QVERIFY(dave.connectAndRegister(m_server->url(), QStringLiteral("dave")));
        TestClient erin;
        erin.setSslConfiguration(acceptingAnyCertificate());
        QVERIFY(erin.connectAndRegister(m_server->url(), QStringLiteral("erin")));

        // The rest are dropped when their time is up, and chat goes on.
        QTRY_COMPARE_WITH_TIMEOUT(closed(), 80, kWaitMs);
        const auto chat = dave.send(directConversationId(dave.userId(), erin.userId()),
                                    QStringLiteral("hi"), newClientMsgId());
        QVERIFY2(chat && chat->has_send_ack(), describe(chat).constData());
    }
};

QTEST_GUILESS_MAIN(TestFilesTls)
#include "tst_files_tls.moc"
