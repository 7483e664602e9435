#pragma once
// File transfers: HTTP/1.1 on kithd's own port (the Gateway hands over each
// connection whose first request asks for a path under /v1/), served on a
// thread of their own at a lower priority than the session loop, so that the
// bytes of files never pass through the loop that carries chat:
//   PUT  /v1/uploads/<id>  an upload's next bytes (Upload-Offset says where they go)
//   HEAD /v1/uploads/<id>  how many bytes of it the server holds
//   GET  /v1/files/<id>    a file (Range for a part of it), HEAD for its size
// The requests authenticate with the device token (Authorization: Bearer).
// Each transfer has its budgets: connections at once, requests per user,
// downloads per user, failed authentications per address, one read buffer
// per connection and the kernel's socket buffer for downloads (sendfile).
// Owned by the Gateway.

#include "file_service.h"
#include "hash_lane.h"
#include "kith/sha256.h"

#include <QByteArray>
#include <QHash>
#include <QObject>
#include <QThread>

#include <atomic>
#include <list>
#include <memory>

class QSslSocket;

namespace kith::server {

class Metrics;
class TransferConnection;
class TransferStream;

// One upload's bytes are read through a buffer of this size: what a
// connection holds of them at a time.
constexpr qsizetype kTransferBufferBytes = 256 * 1024;

struct TransferOptions
{
    // Transfer connections open at once; past it a new one gets 503.
    int maxConnections = 512;
    // Requests per user (each PUT is a whole file or what is left of it).
    double requestRate = 50;
    double requestBurst = 400;
    // Downloads one user runs at once.
    int downloadsPerUser = 8;
    // Requests with a bad token per remote address before 429.
    double failedAuthRate = 2;
    double failedAuthBurst = 20;
    // A request head must arrive within this; a transfer that moves no byte
    // for this long is closed (its upload resumes later from what was stored).
    int headTimeoutMs = 10'000;
    int idleTimeoutMs = 30'000;
};

// The transfer thread's shared state: budgets, the hashes of uploads cut
// off mid-way (so a resume on this node need not read the part back), the
// connections. Lives on the transfer thread; only TransferServer talks to it
// from elsewhere (queued calls).
class TransferHub : public QObject
{
    Q_OBJECT
public:
    // `open` counts the connections from adoption to their end.
    TransferHub(FileService &files, Metrics &metrics, TransferOptions options,
                std::atomic<int> &open);
    ~TransferHub() override;

    [[nodiscard]] FileService &files() { return m_files; }
    [[nodiscard]] Metrics &metrics() { return m_metrics; }
    [[nodiscard]] const TransferOptions &options() const { return m_options; }
    [[nodiscard]] bool stopping() const { return m_stopping; }

    void adopt(TransferStream *stream, QByteArray received);
    void forget(TransferConnection *connection);
    void stop();

    // 0 when the user may make a request now, else ms to wait.
    [[nodiscard]] quint32 takeRequest(quint64 userId);
    [[nodiscard]] quint32 takeFailedAuth(const QString &address);
    [[nodiscard]] bool startDownload(quint64 userId);
    void endDownload(quint64 userId);

    // The hash of an upload's first `offset` bytes, if this node kept it.
    [[nodiscard]] std::unique_ptr<Sha256> takeHash(const QString &uploadId, qint64 offset);
    void keepHash(const QString &uploadId, qint64 offset, std::unique_ptr<Sha256> hash);
    // `hash`, its bytes added beside this thread.
    [[nodiscard]] LanedHash onLane(std::unique_ptr<Sha256> hash);

private:
    struct KeptHash
    {
        QString uploadId;
        qint64 offset = 0;
        std::unique_ptr<Sha256> hash;
    };

    FileService &m_files;
    Metrics &m_metrics;
    TransferOptions m_options;
    std::atomic<int> &m_open;
    bool m_stopping = false;
    QList<TransferConnection *> m_connections;
    KeyedBuckets m_requests;   // by user
    KeyedBuckets m_failedAuth; // by remote address
    QHash<quint64, int> m_downloads;
    std::list<KeptHash> m_hashes; // newest first, a few at most
    std::shared_ptr<HashLane> m_hashLane;
};

class TransferServer
{
public:
    TransferServer(FileService &files, Metrics &metrics, TransferOptions options = {});
    ~TransferServer(); // closes every transfer and ends the thread
    TransferServer(const TransferServer &) = delete;
    TransferServer &operator=(const TransferServer &) = delete;

    // Takes over a connected TCP socket whose first bytes (`received`, the
    // start of an HTTP request) were read already. Any thread.
    void adoptPlain(int fd, QByteArray received);
    // Takes over an encrypted socket (no parent, on the calling thread,
    // nothing read from it yet): it moves to the transfer thread.
    void adoptTls(QSslSocket *socket);
    // New requests get 503 from now on; the transfers under way are closed.
    void stop();
    [[nodiscard]] int openTransfers() const { return m_open.load(); }

private:
    // Counts `received` in, or refuses it (503) past the limit: true when taken.
    [[nodiscard]] bool admit();

    std::atomic<int> m_open{0};
    Metrics &m_metrics;
    int m_maxConnections;
    QThread m_thread;
    TransferHub *m_hub; // lives on m_thread
};

} // namespace kith::server
