#include "transfer_server.h"

#include "kith/sha256.h"
#include "logging.h"
#include "metrics.h"
#include "thread_priority.h"
#include "transfer_connection.h"
#include "transfer_stream.h"

#include <QSslSocket>
#include <QTimer>

#include <sys/socket.h>
#include <unistd.h>

namespace kith::server {

namespace {
// Under CFS a nice-10 thread gets about a tenth of the CPU of a nice-0 one
// when both want it: while chat flows, the session loop and the store's
// writer come first; a transfer alone on an idle machine still gets all of a core.
constexpr int kTransferNice = 10;
// The same for the disk: the transfer thread's own reads and writes (an
// upload's write-behind, a part hashed on resume) go after the store's commits
// in the disk's queue, best-effort class at its lowest level. Not the idle
// class: an upload would then wait as long as chat keeps the disk busy at all.
constexpr int kTransferIoLevel = 7;
// Hashes of uploads cut off mid-way kept for a resume on this node; the
// others read their part back at the end.
constexpr size_t kKeptHashes = 32;
// Buffers on the hash lane, shared by every upload: the bytes stored but not
// yet hashed are at most these (2 MiB), and the transfer thread is that far
// ahead of the hash at most.
constexpr int kHashLaneBuffers = 8;
// Answered to a transfer past the connection limit, before reading anything.
constexpr char kBusy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                         "Retry-After: 5\r\n"
                         "Kith-Error: RATE_LIMITED\r\n"
                         "Connection: close\r\n"
                         "Content-Length: 0\r\n\r\n";

void lowerThisThreadsPriority()
{
    threads::lowerThisThreadsCpu(kTransferNice);
    threads::lowerThisThreadsDisk(kTransferIoLevel);
}
} // namespace

TransferHub::TransferHub(FileService &files, Metrics &metrics, TransferOptions options,
                         std::atomic<int> &open)
    : m_files(files)
    , m_metrics(metrics)
    , m_options(options)
    , m_open(open)
    , m_requests(options.requestRate, options.requestBurst)
    , m_failedAuth(options.failedAuthRate, options.failedAuthBurst)
    , m_hashLane(std::make_shared<HashLane>(kHashLaneBuffers, kTransferBufferBytes, kTransferNice))
{}

TransferHub::~TransferHub()
{
    const QList<TransferConnection *> connections = std::exchange(m_connections, {});
    for (TransferConnection *connection : connections) {
        delete connection;
        m_open.fetch_sub(1);
    }
}

void TransferHub::adopt(TransferStream *stream, QByteArray received)
{
    if (m_stopping) {
        (void)stream->write(kBusy, sizeof kBusy - 1);
        delete stream;
        m_open.fetch_sub(1);
        return;
    }
    m_connections.append(new TransferConnection(*this, stream, std::move(received)));
}

void TransferHub::forget(TransferConnection *connection)
{
    if (m_connections.removeOne(connection))
        m_open.fetch_sub(1);
}

void TransferHub::stop()
{
    m_stopping = true;
    const QList<TransferConnection *> connections = m_connections;
    for (TransferConnection *connection : connections)
        connection->stop();
}

quint32 TransferHub::takeRequest(quint64 userId)
{
    const qint64 now = monotonicMs();
    if (m_requests.size() > 10'000)
        m_requests.forgetRefilled(now);
    return m_requests.take(QString::number(userId), now);
}

quint32 TransferHub::takeFailedAuth(const QString &address)
{
    const qint64 now = monotonicMs();
    if (m_failedAuth.size() > 10'000)
        m_failedAuth.forgetRefilled(now);
    return m_failedAuth.take(address, now);
}

bool TransferHub::startDownload(quint64 userId)
{
    int &running = m_downloads[userId];
    if (running >= m_options.downloadsPerUser)
        return false;
    ++running;
    return true;
}

void TransferHub::endDownload(quint64 userId)
{
    const auto it = m_downloads.find(userId);
    if (it == m_downloads.end())
        return;
    if (--*it <= 0)
        m_downloads.erase(it);
}

std::unique_ptr<Sha256> TransferHub::takeHash(const QString &uploadId, qint64 offset)
{
    for (auto it = m_hashes.begin(); it != m_hashes.end(); ++it) {
        if (it->uploadId != uploadId)
            continue;
        std::unique_ptr<Sha256> hash = std::move(it->hash);
        const bool current = it->offset == offset;
        m_hashes.erase(it);
        if (current && hash)
            return hash;
        break;
    }
    // From the first byte the hash starts here; elsewhere it is not known.
    return offset == 0 ? std::make_unique<Sha256>() : nullptr;
}

void TransferHub::keepHash(const QString &uploadId, qint64 offset, std::unique_ptr<Sha256> hash)
{
    if (!hash)
        return;
    m_hashes.remove_if([&uploadId](const KeptHash &kept) { return kept.uploadId == uploadId; });
    m_hashes.push_front(KeptHash{uploadId, offset, std::move(hash)});
    while (m_hashes.size() > kKeptHashes)
        m_hashes.pop_back();
}

LanedHash TransferHub::onLane(std::unique_ptr<Sha256> hash)
{
    return LanedHash(m_hashLane, std::move(hash));
}

TransferServer::TransferServer(FileService &files, Metrics &metrics, TransferOptions options)
    : m_metrics(metrics)
    , m_maxConnections(options.maxConnections)
    , m_hub(new TransferHub(files, metrics, options, m_open))
{
    m_hub->moveToThread(&m_thread);
    QObject::connect(&m_thread, &QThread::finished, m_hub, &QObject::deleteLater);
    m_thread.setObjectName(QStringLiteral("kithd-transfer"));
    m_thread.start();
    QMetaObject::invokeMethod(m_hub, &lowerThisThreadsPriority, Qt::QueuedConnection);
}

TransferServer::~TransferServer()
{
    QMetaObject::invokeMethod(m_hub, &TransferHub::stop, Qt::BlockingQueuedConnection);
    m_thread.quit();
    m_thread.wait();
}

bool TransferServer::admit()
{
    if (m_open.fetch_add(1) >= m_maxConnections) {
        m_open.fetch_sub(1);
        m_metrics.transferRefused();
        return false;
    }
    return true;
}

void TransferServer::adoptPlain(int fd, QByteArray received)
{
    if (!admit()) {
        (void)::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        return;
    }
    QMetaObject::invokeMethod(
        m_hub,
        [hub = m_hub, fd, received = std::move(received)]() mutable {
            hub->adopt(new PlainTransferStream(fd), std::move(received));
        },
        Qt::QueuedConnection);
}

void TransferServer::adoptTls(QSslSocket *socket)
{
    if (!admit()) {
        socket->write(kBusy, sizeof kBusy - 1);
        socket->disconnectFromHost();
        QObject::connect(socket, &QSslSocket::disconnected, socket, &QObject::deleteLater);
        QTimer::singleShot(1000, socket, [socket] { socket->deleteLater(); });
        return;
    }
    socket->moveToThread(&m_thread);
    QMetaObject::invokeMethod(
        m_hub, [hub = m_hub, socket] { hub->adopt(new TlsTransferStream(socket), {}); },
        Qt::QueuedConnection);
}

void TransferServer::stop()
{
    QMetaObject::invokeMethod(m_hub, &TransferHub::stop, Qt::QueuedConnection);
}

} // namespace kith::server
