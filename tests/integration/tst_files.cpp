// Files end to end on a real kithd: an upload asked for on the WebSocket, its
// bytes sent over HTTP on the same port in pieces (resumed after a cut and
// after kill -9), verified by SHA-256, sent in a message and downloaded by a
// member with and without a range; and the bad input of the issue: limits
// refused before the bytes, a wrong checksum, pieces out of order or
// overlapping, someone else's upload, a file one may not see (the same answer
// as a file that does not exist), a range past the end, a zero-byte file, a
// name with "../", NUL or an RTL override, bad tokens, and an upload that is
// never finished (dropped with its bytes once expired).

#include "test_client.h"
#include "test_server.h"

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "kith/sha256.h"

#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTest>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <functional>
#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kWaitMs = 20000;
// Small limits so the tests cross them with small files.
constexpr qint64 kMaxFileBytes = 4 * 1024 * 1024;
constexpr qint64 kQuotaBytes = 6 * 1024 * 1024;
constexpr int kUploadsPerUser = 3;

struct HttpResponse
{
    int status = 0; // 0: no answer (the connection failed or closed first)
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

QByteArray randomBytes(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char(QRandomGenerator::global()->generate());
    return bytes;
}

// Reads one HTTP/1.1 response (with a Content-Length; HEAD answers have no body).
HttpResponse readResponse(QTcpSocket &socket, bool head)
{
    HttpResponse response;
    QByteArray in;
    QDeadlineTimer deadline(kWaitMs);
    qsizetype headEnd = -1;
    while ((headEnd = in.indexOf("\r\n\r\n")) < 0) {
        if (deadline.hasExpired() || (!socket.waitForReadyRead(int(deadline.remainingTime())) &&
                                      socket.bytesAvailable() == 0))
            return response;
        in += socket.readAll();
    }
    const QList<QByteArray> lines = in.left(headEnd).split('\n');
    const QList<QByteArray> status = lines.first().trimmed().split(' ');
    if (status.size() < 2)
        return response;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines[i].indexOf(':');
        if (colon > 0)
            response.headers.append(
                {lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed()});
    }
    QByteArray body = in.mid(headEnd + 4);
    const qint64 length = head ? 0 : response.header("Content-Length").toLongLong();
    while (body.size() < length) {
        if (deadline.hasExpired() || (!socket.waitForReadyRead(int(deadline.remainingTime())) &&
                                      socket.bytesAvailable() == 0))
            return response;
        body += socket.readAll();
    }
    response.status = status[1].toInt();
    response.body = body.left(length);
    return response;
}

// One request on a connection of its own.
HttpResponse request(quint16 port, const QByteArray &method, const QByteArray &path,
                     const QList<std::pair<QByteArray, QByteArray>> &headers,
                     const QByteArray &body = {})
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(kWaitMs))
        return {};
    QByteArray head = method + ' ' + path + " HTTP/1.1\r\nHost: localhost\r\n";
    for (const auto &[name, value] : headers)
        head += name + ": " + value + "\r\n";
    if (method == "PUT")
        head += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    head += "\r\n";
    socket.write(head + body);
    return readResponse(socket, method == "HEAD");
}

QByteArray bearer(const TestClient &client)
{
    return "Bearer " + client.token().toUtf8();
}

HttpResponse put(quint16 port, const TestClient &client, const QString &uploadId, qint64 offset,
                 const QByteArray &bytes)
{
    return request(
        port, "PUT", "/v1/uploads/" + uploadId.toUtf8(),
        {{"Authorization", bearer(client)}, {"Upload-Offset", QByteArray::number(offset)}}, bytes);
}

HttpResponse uploadHead(quint16 port, const TestClient &client, const QString &uploadId)
{
    return request(port, "HEAD", "/v1/uploads/" + uploadId.toUtf8(),
                   {{"Authorization", bearer(client)}});
}

HttpResponse get(quint16 port, const TestClient &client, const QString &fileId,
                 const QByteArray &range = {})
{
    QList<std::pair<QByteArray, QByteArray>> headers{{"Authorization", bearer(client)}};
    if (!range.isEmpty())
        headers.append({"Range", range});
    return request(port, "GET", "/v1/files/" + fileId.toUtf8(), headers);
}

std::optional<v1::Envelope> createUpload(TestClient &client, const QByteArray &bytes,
                                         const QByteArray &mime = "application/octet-stream")
{
    v1::Envelope envelope;
    auto *create = envelope.mutable_create_upload();
    create->set_size(quint64(bytes.size()));
    create->set_sha256(Sha256::of(bytes).toStdString());
    create->set_mime_type(mime.toStdString());
    return client.request(envelope);
}

v1::ErrorCode errorOf(const std::optional<v1::Envelope> &answer)
{
    return answer && answer->has_error() ? answer->error().code() : v1::ERROR_UNSPECIFIED;
}

std::optional<v1::Envelope> sendFile(TestClient &client, const QString &conversationId,
                                     const QString &fileId, const QByteArray &bytes,
                                     const QString &name)
{
    v1::Envelope envelope;
    auto *send = envelope.mutable_send();
    send->set_conversation_id(conversationId.toStdString());
    send->set_client_msg_id(newClientMsgId().toStdString());
    auto *file = send->mutable_content()->mutable_file();
    file->set_file_id(fileId.toStdString());
    file->set_name(name.toStdString());
    file->set_mime_type("application/octet-stream");
    file->set_size(quint64(bytes.size()));
    file->set_sha256(Sha256::of(bytes).toStdString());
    return client.request(envelope);
}

// A GET of a file that reads only the start of the answer and then goes: the
// reading side shut, so kithd's next send meets a connection the peer reset.
// A small receive buffer keeps most of the file waiting in kithd. True when
// the first bytes came.
bool cutOffDownload(quint16 port, const TestClient &client, const QString &fileId)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    timeval timeout{kWaitMs / 1000, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bool started = false;
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) == 0) {
        const QByteArray head = "GET /v1/files/" + fileId.toUtf8() +
                                " HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + bearer(client) +
                                "\r\n\r\n";
        char first[1024];
        started = ::send(fd, head.constData(), size_t(head.size()), MSG_NOSIGNAL) ==
                      ssize_t(head.size()) &&
                  ::recv(fd, first, sizeof first, 0) > 0;
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    return started;
}

// Polls a condition that the server makes true by itself (bytes stored, a
// sweep done), a bounded number of times.
bool eventually(const std::function<bool()> &condition)
{
    for (int i = 0; i < kWaitMs / 50; ++i) {
        if (condition())
            return true;
        QTest::qWait(50);
    }
    return condition();
}

// Files under `folder` (recursively), for "nothing left behind".
QStringList filesUnder(const QString &folder)
{
    QStringList found;
    QDirIterator it(folder, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext())
        found.append(it.next());
    return found;
}

} // namespace

class TestFiles : public QObject
{
    Q_OBJECT

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<TestClient> m_alice;
    std::unique_ptr<TestClient> m_bob;
    std::unique_ptr<TestClient> m_carol;

    quint16 port() const { return quint16(m_server->url().port()); }
    QString partsDir() const { return m_server->dataDir() + QStringLiteral("/files/parts"); }
    QString blobsDir() const { return m_server->dataDir() + QStringLiteral("/files/blobs"); }

    void connectAll()
    {
        m_alice = std::make_unique<TestClient>();
        m_bob = std::make_unique<TestClient>();
        m_carol = std::make_unique<TestClient>();
        QVERIFY(m_alice->connectAndLogin(m_server->url(), QStringLiteral("alice")));
        QVERIFY(m_bob->connectAndLogin(m_server->url(), QStringLiteral("bob")));
        QVERIFY(m_carol->connectAndLogin(m_server->url(), QStringLiteral("carol")));
    }

    // A finished upload of `bytes` by `client`: its id.
    QString upload(TestClient &client, const QByteArray &bytes)
    {
        const auto ticket = createUpload(client, bytes);
        if (!ticket || !ticket->has_upload_ticket()) {
            qWarning() << "no ticket:" << describe(ticket);
            return {};
        }
        const QString id = toQString(ticket->upload_ticket().upload_id());
        if (ticket->upload_ticket().complete())
            return id;
        const HttpResponse done =
            put(port(), client, id, qint64(ticket->upload_ticket().received()),
                bytes.mid(qsizetype(ticket->upload_ticket().received())));
        if (done.status != 201) {
            qWarning() << "upload answered" << done.status << done.body;
            return {};
        }
        return id;
    }

private slots:
    void initTestCase()
    {
        m_server = std::make_unique<TestServer>(
            QStringList{QStringLiteral("--max-file-bytes"), QString::number(kMaxFileBytes),
                        QStringLiteral("--quota-bytes"), QString::number(kQuotaBytes),
                        QStringLiteral("--uploads-per-user"), QString::number(kUploadsPerUser)});
        QVERIFY(m_server->start());
        for (const char *name : {"alice", "bob", "carol"}) {
            TestClient client;
            QVERIFY(client.connectAndRegister(m_server->url(), QString::fromLatin1(name)));
        }
        connectAll();
    }

    void resumableUploadAndRangedDownload()
    {
        const QByteArray bytes = randomBytes(1024 * 1024 + 17);
        const auto ticket = createUpload(*m_alice, bytes);
        QVERIFY2(ticket && ticket->has_upload_ticket(), describe(ticket).constData());
        const QString id = toQString(ticket->upload_ticket().upload_id());
        QVERIFY(isValidFileId(id.toStdString()));
        QCOMPARE(ticket->upload_ticket().received(), 0u);
        QCOMPARE(ticket->upload_ticket().upload_path(), "/v1/uploads/" + id.toStdString());

        // The first piece, then the rest: the server says where to go on.
        const qint64 cut = 300'000;
        const HttpResponse first = put(port(), *m_alice, id, 0, bytes.left(cut));
        QCOMPARE(first.status, 204);
        QCOMPARE(first.header("Upload-Offset").toLongLong(), cut);
        const HttpResponse held = uploadHead(port(), *m_alice, id);
        QCOMPARE(held.status, 200);
        QCOMPARE(held.header("Upload-Offset").toLongLong(), cut);
        QCOMPARE(held.header("Upload-Length").toLongLong(), bytes.size());
        // Asking again for the same bytes finds the upload under way.
        const auto again = createUpload(*m_alice, bytes);
        QVERIFY(again && again->has_upload_ticket());
        QCOMPARE(toQString(again->upload_ticket().upload_id()), id);
        QCOMPARE(again->upload_ticket().received(), quint64(cut));

        const HttpResponse rest = put(port(), *m_alice, id, cut, bytes.mid(cut));
        QCOMPARE(rest.status, 201);
        QCOMPARE(rest.header("Upload-Offset").toLongLong(), bytes.size());
        // Nothing of it is left as a part.
        QVERIFY(!QFile::exists(partsDir() + QLatin1Char('/') + id));

        const QString direct = directConversationId(m_alice->userId(), m_bob->userId());
        const auto sent = sendFile(*m_alice, direct, id, bytes, QStringLiteral("data.bin"));
        QVERIFY2(sent && sent->has_send_ack(), describe(sent).constData());

        const HttpResponse whole = get(port(), *m_bob, id);
        QCOMPARE(whole.status, 200);
        QVERIFY(whole.body == bytes);
        QCOMPARE(whole.header("Kith-Sha256"), Sha256::of(bytes).toHex());
        const HttpResponse part = get(port(), *m_bob, id, "bytes=1000-");
        QCOMPARE(part.status, 206);
        QCOMPARE(part.header("Content-Range"), "bytes 1000-" +
                                                   QByteArray::number(bytes.size() - 1) + '/' +
                                                   QByteArray::number(bytes.size()));
        QVERIFY(part.body == bytes.mid(1000));
        const HttpResponse tail = get(port(), *m_bob, id, "bytes=-10");
        QCOMPARE(tail.status, 206);
        QVERIFY(tail.body == bytes.right(10));
        // The uploader may fetch it too.
        QCOMPARE(get(port(), *m_alice, id, "bytes=0-9").body, bytes.left(10));

        // Past the end: 416 with the size.
        const HttpResponse past =
            get(port(), *m_bob, id, "bytes=" + QByteArray::number(bytes.size()) + '-');
        QCOMPARE(past.status, 416);
        QCOMPARE(past.header("Content-Range"), "bytes */" + QByteArray::number(bytes.size()));
    }

    void outsidersGetTheAnswerForAMissingFile()
    {
        const QByteArray bytes = randomBytes(5000);
        const QString id = upload(*m_alice, bytes);
        QVERIFY(!id.isEmpty());
        const QString direct = directConversationId(m_alice->userId(), m_bob->userId());
        const auto sent = sendFile(*m_alice, direct, id, bytes, QStringLiteral("secret.txt"));
        QVERIFY2(sent && sent->has_send_ack(), describe(sent).constData());
        QCOMPARE(get(port(), *m_bob, id).status, 200);

        const HttpResponse outsider = get(port(), *m_carol, id);
        const HttpResponse missing = get(port(), *m_carol, QString::fromStdString(newFileId()));
        QCOMPARE(outsider.status, 404);
        QCOMPARE(outsider.status, missing.status);
        QCOMPARE(outsider.body, missing.body);
        QCOMPARE(outsider.header("Kith-Error"), missing.header("Kith-Error"));
        QCOMPARE(request(port(), "HEAD", "/v1/files/" + id.toUtf8(),
                         {{"Authorization", bearer(*m_carol)}})
                     .status,
                 404);
        // Nor may an outsider send it in a message of their own.
        const QString carolBob = directConversationId(m_carol->userId(), m_bob->userId());
        const auto stolen = sendFile(*m_carol, carolBob, id, bytes, QStringLiteral("x"));
        QVERIFY2(stolen && stolen->has_error(), describe(stolen).constData());

        // A finished upload that no message carries is the uploader's alone.
        const QString unsent = upload(*m_alice, randomBytes(100));
        QVERIFY(!unsent.isEmpty());
        QCOMPARE(get(port(), *m_alice, unsent).status, 200);
        QCOMPARE(get(port(), *m_bob, unsent).status, 404);

        // No token, a bad token: 401, and nothing else is said.
        QCOMPARE(request(port(), "GET", "/v1/files/" + id.toUtf8(), {}).status, 401);
        QCOMPARE(request(port(), "GET", "/v1/files/" + id.toUtf8(),
                         {{"Authorization", "Bearer not-a-token"}})
                     .status,
                 401);
    }

    void limitsAreRefusedBeforeTheBytes()
    {
        // Oversized.
        v1::Envelope big;
        big.mutable_create_upload()->set_size(quint64(kMaxFileBytes) + 1);
        big.mutable_create_upload()->set_sha256(std::string(32, 'x'));
        QCOMPARE(errorOf(m_carol->request(big)), v1::TOO_LARGE);
        // Without a checksum.
        v1::Envelope noSum;
        noSum.mutable_create_upload()->set_size(10);
        QCOMPARE(errorOf(m_carol->request(noSum)), v1::INVALID_ARGUMENT);

        // Uploads under way per user.
        QList<QString> open;
        for (int i = 0; i < kUploadsPerUser; ++i) {
            const auto ticket = createUpload(*m_carol, randomBytes(1000));
            QVERIFY2(ticket && ticket->has_upload_ticket(), describe(ticket).constData());
            open.append(toQString(ticket->upload_ticket().upload_id()));
        }
        QCOMPARE(errorOf(createUpload(*m_carol, randomBytes(1000))), v1::RATE_LIMITED);
        for (const QString &id : std::as_const(open)) {
            v1::Envelope cancel;
            cancel.mutable_cancel_upload()->set_upload_id(id.toStdString());
            const auto done = m_carol->request(cancel);
            QVERIFY2(done && done->has_ok(), describe(done).constData());
            QCOMPARE(uploadHead(port(), *m_carol, id).status, 404);
        }

        // The quota: two files of 4 MiB do not fit in 6 MiB.
        const QByteArray four = randomBytes(kMaxFileBytes);
        QVERIFY(!upload(*m_carol, four).isEmpty());
        const auto over = createUpload(*m_carol, randomBytes(kMaxFileBytes));
        QCOMPARE(errorOf(over), v1::QUOTA_EXCEEDED);

        // A PUT longer than the upload is refused before its bytes are stored.
        const QByteArray small = randomBytes(100);
        const auto ticket = createUpload(*m_carol, small);
        QVERIFY(ticket && ticket->has_upload_ticket());
        const QString id = toQString(ticket->upload_ticket().upload_id());
        QCOMPARE(put(port(), *m_carol, id, 0, small + "extra").status, 413);
        QCOMPARE(uploadHead(port(), *m_carol, id).header("Upload-Offset"), "0");
        QCOMPARE(put(port(), *m_carol, id, 0, small).status, 201);
    }

    void wrongChecksumDropsTheUpload()
    {
        const QByteArray bytes = randomBytes(70'000);
        const auto ticket = createUpload(*m_bob, bytes);
        QVERIFY(ticket && ticket->has_upload_ticket());
        const QString id = toQString(ticket->upload_ticket().upload_id());
        QByteArray wrong = bytes;
        wrong[5000] = char(~wrong[5000]);
        const HttpResponse answer = put(port(), *m_bob, id, 0, wrong);
        QCOMPARE(answer.status, 422);
        QCOMPARE(answer.header("Kith-Error"), "CHECKSUM_MISMATCH");
        // The upload and its bytes are gone; it cannot be sent.
        QCOMPARE(uploadHead(port(), *m_bob, id).status, 404);
        QVERIFY(!QFile::exists(partsDir() + QLatin1Char('/') + id));
        const QString direct = directConversationId(m_alice->userId(), m_bob->userId());
        const auto sent = sendFile(*m_bob, direct, id, bytes, QStringLiteral("x"));
        QVERIFY2(sent && sent->has_error(), describe(sent).constData());
    }

    void piecesOutOfOrderOrOverlappingOrSomeoneElses()
    {
        const QByteArray bytes = randomBytes(40'000);
        const auto ticket = createUpload(*m_alice, bytes);
        QVERIFY(ticket && ticket->has_upload_ticket());
        const QString id = toQString(ticket->upload_ticket().upload_id());
        QCOMPARE(put(port(), *m_alice, id, 0, bytes.left(10'000)).status, 204);

        // Ahead of what the server holds, and overlapping it: 409 with the offset.
        const HttpResponse ahead = put(port(), *m_alice, id, 20'000, bytes.mid(20'000, 1000));
        QCOMPARE(ahead.status, 409);
        QCOMPARE(ahead.header("Upload-Offset"), "10000");
        const HttpResponse overlap = put(port(), *m_alice, id, 5000, bytes.mid(5000, 10'000));
        QCOMPARE(overlap.status, 409);
        QCOMPARE(overlap.header("Upload-Offset"), "10000");
        // Without an offset.
        QCOMPARE(request(port(), "PUT", "/v1/uploads/" + id.toUtf8(),
                         {{"Authorization", bearer(*m_alice)}}, bytes.mid(10'000))
                     .status,
                 400);

        // Someone else's upload is not there for them, to write or to ask about.
        const HttpResponse foreign = put(port(), *m_bob, id, 10'000, bytes.mid(10'000));
        QCOMPARE(foreign.status, 404);
        QCOMPARE(uploadHead(port(), *m_bob, id).status, 404);
        QCOMPARE(uploadHead(port(), *m_alice, id).header("Upload-Offset"), "10000");

        QCOMPARE(put(port(), *m_alice, id, 10'000, bytes.mid(10'000)).status, 201);
        QCOMPARE(get(port(), *m_alice, id).body, bytes);
    }

    void zeroBytesAndOddNames()
    {
        const QString empty = upload(*m_alice, QByteArray());
        QVERIFY(!empty.isEmpty());
        const QString direct = directConversationId(m_alice->userId(), m_bob->userId());
        const QByteArray nothing;
        QVERIFY(
            sendFile(*m_alice, direct, empty, nothing, QStringLiteral("empty"))->has_send_ack());
        const HttpResponse got = get(port(), *m_bob, empty);
        QCOMPARE(got.status, 200);
        QCOMPARE(got.header("Content-Length"), "0");
        // An empty file has no range at all.
        QCOMPARE(get(port(), *m_bob, empty, "bytes=0-").status, 416);

        // Names are shown, never paths on the server: "../" goes as it is, a NUL is refused.
        const QByteArray bytes = randomBytes(300);
        const QString id = upload(*m_alice, bytes);
        QVERIFY(!id.isEmpty());
        const QString odd = QStringLiteral("../../etc/passwd\u202Egpj.exe") + QString(300, u'x');
        const auto sent = sendFile(*m_alice, direct, id, bytes, odd);
        QVERIFY2(sent && sent->has_send_ack(), describe(sent).constData());
        const auto withNul = sendFile(*m_alice, direct, id, bytes,
                                      QStringLiteral("a") + QChar(0) + QStringLiteral("b"));
        QCOMPARE(errorOf(withNul), v1::INVALID_ARGUMENT);
        QVERIFY(!QFile::exists(m_server->dataDir() + QStringLiteral("/etc/passwd")));
        QVERIFY(!displayFileName(odd).contains(QChar(0x202E)));
        QVERIFY(!safeLocalFileName(odd).contains(QLatin1Char('/')));
        // Only the ids the server made name files there.
        QCOMPARE(request(port(), "GET", "/v1/files/..%2F..%2Fkith.sqlite3",
                         {{"Authorization", bearer(*m_alice)}})
                     .status,
                 404);
    }

    void sameBytesAreStoredOnce()
    {
        const QByteArray bytes = randomBytes(123'456);
        const QString forBob = upload(*m_bob, bytes);
        const QString forCarol = upload(*m_carol, bytes);
        QVERIFY(!forBob.isEmpty() && !forCarol.isEmpty());
        QVERIFY(forBob != forCarol);
        const QString hex = QString::fromLatin1(Sha256::of(bytes).toHex());
        int copies = 0;
        for (const QString &path : filesUnder(blobsDir()))
            copies += path.endsWith(hex) ? 1 : 0;
        QCOMPARE(copies, 1);
        QCOMPARE(get(port(), *m_bob, forBob).body, bytes);
        QCOMPARE(get(port(), *m_carol, forCarol).body, bytes);
    }

    void hostileHeads()
    {
        // A head far too large is refused before it is whole (by the
        // listener, which has not seen a request line it could hand over).
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port());
        QVERIFY(socket.waitForConnected(kWaitMs));
        socket.write("GET /v1/files/x HTTP/1.1\r\nX: " + QByteArray(20'000, 'a') + "\r\n\r\n");
        QCOMPARE(readResponse(socket, false).status, 400);
        // A method it does not serve, a path it does not have, HTTP it does not speak.

        QCOMPARE(request(port(), "DELETE", "/v1/files/abc", {}).status, 405);
        QCOMPARE(request(port(), "GET", "/v1/other/abc", {}).status, 404);
        QTcpSocket garbage;
        garbage.connectToHost(QHostAddress::LocalHost, port());
        QVERIFY(garbage.waitForConnected(kWaitMs));
        garbage.write("GET /v1/files/x HTTP/9.9\r\n\r\n");
        QCOMPARE(readResponse(garbage, false).status, 400);

        // Guessing tokens from one address soon meets 429.
        int limited = 0;
        for (int i = 0; i < 40 && !limited; ++i) {
            if (request(port(), "GET", "/v1/files/abc", {{"Authorization", "Bearer guess"}})
                    .status == 429)
                ++limited;
        }
        QCOMPARE(limited, 1);

        // Chat goes on meanwhile.
        const QString direct = directConversationId(m_alice->userId(), m_bob->userId());
        const auto text = m_alice->send(direct, QStringLiteral("still here"), newClientMsgId());
        QVERIFY2(text && text->has_send_ack(), describe(text).constData());
    }

    void uploadResumesAcrossKill9()
    {
        const QByteArray bytes = randomBytes(2 * 1024 * 1024);
        const auto ticket = createUpload(*m_bob, bytes);
        QVERIFY(ticket && ticket->has_upload_ticket());
        const QString id = toQString(ticket->upload_ticket().upload_id());

        // The client sends half and the connection is cut mid-body.
        const qint64 sentBefore = 700'000;
        {
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, port());
            QVERIFY(socket.waitForConnected(kWaitMs));
            socket.write(
                "PUT /v1/uploads/" + id.toUtf8() + " HTTP/1.1\r\nAuthorization: " + bearer(*m_bob) +
                "\r\nUpload-Offset: 0\r\nContent-Length: " + QByteArray::number(bytes.size()) +
                "\r\n\r\n" + bytes.left(sentBefore));
            while (socket.bytesToWrite() > 0)
                QVERIFY(socket.waitForBytesWritten(kWaitMs));
            // Every byte sent is stored before the cut is noticed: wait for the part.
            QVERIFY(eventually([&] {
                return uploadHead(port(), *m_bob, id).header("Upload-Offset").toLongLong() ==
                       sentBefore;
            }));
            socket.abort();
        }
        m_server->kill9();
        QVERIFY(m_server->restart());
        connectAll();

        const HttpResponse held = uploadHead(port(), *m_bob, id);
        QCOMPARE(held.status, 200);
        const qint64 offset = held.header("Upload-Offset").toLongLong();
        QCOMPARE(offset, sentBefore);
        // The new connection's answer to the same request says the same.
        const auto again = createUpload(*m_bob, bytes);
        QVERIFY(again && again->has_upload_ticket());
        QCOMPARE(again->upload_ticket().received(), quint64(sentBefore));
        // The rest; the server hashes the part it holds (this node kept no hash).
        QCOMPARE(put(port(), *m_bob, id, offset, bytes.mid(offset)).status, 201);
        QCOMPARE(get(port(), *m_bob, id).body, bytes);
    }

    // An upload that is never finished: on a server of its own whose uploads
    // expire 100 ms after they are asked for.
    void unfinishedUploadsExpireWithTheirBytes()
    {
        TestServer server({QStringLiteral("--upload-expiry-ms"), QStringLiteral("100")});
        QVERIFY(server.start());
        const quint16 serverPort = quint16(server.url().port());
        TestClient dave;
        QVERIFY(dave.connectAndRegister(server.url(), QStringLiteral("dave")));
        const QByteArray bytes = randomBytes(50'000);
        const qint64 askedAt = QDateTime::currentMSecsSinceEpoch();
        const auto ticket = createUpload(dave, bytes);
        QVERIFY(ticket && ticket->has_upload_ticket());
        const QString id = toQString(ticket->upload_ticket().upload_id());
        QCOMPARE(put(serverPort, dave, id, 0, bytes.left(20'000)).status, 204);
        const QString part = server.dataDir() + QStringLiteral("/files/parts/") + id;
        QVERIFY(QFile::exists(part));
        // Its expiry is a time on the clock: let it pass.
        while (QDateTime::currentMSecsSinceEpoch() <= askedAt + 100)
            QTest::qWait(20);

        // The sweep runs at every start: the upload and its bytes go.
        QVERIFY(server.restart());
        QVERIFY(eventually([&] { return !QFile::exists(part); }));
        TestClient back;
        QVERIFY(back.connectAndLogin(server.url(), QStringLiteral("dave")));
        QCOMPARE(uploadHead(serverPort, back, id).status, 404);
        QCOMPARE(filesUnder(server.dataDir() + QStringLiteral("/files/parts")), QStringList());
        // Asking again starts from nothing.
        const auto again = createUpload(back, bytes);
        QVERIFY(again && again->has_upload_ticket());
        QVERIFY(toQString(again->upload_ticket().upload_id()) != id);
        QCOMPARE(again->upload_ticket().received(), 0u);
    }

    // Downloads that the client cuts off while kithd still has most of the
    // file to send: kithd's next send meets a reset connection, which must
    // end that transfer only (it ended kithd by SIGPIPE, as kithd runs from a
    // shell: sendfile(2) has no MSG_NOSIGNAL).
    void aDownloadCutOffMidwayEndsOnlyItself()
    {
        const QByteArray bytes = randomBytes(1536 * 1024);
        const QString id = upload(*m_carol, bytes);
        QVERIFY(!id.isEmpty());
        for (int i = 0; i < 5; ++i) {
            QVERIFY2(cutOffDownload(port(), *m_carol, id),
                     qPrintable(QStringLiteral("cut %1 not answered; kithd %2")
                                    .arg(i)
                                    .arg(m_server->isRunning() ? "running" : "gone")));
            QTest::qWait(100); // kithd sends into the reset connection meanwhile
        }
        QVERIFY(m_server->isRunning());
        QCOMPARE(get(port(), *m_carol, id).body, bytes);
        const QString direct = directConversationId(m_alice->userId(), m_bob->userId());
        const auto text = m_alice->send(direct, QStringLiteral("still here"), newClientMsgId());
        QVERIFY2(text && text->has_send_ack(), describe(text).constData());
    }
};

QTEST_GUILESS_MAIN(TestFiles)
#include "tst_files.moc"
