#pragma once
// TransferQueue: the files this device sends and fetches, kept in the local
// store's transfers table until each is done, so that a transfer under way
// when the app stops resumes at the next start (an upload from what the
// server holds, a download from its ".part"). Runs a few at once; each
// FileTransfer retries with back-off before the entry is marked failed, which
// retry() queues again. A finished upload's message goes into the outbox in
// the same transaction that drops the entry. Owned by KithClient.

#include "file_transfer.h"
#include "local_store.h"

#include <QByteArray>
#include <QHash>
#include <QObject>
#include <QSize>

#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace kith::client {

class Connection;
class Outbox;

class TransferQueue : public QObject
{
    Q_OBJECT
public:
    // Transfers running at once; the rest wait their turn.
    static constexpr int kRunningAtOnce = 2;

    // Reads an image file for its message: its size in pixels and a small
    // thumbnail (JPEG or PNG, at most kMaxThumbnailBytes). False for a file
    // that is not an image it can read. The library does not decode images
    // itself (it links no Qt Gui); the app installs one at start, kith-cli
    // sends files without.
    using ImageInspector =
        std::function<bool(const QString &path, QSize &size, QByteArray &thumbnail)>;
    static void setImageInspector(ImageInspector inspector);

    // Files up to this size are copied into the cache when sent, so the
    // sender's own images show without fetching them back.
    static constexpr qint64 kKeepSentBytes = 16 * 1024 * 1024;

    // `token` gives the device token when a transfer starts.
    TransferQueue(Connection *connection, LocalStore *store, Outbox *outbox,
                  std::function<QString()> token, QObject *parent = nullptr);
    ~TransferQueue() override;

    // Queues the file at `path` for the conversation, with an optional
    // caption; its message is sent once the bytes are on the server. With
    // `voiceNoteMs` the file is a voice note of that length (FileRef's
    // voice_note and duration_ms), played in the bubble.
    [[nodiscard]] Result<qint64> sendFile(const QString &conversationId, const QString &path,
                                          const QString &caption = {},
                                          std::optional<quint32> voiceNoteMs = std::nullopt);
    // Queues the file of `file` to be saved at `path`.
    [[nodiscard]] Result<qint64> download(const v1::FileRef &file, const QString &path);

    // Where fetched files are kept: <dir>/<file id>/<safe name>.
    void setCacheDirectory(const QString &dir) { m_cacheDir = dir; }
    [[nodiscard]] QString cacheDirectory() const { return m_cacheDir; }
    // The cache is kept under a size: past it, trimCache() (after every
    // download and at start) removes the files used least recently (what a
    // view shows is marked used, see markUsed), never a fetch under way.
    static constexpr qint64 kDefaultCacheBytes = qint64(1) << 30;
    void setCacheLimit(qint64 bytes) { m_cacheLimit = bytes; }
    [[nodiscard]] qint64 cacheLimit() const { return m_cacheLimit; }
    void trimCache();
    static void markUsed(const QString &path);
    // The cache's path for the file (empty for an id that is not well-formed).
    [[nodiscard]] QString cachedPath(const v1::FileRef &file) const;
    // The queued, paused or failed download into `path`, if any.
    [[nodiscard]] std::optional<TransferEntry> downloadTo(const QString &path) const;
    // Bytes done and in all of a transfer under way (0, 0 when not running).
    [[nodiscard]] std::pair<qint64, qint64> progressOf(qint64 id) const;

    [[nodiscard]] Status pause(qint64 id);
    [[nodiscard]] Status resume(qint64 id); // a paused or failed one
    [[nodiscard]] Status cancel(qint64 id);

    // Starts what is queued (after a login, a reconnect, an app start).
    void start();
    // Stops every transfer under way; they stay queued.
    void stop();

    [[nodiscard]] bool isRunning(qint64 id) const { return m_running.contains(id); }
    [[nodiscard]] int runningCount() const { return int(m_running.size()); }

signals:
    void progress(qint64 id, qint64 done, qint64 total);
    // Done: an upload's message is in the outbox (clientMsgId), a download saved.
    void finished(qint64 id, const QString &clientMsgId);
    void failed(qint64 id, const QString &error);

private:
    void startNext();
    void run(const TransferEntry &entry);
    void onDone(qint64 id, const Error *error, const QString &clientMsgId = {});

    Connection *m_connection;
    LocalStore *m_store;
    Outbox *m_outbox;
    std::function<QString()> m_token;
    QString m_cacheDir;
    qint64 m_cacheLimit = kDefaultCacheBytes;
    bool m_started = false;
    QHash<qint64, std::shared_ptr<FileTransfer>> m_running;
};

} // namespace kith::client
