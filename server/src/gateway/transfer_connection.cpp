#include "transfer_connection.h"

#include "kith/content.h"
#include "kith/protocol.h"
#include "kith/sha256.h"
#include "logging.h"
#include "metrics.h"
#include "transfer_stream.h"

#include <QTimerEvent>

#include <algorithm>

namespace kith::server {

namespace {
// Per wake-up, a connection moves at most this much; then the others on the
// thread get their turn (the socket stays readable or writable, so it is
// back soon).
constexpr qint64 kBytesPerTurn = 4 * 1024 * 1024;
// sendfile(2) hands the kernel this much at a time.
constexpr qint64 kSendChunkBytes = 1024 * 1024;
// A TLS stream buffers what it encrypts: refill it only below this.
constexpr qint64 kMaxPendingBytes = 1024 * 1024;
// After an answer that ends the connection, what the peer still sends (a
// body we did not read) is read and dropped for a while, so that closing does
// not reset the connection before the answer is read.
constexpr qint64 kLingerBytes = 4 * 1024 * 1024;
constexpr int kLingerMs = 2000;

int statusFor(v1::ErrorCode code)
{
    switch (code) {
    case v1::INVALID_ARGUMENT:
        return 400;
    case v1::TOKEN_INVALID:
    case v1::NOT_AUTHENTICATED:
        return 401;
    case v1::ACCOUNT_DISABLED:
    case v1::PERMISSION_DENIED:
        return 403;
    case v1::NOT_FOUND:
        return 404;
    case v1::OFFSET_MISMATCH:
        return 409;
    case v1::TOO_LARGE:
        return 413;
    case v1::CHECKSUM_MISMATCH:
        return 422;
    case v1::RATE_LIMITED:
        return 429;
    case v1::QUOTA_EXCEEDED:
        return 507;
    case v1::UNAVAILABLE:
    case v1::SHUTTING_DOWN:
        return 503;
    default:
        return 500;
    }
}

QByteArray number(qint64 n)
{
    return QByteArray::number(n);
}

// "/v1/uploads/<id>" -> ("uploads", id); the query, if any, is ignored.
std::pair<QByteArray, QString> route(const QByteArray &target)
{
    QByteArray path = target;
    if (const qsizetype query = path.indexOf('?'); query >= 0)
        path.truncate(query);
    const QList<QByteArray> parts = path.split('/');
    if (parts.size() != 4 || !parts[0].isEmpty() || parts[1] != "v1")
        return {};
    return {parts[2], QString::fromLatin1(parts[3])};
}
} // namespace

TransferConnection::TransferConnection(TransferHub &hub, TransferStream *stream,
                                       QByteArray received)
    : m_hub(hub)
    , m_stream(stream)
    , m_in(std::move(received))
{
    m_stream->setParent(this);
    connect(m_stream, &TransferStream::readable, this, &TransferConnection::onReadable);
    connect(m_stream, &TransferStream::writable, this, &TransferConnection::onWritable);
    m_hub.metrics().transferOpened();
    armTimer(m_hub.options().headTimeoutMs);
    // The first request's head came with the hand-over.
    QMetaObject::invokeMethod(this, &TransferConnection::readHead, Qt::QueuedConnection);
}

TransferConnection::~TransferConnection()
{
    if (m_downloading)
        m_hub.endDownload(m_who.userId);
    m_hub.metrics().transferClosed();
}

void TransferConnection::stop()
{
    m_stopRequested = true;
    m_keepAlive = false;
    if (m_state == State::Head && m_in.isEmpty() && m_out.isEmpty())
        finish();
}

void TransferConnection::armTimer(int ms)
{
    m_timer.start(std::max(1, ms), this);
}

void TransferConnection::touch()
{
    armTimer(m_hub.options().idleTimeoutMs);
}

void TransferConnection::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timer.timerId())
        return QObject::timerEvent(event);
    m_timer.stop();
    switch (m_state) {
    case State::Head:
        if (m_in.isEmpty())
            return finish(); // an idle keep-alive connection
        return answerError(makeError(v1::INVALID_ARGUMENT,
                                     QStringLiteral("The request head did not arrive in time")),
                           {}, true);
    case State::Body:
        qCDebug(lcFiles) << "upload" << m_upload.id << "stalled at" << m_part->size();
        m_hub.keepHash(m_upload.id, m_part->size(), m_hash.release());
        return finish();
    case State::Sending:
    case State::Draining:
    case State::Lingering:
        return finish();
    case State::Finishing:
    case State::Closed:
        return;
    }
}

void TransferConnection::onReadable()
{
    switch (m_state) {
    case State::Head:
        return readHead();
    case State::Body:
        return readBody();
    case State::Lingering: {
        char scratch[16 * 1024];
        for (;;) {
            const qint64 got = m_stream->read(scratch, sizeof scratch);
            if (got < 0 || m_lingerLeft <= 0)
                return finish();
            if (got == 0)
                return;
            m_lingerLeft -= got;
        }
    }
    case State::Finishing:
    case State::Sending:
    case State::Draining:
    case State::Closed:
        m_stream->setReadInterest(false);
        return;
    }
}

void TransferConnection::onWritable()
{
    m_stream->setWriteInterest(false);
    if (m_state == State::Sending)
        return sendMore();
    if (!flush())
        return;
    if (m_state == State::Draining)
        return linger();
}

void TransferConnection::readHead()
{
    if (m_state != State::Head)
        return;
    for (;;) {
        const qsizetype end = m_in.indexOf("\r\n\r\n");
        if (end >= 0) {
            const QByteArray head = m_in.left(end);
            m_in.remove(0, end + 4);
            m_stream->setReadInterest(false);
            const Result<http::RequestHead> parsed = http::parseRequestHead(head);
            if (!parsed)
                return answerError(parsed.error(), {}, true);
            return handleRequest(*parsed);
        }
        if (m_in.size() > http::kMaxHeadBytes) {
            m_keepAlive = false;
            answer(431, {}, true);
            return;
        }
        char chunk[16 * 1024];
        const qint64 got = m_stream->read(chunk, sizeof chunk);
        if (got < 0)
            return finish();
        if (got == 0) {
            m_stream->setReadInterest(true);
            return;
        }
        if (m_in.isEmpty())
            armTimer(m_hub.options().headTimeoutMs);
        m_in.append(chunk, got);
    }
}

void TransferConnection::handleRequest(const http::RequestHead &head)
{
    m_keepAlive = head.keepAlive() && !m_stopRequested;
    const std::optional<qint64> bodyLength =
        head.has("content-length") ? http::parseLength(head.header("content-length")) : qint64(0);
    // A body is only ever an upload's; anything odd about it ends the connection.
    const bool bodyFollows = !bodyLength || *bodyLength > 0 || head.has("transfer-encoding");
    if (m_hub.stopping())
        return answerError(makeError(v1::SHUTTING_DOWN, QStringLiteral("The server is stopping")),
                           {}, true);
    const auto [kind, id] = route(head.target);
    const bool uploads = kind == "uploads";
    const bool files = kind == "files";
    if (!uploads && !files)
        return answerError(makeError(v1::NOT_FOUND, QStringLiteral("No such path")), {},
                           bodyFollows);
    const QByteArray &method = head.method;
    const bool allowed =
        uploads ? method == "PUT" || method == "HEAD" : method == "GET" || method == "HEAD";
    if (!allowed) {
        m_keepAlive = m_keepAlive && !bodyFollows;
        answer(405, {{"Allow", uploads ? "PUT, HEAD" : "GET, HEAD"}}, bodyFollows);
        return;
    }
    if (method != "PUT" && bodyFollows)
        return answerError(makeError(v1::INVALID_ARGUMENT, QStringLiteral("No body expected")), {},
                           true);

    const QByteArray authorization = head.header("authorization");
    const QByteArray token =
        authorization.startsWith("Bearer ") ? authorization.mid(7).trimmed() : QByteArray();
    const Result<Principal> who = m_hub.files().authenticate(token);
    if (!who) {
        if (const quint32 wait = m_hub.takeFailedAuth(m_stream->peerAddress().toString()))
            return answerError(makeError(v1::RATE_LIMITED,
                                         QStringLiteral("Too many requests with a bad token"),
                                         wait),
                               {}, true);
        return answerError(who.error(), {{"WWW-Authenticate", "Bearer"}}, bodyFollows);
    }
    m_who = *who;
    if (const quint32 wait = m_hub.takeRequest(m_who.userId))
        return answerError(makeError(v1::RATE_LIMITED, QStringLiteral("Too many requests"), wait),
                           {}, bodyFollows);
    if (method == "PUT")
        return handlePut(head, m_who, id);
    if (uploads)
        return handleUploadHead(m_who, id);
    return handleGet(head, m_who, id, method == "GET");
}

void TransferConnection::handlePut(const http::RequestHead &head, const Principal &who,
                                   const QString &id)
{
    if (head.has("transfer-encoding"))
        return answerError(makeError(v1::INVALID_ARGUMENT,
                                     QStringLiteral("Send the upload with a Content-Length")),
                           {}, true);
    const std::optional<qint64> length = http::parseLength(head.header("content-length"));
    if (!length) {
        m_keepAlive = false;
        return answer(411, {}, true);
    }
    const bool bodyFollows = *length > 0;
    const std::optional<qint64> offset = http::parseLength(head.header("upload-offset"));
    if (!offset)
        return answerError(makeError(v1::INVALID_ARGUMENT,
                                     QStringLiteral("Say where the bytes go with Upload-Offset")),
                           {}, bodyFollows);
    Result<FileRecord> upload = m_hub.files().uploadOf(who, id);
    if (!upload)
        return answerError(upload.error(), {}, bodyFollows);
    if (upload->complete)
        return answer(201, {{"Upload-Offset", number(qint64(upload->size))}}, bodyFollows);
    if (quint64(*offset) + quint64(*length) > upload->size)
        return answerError(
            makeError(v1::TOO_LARGE, QStringLiteral("The upload has %1 bytes, not %2 or more")
                                         .arg(upload->size)
                                         .arg(*offset + *length)),
            {}, bodyFollows);
    Result<std::unique_ptr<BlobStore::PartWriter>> part = m_hub.files().blobs().openPart(id);
    if (!part) {
        QList<std::pair<QByteArray, QByteArray>> headers;
        if (part.error().code == v1::OFFSET_MISMATCH) {
            const Result<qint64> held = m_hub.files().blobs().partSize(id);
            headers.push_back({"Upload-Offset", number(held ? *held : 0)});
        }
        return answerError(part.error(), headers, bodyFollows);
    }
    if ((*part)->size() != *offset)
        return answerError(makeError(v1::OFFSET_MISMATCH,
                                     QStringLiteral("The server holds %1 bytes of this upload; "
                                                    "send from there")
                                         .arg((*part)->size())),
                           {{"Upload-Offset", number((*part)->size())}}, bodyFollows);
    m_upload = std::move(*upload);
    m_part = std::move(*part);
    m_hash = m_hub.onLane(m_hub.takeHash(id, *offset));
    m_bodyLeft = *length;
    if (bodyFollows && head.header("expect").toLower() == "100-continue")
        queue("HTTP/1.1 100 Continue\r\n\r\n");
    m_state = State::Body;
    touch();
    if (m_buffer.isEmpty())
        m_buffer.resize(kTransferBufferBytes);
    readBody();
}

void TransferConnection::readBody()
{
    if (m_state != State::Body)
        return;
    if (!flush()) // a 100 Continue not out yet
        m_stream->setWriteInterest(true);
    const auto store = [this](QByteArrayView bytes) -> bool {
        if (const Status stored = m_part->append(bytes); !stored) {
            m_hash.reset(); // what went in is not known any more: read back at the end
            answerError(stored.error(), {}, true);
            return false;
        }
        m_bodyLeft -= bytes.size();
        m_hub.metrics().uploadBytes(quint64(bytes.size()));
        return true;
    };
    if (!m_in.isEmpty() && m_bodyLeft > 0) {
        const qsizetype take = qsizetype(std::min<qint64>(m_in.size(), m_bodyLeft));
        if (!store(QByteArrayView(m_in).first(take)))
            return;
        m_hash.add(QByteArrayView(m_in).first(take));
        m_in.remove(0, take);
    }
    qint64 budget = kBytesPerTurn;
    while (m_bodyLeft > 0 && budget > 0) {
        const qint64 got =
            m_stream->read(m_buffer.data(), std::min<qint64>(m_buffer.size(), m_bodyLeft));
        if (got < 0) {
            // Cut off: what arrived is kept; the upload resumes from there.
            m_hub.keepHash(m_upload.id, m_part->size(), m_hash.release());
            return finish();
        }
        if (got == 0) {
            m_stream->setReadInterest(true);
            return;
        }
        if (!store(QByteArrayView(m_buffer.data(), got)))
            return;
        m_hash.hand(m_buffer, qsizetype(got)); // hashed beside this thread
        budget -= got;
        touch();
    }
    if (m_bodyLeft > 0) {
        m_stream->setReadInterest(true); // the socket is still readable: back soon
        return;
    }
    bodyDone();
}

void TransferConnection::bodyDone()
{
    m_stream->setReadInterest(false);
    const qint64 held = m_part->size();
    if (quint64(held) < m_upload.size) {
        m_hub.keepHash(m_upload.id, held, m_hash.release());
        m_part.reset();
        return answer(204, {{"Upload-Offset", number(held)}});
    }
    m_state = State::Finishing;
    m_timer.stop();
    std::optional<QByteArray> digest;
    if (const std::unique_ptr<Sha256> hash = m_hash.release())
        digest = hash->result();
    m_hub.files().finishUpload(
        m_upload, std::move(m_part), std::move(digest), this,
        [this](Result<FileRecord> result) { onFinished(std::move(result)); });
}

void TransferConnection::onFinished(Result<FileRecord> result)
{
    if (m_state != State::Finishing)
        return;
    if (!result) {
        if (result.error().code == v1::CHECKSUM_MISMATCH)
            m_hub.metrics().checksumMismatch();
        return answerError(result.error());
    }
    m_hub.metrics().uploadFinished();
    qCDebug(lcFiles) << "upload" << result->id << "finished by user" << m_who.userId;
    answer(201, {{"Upload-Offset", number(qint64(result->size))}});
}

void TransferConnection::handleUploadHead(const Principal &who, const QString &id)
{
    const Result<FileRecord> upload = m_hub.files().uploadOf(who, id);
    if (!upload)
        return answerError(upload.error());
    qint64 held = qint64(upload->size);
    if (!upload->complete) {
        const Result<qint64> size = m_hub.files().blobs().partSize(id);
        if (!size)
            return answerError(size.error());
        held = *size;
    }
    answer(200, {{"Upload-Offset", number(held)},
                 {"Upload-Length", number(qint64(upload->size))},
                 {"Kith-Upload-Complete", upload->complete ? "1" : "0"},
                 {"Cache-Control", "no-store"}});
}

void TransferConnection::handleGet(const http::RequestHead &head, const Principal &who,
                                   const QString &id, bool bodyToo)
{
    if (!m_hub.startDownload(who.userId))
        return answerError(makeError(
            v1::RATE_LIMITED,
            QStringLiteral("%1 downloads at once at most").arg(m_hub.options().downloadsPerUser),
            1000));
    m_downloading = true;
    const Result<FileRecord> file = m_hub.files().downloadable(who, id);
    if (!file)
        return answerError(file.error());
    Result<std::unique_ptr<BlobStore::BlobReader>> blob =
        m_hub.files().blobs().openBlob(file->sha256);
    if (!blob) {
        // Finished a moment ago; its bytes are still being stored.
        if (blob.error().code == v1::NOT_FOUND)
            return answerError(makeError(
                v1::UNAVAILABLE, QStringLiteral("The file is being stored; try again"), 1000));
        return answerError(blob.error());
    }
    const qint64 size = (*blob)->size();
    const QByteArray hex = file->sha256.toHex();
    QList<std::pair<QByteArray, QByteArray>> headers = {
        {"Content-Type", "application/octet-stream"},
        {"Accept-Ranges", "bytes"},
        {"ETag", '"' + hex + '"'},
        {"Kith-Sha256", hex},
        // A file's bytes never change: a client may keep them.
        {"Cache-Control", "private, max-age=31536000, immutable"},
    };
    const http::ByteRange range = http::parseRange(head.header("range"), size);
    if (range.kind == http::ByteRange::Kind::Unsatisfiable) {
        headers.push_back({"Content-Range", "bytes */" + number(size)});
        return answerError(
            makeError(v1::INVALID_ARGUMENT, QStringLiteral("The file has %1 bytes").arg(size)),
            headers);
    }
    int status = 200;
    m_sendAt = 0;
    m_sendEnd = size;
    if (range.kind == http::ByteRange::Kind::Part) {
        status = 206;
        m_sendAt = range.first;
        m_sendEnd = range.last + 1;
        headers.push_back({"Content-Range", "bytes " + number(range.first) + '-' +
                                                number(range.last) + '/' + number(size)});
    }
    headers.push_back({"Content-Length", number(m_sendEnd - m_sendAt)});
    if (!m_keepAlive)
        headers.push_back({"Connection", "close"});
    if (!bodyToo) {
        m_hub.endDownload(who.userId);
        m_downloading = false;
        queue(http::responseHead(status, headers));
        return requestDone();
    }
    queue(http::responseHead(status, headers));
    m_blob = std::move(*blob);
    m_state = State::Sending;
    touch();
    sendMore();
}

void TransferConnection::sendMore()
{
    if (m_state != State::Sending)
        return;
    if (!flush()) {
        m_stream->setWriteInterest(true);
        return;
    }
    qint64 budget = kBytesPerTurn;
    const int fd = m_blob->fileDescriptor();
    while (m_sendAt < m_sendEnd && budget > 0) {
        const qint64 want = std::min({kSendChunkBytes, m_sendEnd - m_sendAt, budget});
        qint64 sent = 0;
        if (fd >= 0) {
            sent = m_stream->sendFile(fd, &m_sendAt, want);
        } else {
            // No descriptor (or TLS): through a buffer, keeping what is
            // buffered below kMaxPendingBytes.
            if (m_stream->pendingBytes() > kMaxPendingBytes) {
                m_stream->setWriteInterest(true);
                return;
            }
            if (m_buffer.size() < kTransferBufferBytes)
                m_buffer.resize(kTransferBufferBytes);
            const qint64 got =
                m_blob->read(m_sendAt, m_buffer.data(), std::min<qint64>(want, m_buffer.size()));
            if (got <= 0) {
                qCWarning(lcFiles) << "cannot read the blob of a download";
                return finish();
            }
            m_sendAt += got;
            queue(QByteArray(m_buffer.constData(), got));
            sent = got;
            if (!flush()) {
                m_hub.metrics().downloadBytes(quint64(sent));
                m_stream->setWriteInterest(true);
                return;
            }
        }
        if (sent < 0)
            return finish();
        if (sent == 0) {
            m_stream->setWriteInterest(true);
            return;
        }
        m_hub.metrics().downloadBytes(quint64(sent));
        budget -= sent;
        touch();
    }
    if (m_sendAt < m_sendEnd) {
        m_stream->setWriteInterest(true); // more to go, after the others' turn
        return;
    }
    m_blob.reset();
    m_hub.endDownload(m_who.userId);
    m_downloading = false;
    m_state = State::Head;
    requestDone();
}

void TransferConnection::answer(int status, QList<std::pair<QByteArray, QByteArray>> headers,
                                bool closeAfter)
{
    bool hasLength = false;
    for (const auto &[name, value] : std::as_const(headers))
        hasLength = hasLength || name.compare("content-length", Qt::CaseInsensitive) == 0;
    if (!hasLength)
        headers.push_back({"Content-Length", "0"});
    if (closeAfter || !m_keepAlive)
        headers.push_back({"Connection", "close"});
    m_closeAfter = m_closeAfter || closeAfter || !m_keepAlive;
    if (status >= 400)
        m_hub.metrics().transferError(status);
    queue(http::responseHead(status, headers));
    requestDone();
}

void TransferConnection::answerError(const Error &error,
                                     QList<std::pair<QByteArray, QByteArray>> headers,
                                     bool closeAfter)
{
    const bool unsatisfiable = std::any_of(
        headers.cbegin(), headers.cend(), [](const auto &h) { return h.first == "Content-Range"; });
    const int status = unsatisfiable ? 416 : statusFor(error.code);
    const QByteArray body = error.message.toUtf8() + '\n';
    headers.push_back({"Kith-Error", errorCodeName(error.code)});
    headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
    headers.push_back({"Content-Length", number(body.size())});
    if (error.retryAfterMs > 0)
        headers.push_back({"Retry-After", number((error.retryAfterMs + 999) / 1000)});
    if (closeAfter || !m_keepAlive)
        headers.push_back({"Connection", "close"});
    m_closeAfter = m_closeAfter || closeAfter || !m_keepAlive;
    m_hub.metrics().transferError(status);
    qCDebug(lcFiles) << "transfer answered" << status << errorCodeName(error.code) << error.message;
    queue(http::responseHead(status, headers) + body);
    requestDone();
}

void TransferConnection::queue(const QByteArray &bytes)
{
    m_out.append(bytes);
}

bool TransferConnection::flush()
{
    while (!m_out.isEmpty()) {
        const qint64 wrote = m_stream->write(m_out.constData(), m_out.size());
        if (wrote < 0) {
            finish();
            return false;
        }
        if (wrote == 0) {
            m_stream->setWriteInterest(true);
            return false;
        }
        m_out.remove(0, qsizetype(wrote));
    }
    return true;
}

void TransferConnection::requestDone()
{
    // What belonged to the request goes (an upload's part is closed, and with it its lock).
    m_part.reset();
    m_hash.reset();
    m_blob.reset();
    m_bodyLeft = 0;
    if (m_downloading) {
        m_hub.endDownload(m_who.userId);
        m_downloading = false;
    }
    if (m_state == State::Closed)
        return;
    if (m_closeAfter || !m_keepAlive || m_stopRequested)
        return linger();
    m_state = State::Head;
    armTimer(m_hub.options().idleTimeoutMs);
    if (flush())
        QMetaObject::invokeMethod(this, &TransferConnection::readHead, Qt::QueuedConnection);
}

void TransferConnection::linger()
{
    m_closeAfter = true;
    if (!flush()) {
        if (m_state != State::Closed) {
            m_state = State::Draining; // onWritable comes back here
            armTimer(m_hub.options().idleTimeoutMs);
        }
        return;
    }
    m_stream->shutdownWrite();
    m_state = State::Lingering;
    m_lingerLeft = kLingerBytes;
    armTimer(kLingerMs);
    m_stream->setReadInterest(true);
    onReadable();
}

void TransferConnection::finish()
{
    if (m_state == State::Closed)
        return;
    m_state = State::Closed;
    m_timer.stop();
    m_stream->close();
    m_hub.forget(this);
    deleteLater();
}

} // namespace kith::server
