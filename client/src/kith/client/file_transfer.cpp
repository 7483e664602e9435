#include "file_transfer.h"

#include "connection.h"
#include "kith/content.h"
#include "kith/fingerprint.h"
#include "kith/protocol.h"
#include "kith/sha256.h"
#include "logging.h"

#include <QFileInfo>
#include <QMimeDatabase>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslError>

#include <algorithm>

namespace kith::client {

namespace {
constexpr int kFirstRetryMs = 1000;
constexpr int kMaxRetryMs = 30'000;

// The error an HTTP answer carries (Kith-Error names the code), or one for
// the network failure.
Error errorOf(QNetworkReply *reply)
{
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0 && reply->error() == QNetworkReply::SslHandshakeFailedError) {
        // Not a network failure that may pass: someone in between, or a key
        // the account has not trusted. Left to the user, never retried.
        return makeError(v1::PERMISSION_DENIED,
                         QStringLiteral("The server's certificate is not the one this account "
                                        "trusts: the transfer was not sent"));
    }
    const QByteArray name = reply->rawHeader("Kith-Error");
    v1::ErrorCode code = v1::ERROR_UNSPECIFIED;
    if (!name.isEmpty() && !v1::ErrorCode_Parse(name.toStdString(), &code))
        code = v1::INTERNAL;
    if (code == v1::ERROR_UNSPECIFIED) {
        if (status == 0)
            code = v1::UNAVAILABLE; // no answer at all: the network
        else if (status == 404)
            code = v1::NOT_FOUND;
        else if (status == 429)
            code = v1::RATE_LIMITED;
        else if (status >= 500)
            code = v1::UNAVAILABLE;
        else
            code = v1::INVALID_ARGUMENT;
    }
    QString message = QString::fromUtf8(reply->readAll()).trimmed();
    if (message.isEmpty())
        message = status ? QStringLiteral("HTTP %1").arg(status) : reply->errorString();
    const quint32 retryAfter = reply->rawHeader("Retry-After").toUInt() * 1000;
    return makeError(code, message, retryAfter);
}

// Failures that may pass by themselves.
bool isPassing(v1::ErrorCode code)
{
    return code == v1::UNAVAILABLE || code == v1::RATE_LIMITED || code == v1::INTERNAL ||
           code == v1::SHUTTING_DOWN || code == v1::OFFSET_MISMATCH;
}
} // namespace

FileTransfer::FileTransfer(Connection *connection, QString token, QObject *parent)
    : QObject(parent)
    , m_connection(connection)
    , m_token(std::move(token))
{
    m_retry.setSingleShot(true);
    connect(&m_http, &QNetworkAccessManager::sslErrors, this, &FileTransfer::onSslErrors);
}

void FileTransfer::onSslErrors(QNetworkReply *reply, const QList<QSslError> &errors)
{
    // The server's own certificate is trusted as the connection trusts it:
    // by the fingerprint this account pinned, and nothing else.
    const QByteArray pinned = m_connection ? m_connection->pinnedFingerprint() : QByteArray();
    const QSslCertificate certificate = reply->sslConfiguration().peerCertificate();
    if (!pinned.isEmpty() && !certificate.isNull() &&
        certificateFingerprint(certificate.toDer()) == pinned) {
        reply->ignoreSslErrors();
        return;
    }
    qCWarning(lcClient) << "certificate of" << reply->url().host() << "not trusted:" << errors;
}

FileTransfer::~FileTransfer()
{
    cancel();
}

QUrl FileTransfer::httpUrl(const QString &path) const
{
    QUrl url = m_connection ? m_connection->serverUrl() : QUrl();
    url.setScheme(url.scheme() == QLatin1String("wss") ? QStringLiteral("https")
                                                       : QStringLiteral("http"));
    url.setPath(path);
    url.setQuery(QString());
    return url;
}

QNetworkRequest FileTransfer::request(const QString &path) const
{
    QNetworkRequest request(httpUrl(path));
    request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    // Redirects would carry the token elsewhere.
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::ManualRedirectPolicy);
    return request;
}

void FileTransfer::cancel()
{
    m_retry.stop();
    m_retry.disconnect();
    if (m_reply) {
        m_reply->disconnect(this);
        m_reply->abort();
        m_reply->deleteLater();
    }
    m_uploadDone = {};
    m_downloadDone = {};
    m_kind = Kind::None;
}

void FileTransfer::setProgress(qint64 done)
{
    m_done = done;
    emit progress(m_done, m_total);
}

void FileTransfer::retryLater(const Error &error, const std::function<void()> &again)
{
    if (!isPassing(error.code) || ++m_attempt >= kMaxAttempts) {
        if (m_kind == Kind::Upload)
            return finishUpload(error);
        return finishDownload(error);
    }
    // 1 s doubling, at least what the server asked for.
    const int backoff = std::min(kMaxRetryMs, kFirstRetryMs << std::min(m_attempt - 1, 5));
    const int delay = std::max(backoff, int(error.retryAfterMs));
    qCInfo(lcClient).noquote() << "transfer:" << error.message << "- again in" << delay << "ms";
    m_retry.disconnect();
    connect(&m_retry, &QTimer::timeout, this, again);
    m_retry.start(delay);
}

// ---- upload

void FileTransfer::upload(const QString &path, std::function<void(Result<v1::FileRef>)> done)
{
    cancel();
    m_kind = Kind::Upload;
    m_attempt = 0;
    m_uploadDone = std::move(done);
    m_path = path;
    m_file = std::make_unique<QFile>(path);
    if (!m_file->open(QIODevice::ReadOnly))
        return finishUpload(
            makeError(v1::INVALID_ARGUMENT,
                      QStringLiteral("Cannot read %1: %2").arg(path, m_file->errorString())));
    const Result<QByteArray> sum = Sha256::ofFile(path);
    if (!sum)
        return finishUpload(sum.error());
    m_total = m_file->size();
    m_ref.Clear();
    m_ref.set_name(toStd(QFileInfo(path).fileName()));
    m_ref.set_size(quint64(m_total));
    m_ref.set_sha256(sum->toStdString());
    m_ref.set_mime_type(
        toStd(QMimeDatabase().mimeTypeForFile(path).name()).substr(0, size_t(kMaxMimeTypeBytes)));
    setProgress(0);
    askTicket();
}

void FileTransfer::askTicket()
{
    if (!m_connection)
        return finishUpload(makeError(v1::UNAVAILABLE, QStringLiteral("Not connected")));
    v1::Envelope envelope;
    v1::CreateUploadRequest *create = envelope.mutable_create_upload();
    create->set_size(m_ref.size());
    create->set_sha256(m_ref.sha256());
    create->set_mime_type(m_ref.mime_type());
    m_connection->request(envelope, [this, alive = QPointer(this)](Result<v1::Envelope> answer) {
        if (!alive || m_kind != Kind::Upload)
            return;
        if (!answer) {
            // Not connected, cut off, timed out: the server is away for now.
            Error away = answer.error();
            if (away.code == v1::ERROR_UNSPECIFIED)
                away.code = v1::UNAVAILABLE;
            return retryLater(away, [this] { askTicket(); });
        }
        if (answer->has_error()) {
            const v1::Error &e = answer->error();
            return retryLater(makeError(e.code(), toQString(e.message()), e.retry_after_ms()),
                              [this] { askTicket(); });
        }
        if (!answer->has_upload_ticket())
            return finishUpload(makeError(v1::INTERNAL, QStringLiteral("Not an upload ticket")));
        const v1::UploadTicket &ticket = answer->upload_ticket();
        m_uploadId = toQString(ticket.upload_id());
        m_ref.set_file_id(ticket.upload_id());
        if (ticket.complete()) {
            setProgress(m_total);
            return finishUpload(m_ref);
        }
        putFrom(qint64(ticket.received()));
    });
}

void FileTransfer::putFrom(qint64 offset)
{
    if (offset < 0 || offset > m_total || !m_file->seek(offset))
        return finishUpload(
            makeError(v1::INTERNAL, QStringLiteral("The server holds more than the file has")));
    setProgress(offset);
    QNetworkRequest put = request(QStringLiteral("/v1/uploads/") + m_uploadId);
    put.setRawHeader("Upload-Offset", QByteArray::number(offset));
    put.setHeader(QNetworkRequest::ContentLengthHeader, m_total - offset);
    put.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/octet-stream"));
    m_reply = m_http.put(put, m_file.get());
    connect(m_reply, &QNetworkReply::uploadProgress, this,
            [this, offset](qint64 sent, qint64) { setProgress(offset + sent); });
    connect(m_reply, &QNetworkReply::finished, this,
            [this, reply = m_reply.data()] { onPutFinished(reply); });
}

void FileTransfer::askOffset()
{
    m_reply = m_http.head(request(QStringLiteral("/v1/uploads/") + m_uploadId));
    connect(m_reply, &QNetworkReply::finished, this, [this, reply = m_reply.data()] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status == 200)
            return putFrom(reply->rawHeader("Upload-Offset").toLongLong());
        if (status == 404) // expired or dropped: ask for it again
            return retryLater(makeError(v1::UNAVAILABLE, QStringLiteral("The upload is gone")),
                              [this] { askTicket(); });
        retryLater(errorOf(reply), [this] { askOffset(); });
    });
}

void FileTransfer::onPutFinished(QNetworkReply *reply)
{
    reply->deleteLater();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 201) {
        setProgress(m_total);
        return finishUpload(m_ref);
    }
    if (status == 204 || status == 409) {
        // The server holds another amount than this PUT assumed: go on from it.
        m_attempt = status == 204 ? 0 : m_attempt + 1;
        if (m_attempt >= kMaxAttempts)
            return finishUpload(errorOf(reply));
        return putFrom(reply->rawHeader("Upload-Offset").toLongLong());
    }
    if (status == 404)
        return retryLater(makeError(v1::UNAVAILABLE, QStringLiteral("The upload is gone")),
                          [this] { askTicket(); });
    const Error error = errorOf(reply);
    if (error.code == v1::CHECKSUM_MISMATCH)
        return finishUpload(
            makeError(v1::CHECKSUM_MISMATCH, QStringLiteral("%1 changed while it was being sent")
                                                 .arg(QFileInfo(m_path).fileName())));
    retryLater(error, [this] { askOffset(); });
}

void FileTransfer::finishUpload(Result<v1::FileRef> result)
{
    m_kind = Kind::None;
    m_file.reset();
    if (auto done = std::exchange(m_uploadDone, {}))
        done(std::move(result));
}

// ---- download

void FileTransfer::download(const v1::FileRef &ref, const QString &outputPath,
                            std::function<void(Status)> done)
{
    cancel();
    m_kind = Kind::Download;
    m_attempt = 0;
    m_downloadDone = std::move(done);
    m_ref = ref;
    m_output = outputPath;
    m_total = qint64(ref.size());
    m_unannounced = ref.size() == 0 && ref.sha256().empty();
    if (!isValidFileId(ref.file_id()))
        return finishDownload(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not a file")));
    getFrom();
}

void FileTransfer::getFrom()
{
    m_file = std::make_unique<QFile>(m_output + QStringLiteral(".part"));
    if (!m_file->open(QIODevice::ReadWrite))
        return finishDownload(makeError(
            v1::INVALID_ARGUMENT,
            QStringLiteral("Cannot write %1: %2").arg(m_file->fileName(), m_file->errorString())));
    qint64 have = m_file->size();
    if (have > m_total || m_unannounced) {
        (void)m_file->resize(0);
        have = 0;
    }
    m_file->seek(have);
    setProgress(have);
    QNetworkRequest get = request(QStringLiteral("/v1/files/") + toQString(m_ref.file_id()));
    if (have > 0)
        get.setRawHeader("Range", "bytes=" + QByteArray::number(have) + '-');
    m_reply = m_http.get(get);
    auto *reply = m_reply.data();
    const bool ranged = have > 0;
    connect(reply, &QNetworkReply::readyRead, this, [this, reply, ranged] {
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status != 200 && status != 206)
            return; // an error's text, read at the end
        if (m_unannounced && m_file->pos() == 0) {
            // What the server says the file is; checked as for an announced one.
            const qint64 length = reply->header(QNetworkRequest::ContentLengthHeader).toLongLong();
            if (status != 200 || length <= 0 || length > kMaxUnannouncedBytes) {
                reply->disconnect(this);
                reply->abort();
                reply->deleteLater();
                return finishDownload(
                    makeError(v1::TOO_LARGE,
                              QStringLiteral("The picture is not a small file of known size")));
            }
            m_total = length;
            m_ref.set_size(quint64(length));
            m_ref.set_sha256(QByteArray::fromHex(reply->rawHeader("Kith-Sha256")).toStdString());
        }
        if (m_unannounced && m_file->pos() + reply->bytesAvailable() > m_total) {
            reply->disconnect(this);
            reply->abort();
            reply->deleteLater();
            return finishDownload(
                makeError(v1::TOO_LARGE, QStringLiteral("More bytes came than announced")));
        }
        if (status == 200 && ranged && m_file->pos() != 0) {
            // The whole file came instead of the rest: start over.
            (void)m_file->resize(0);
            m_file->seek(0);
        }
        const QByteArray bytes = reply->readAll();
        if (m_file->write(bytes) != bytes.size()) {
            reply->disconnect(this);
            reply->abort();
            reply->deleteLater();
            return finishDownload(makeError(
                v1::INTERNAL,
                QStringLiteral("Cannot write %1: %2").arg(m_output, m_file->errorString())));
        }
        setProgress(m_file->pos());
    });
    connect(reply, &QNetworkReply::finished, this, [this, reply] { onGetFinished(reply); });
}

void FileTransfer::onGetFinished(QNetworkReply *reply)
{
    reply->deleteLater();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 416) {
        // Asked past the end: the part is whole already (or wrong: start over).
        if (m_file->size() != m_total)
            (void)m_file->resize(0);
    } else if (status != 200 && status != 206) {
        m_file.reset();
        return retryLater(errorOf(reply), [this] { getFrom(); });
    } else if (reply->error() != QNetworkReply::NoError || m_file->size() < m_total) {
        // Cut off: what arrived stays, the next try asks for the rest.
        m_file.reset();
        return retryLater(makeError(v1::UNAVAILABLE, reply->errorString()), [this] { getFrom(); });
    }
    if (!m_file->flush()) {
        return finishDownload(makeError(v1::INTERNAL, m_file->errorString()));
    }
    const QString part = m_file->fileName();
    m_file.reset();
    if (QFileInfo(part).size() != m_total)
        return retryLater(makeError(v1::UNAVAILABLE, QStringLiteral("Incomplete download")),
                          [this] { getFrom(); });
    const Result<QByteArray> sum = Sha256::ofFile(part);
    if (!sum)
        return finishDownload(sum.error());
    if (*sum != QByteArray::fromStdString(m_ref.sha256())) {
        QFile::remove(part);
        return finishDownload(
            makeError(v1::CHECKSUM_MISMATCH, QStringLiteral("The file downloaded does not have the "
                                                            "checksum its message announced")));
    }
    QFile::remove(m_output);
    if (!QFile::rename(part, m_output))
        return finishDownload(
            makeError(v1::INTERNAL, QStringLiteral("Cannot name the file %1").arg(m_output)));
    finishDownload(Done{});
}

void FileTransfer::finishDownload(Status status)
{
    m_kind = Kind::None;
    m_file.reset();
    if (auto done = std::exchange(m_downloadDone, {}))
        done(std::move(status));
}

} // namespace kith::client
