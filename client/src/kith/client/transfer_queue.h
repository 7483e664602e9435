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

#include <QHash>
#include <QObject>

#include <functional>
#include <memory>

namespace kith::client {

class Connection;
class Outbox;

class TransferQueue : public QObject
{
    Q_OBJECT
public:
    // Transfers running at once; the rest wait their turn.
    static constexpr int kRunningAtOnce = 2;

    // `token` gives the device token when a transfer starts.
    TransferQueue(Connection *connection, LocalStore *store, Outbox *outbox,
                  std::function<QString()> token, QObject *parent = nullptr);
    ~TransferQueue() override;

    // Queues the file at `path` for the conversation, with an optional
    // caption; its message is sent once the bytes are on the server.
    [[nodiscard]] Result<qint64> sendFile(const QString &conversationId, const QString &path,
                                          const QString &caption = {});
    // Queues the file of `file` to be saved at `path`.
    [[nodiscard]] Result<qint64> download(const v1::FileRef &file, const QString &path);

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
    bool m_started = false;
    QHash<qint64, std::shared_ptr<FileTransfer>> m_running;
};

} // namespace kith::client
