#pragma once
// FileTransfer: one file's bytes to or from the server, over the HTTP
// transfers on the server's own port (see docs/protocol.md, Files).
// An upload asks for a ticket on the WebSocket (the same bytes already held
// resume from where the server stopped), sends what the server lacks with
// PUT, and after a cut asks how much arrived and goes on from there. A
// download writes "<output>.part", resumes it with a Range after a cut,
// checks the SHA-256 announced in the message and only then takes the final
// name. Failures are retried with back-off (1 s doubling to 30 s, a few times)
// before `done` reports them. Owned by its caller; one transfer per object.

#include "kith/result.h"
#include "kith/v1/messages.pb.h"

#include <QElapsedTimer>
#include <QFile>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QSslError>
#include <QTimer>
#include <QUrl>

#include <functional>
#include <memory>
#include <optional>

class QNetworkReply;

namespace kith::client {

class Connection;

class FileTransfer : public QObject
{
    Q_OBJECT
public:
    // Tries per transfer before giving up (each after a pause, see above).
    static constexpr int kMaxAttempts = 6;
    // The largest file fetched without a size announced beforehand (a picture).
    static constexpr qint64 kMaxUnannouncedBytes = 1024 * 1024;

    FileTransfer(Connection *connection, QString token, QObject *parent = nullptr);
    ~FileTransfer() override;

    // Uploads the file at `path`; `done` gets a FileRef to send (id, name,
    // size, checksum, MIME type; the caller adds what it knows of images).
    void upload(const QString &path, std::function<void(Result<v1::FileRef>)> done);
    // Downloads the file of `ref` to `outputPath` (made anew; an existing
    // "<outputPath>.part" is resumed when it is a start of the same file).
    // A ref with neither size nor checksum (a profile picture: the User names
    // only its id) takes both from the answer (Content-Length, Kith-Sha256),
    // is refused past kMaxUnannouncedBytes, and is fetched whole each try.
    void download(const v1::FileRef &ref, const QString &outputPath,
                  std::function<void(Status)> done);
    // Stops at once; `done` is not called. An upload under way stays on the
    // server (a later upload of the same bytes resumes it); a download keeps
    // its ".part" (a later download of it resumes).
    void cancel();

    [[nodiscard]] qint64 bytesDone() const { return m_done; }
    [[nodiscard]] qint64 bytesTotal() const { return m_total; }

signals:
    void progress(qint64 done, qint64 total);

private:
    enum class Kind { None, Upload, Download };

    [[nodiscard]] QUrl httpUrl(const QString &path) const;
    [[nodiscard]] QNetworkRequest request(const QString &path) const;
    void askTicket();
    void putFrom(qint64 offset);
    void askOffset();
    void onPutFinished(QNetworkReply *reply);
    void getFrom();
    void onGetFinished(QNetworkReply *reply);
    // A failure that may pass (network, 5xx, 429): try again after a pause,
    // or give up after kMaxAttempts.
    void retryLater(const Error &error, const std::function<void()> &again);
    void finishUpload(Result<v1::FileRef> result);
    void finishDownload(Status status);
    void setProgress(qint64 done);
    void onSslErrors(QNetworkReply *reply, const QList<QSslError> &errors);

    QPointer<Connection> m_connection;
    QString m_token;
    QNetworkAccessManager m_http;
    QPointer<QNetworkReply> m_reply;
    QTimer m_retry;
    Kind m_kind = Kind::None;
    int m_attempt = 0;
    qint64 m_done = 0;
    qint64 m_total = 0;

    // An upload's.
    QString m_path;
    std::unique_ptr<QFile> m_file;
    v1::FileRef m_ref;
    QString m_uploadId;
    std::function<void(Result<v1::FileRef>)> m_uploadDone;
    // A download's.
    QString m_output;
    bool m_unannounced = false; // size and checksum come with the answer
    std::function<void(Status)> m_downloadDone;
};

} // namespace kith::client
