#include "fs_blob_store.h"

#include "kith/content.h"
#include "kith/sha256.h"
#include "logging.h"
#include "thread_priority.h"

#include <QDir>
#include <QFile>
#include <QRandomGenerator>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>

namespace kith::server {

namespace {

// Reading a part back to hash it: large reads, near the hash's own speed.
constexpr qint64 kHashBlockBytes = 1024 * 1024;

// An upload's bytes go to the disk as they arrive, this much at a time: the
// kernel would otherwise gather up to gigabytes of dirty pages and write them
// back in bursts (and in the final fsync) that the database's small commits
// on the same disk queue behind.
constexpr qint64 kWriteBehindBytes = 8 * 1024 * 1024;
// Windows at the disk before the upload waits for the oldest: the disk gets
// a queue to work through while the next bytes arrive (with one, a 1 GiB
// upload's bytes took 1.0-1.3 s to arrive, with four 0.86-0.93 s), and an
// upload's dirty pages stay under five windows.
constexpr qint64 kWindowsInFlight = 4;
// Every this much written back, a flush of the part starts beside the
// upload (see PartFlusher).
constexpr qint64 kFlushEveryBytes = 64 * 1024 * 1024;

// A big part is removed in steps of this much, this far apart (see
// removeGradually).
constexpr off_t kRemoveStepBytes = 32 * 1024 * 1024;
constexpr useconds_t kRemoveStepPauseUs = 10'000;

Error ioError(const QString &what, const QString &path, int error = errno)
{
    qCWarning(lcFiles).noquote() << what << path << strerror(error);
    // A full disk is an outage to retry later, not a fault of the request.
    if (error == ENOSPC || error == EDQUOT)
        return makeError(v1::UNAVAILABLE, QStringLiteral("The server's disk is full"), 60'000);
    return makeError(v1::INTERNAL, QStringLiteral("Storage error (%1)").arg(what));
}

QByteArray localPath(const QString &path)
{
    return QFile::encodeName(path);
}

// Makes a rename or a new file in `folder` durable.
bool syncFolder(const QString &folder)
{
    const int fd = ::open(localPath(folder).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// Removes a file, a big one in steps. Freed all at once, a gigabyte's blocks
// go back in one journal commit, which on a disk mounted with `discard` (as
// SSDs and virtual disks often are) tells the disk to discard all of them
// while the database's next fsync waits behind it: 70-130 ms for a cancelled
// 1 GiB upload here. Shrunk 32 MiB at a time, each commit frees a little.
// About 10 ms a step: never on the session loop. False with errno set.
bool removeGradually(const QByteArray &path)
{
    const int fd = ::open(path.constData(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat info
        {};
        if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
            for (off_t size = info.st_size; size > kRemoveStepBytes;) {
                size -= kRemoveStepBytes;
                if (::ftruncate(fd, size) != 0)
                    break; // the unlink below still removes it
                ::usleep(kRemoveStepPauseUs);
            }
        }
        ::close(fd);
    }
    return ::unlink(path.constData()) == 0 || errno == ENOENT;
}

bool exists(const QString &path)
{
    struct stat info
    {};
    return ::stat(localPath(path).constData(), &info) == 0;
}

} // namespace

// Flushes parts to the disk beside the uploads, one flush at a time. A
// virtual or cached disk takes written pages quickly and does the real work
// at the flush: left to the answer's fsync, a 1 GiB upload waited 0.4-0.55 s
// after its last byte; flushed every 64 MiB as it arrives, the work overlaps
// the transfer (1 GiB in 1.01-1.29 s instead of 1.43-1.51).
class PartFlusher
{
public:
    // One part's flushes: at most one queued or running at a time.
    struct Job
    {
        explicit Job(int fd)
            : fd(fd)
        {}
        const int fd;
        bool pending = false; // guarded by the flusher's mutex
    };

    PartFlusher()
        : m_thread([this] { run(); })
    {}
    ~PartFlusher()
    {
        {
            const std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        m_thread.join();
    }
    PartFlusher(const PartFlusher &) = delete;
    PartFlusher &operator=(const PartFlusher &) = delete;

    // Queues a flush of the job's file unless one is queued or running.
    void start(const std::shared_ptr<Job> &job)
    {
        {
            const std::lock_guard lock(m_mutex);
            if (job->pending)
                return;
            job->pending = true;
            m_queue.push_back(job);
        }
        m_wake.notify_all();
    }

    // Returns once the job has no flush queued or running: before its file
    // closes or its own sync. One still queued is dropped, not waited for
    // (the caller syncs itself or gives the part up).
    void wait(Job &job)
    {
        std::unique_lock lock(m_mutex);
        if (job.pending && m_running != &job) {
            std::erase_if(m_queue, [&job](const std::shared_ptr<Job> &queued) {
                return queued.get() == &job;
            });
            job.pending = false;
            return;
        }
        m_done.wait(lock, [&job] { return !job.pending; });
    }

private:
    void run()
    {
        threads::nameThisThread("kithd-flush");
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
            if (m_queue.empty())
                return;
            const std::shared_ptr<Job> job = std::move(m_queue.front());
            m_queue.pop_front();
            m_running = job.get();
            lock.unlock();
            (void)::fdatasync(job->fd); // a hint: the answer's own sync reports errors
            lock.lock();
            m_running = nullptr;
            job->pending = false;
            m_done.notify_all();
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::condition_variable m_done;
    std::deque<std::shared_ptr<Job>> m_queue;
    const Job *m_running = nullptr;
    bool m_stop = false;
    std::thread m_thread;
};

namespace {

class FsPartWriter final : public BlobStore::PartWriter
{
public:
    FsPartWriter(int fd, qint64 size, QString path, std::shared_ptr<PartFlusher> flusher)
        : m_fd(fd)
        , m_size(size)
        , m_path(std::move(path))
        , m_flusher(std::move(flusher))
        , m_flush(std::make_shared<PartFlusher::Job>(fd))
    {}
    ~FsPartWriter() override
    {
        m_flusher->wait(*m_flush);
        ::close(m_fd); // the lock goes with the descriptor
    }

    qint64 size() const override { return m_size; }

    Status append(QByteArrayView bytes) override
    {
        const char *data = bytes.data();
        qint64 left = bytes.size();
        while (left > 0) {
            const ssize_t wrote = ::pwrite(m_fd, data, size_t(left), off_t(m_size));
            if (wrote < 0) {
                if (errno == EINTR)
                    continue;
                return ioError(QStringLiteral("write part"), m_path);
            }
            data += wrote;
            left -= wrote;
            m_size += wrote;
        }
        writeBehind();
        return Done{};
    }

    Status sync() override
    {
        m_flusher->wait(*m_flush);
        if (::fdatasync(m_fd) != 0)
            return ioError(QStringLiteral("sync part"), m_path);
        return Done{};
    }

private:
    // Starts writing the bytes since the last window to the disk, and waits
    // for the window kWindowsInFlight before it (mostly written by now): the
    // part's dirty pages stay under kWindowsInFlight + 1 windows, and the
    // final fsync has little left to do. The pages stay in the page cache, clean:
    // a file just sent is often fetched soon after, and dropping them sent
    // those downloads to the disk. Only a hint to the kernel: the answer's
    // fsync is what makes a part durable, so errors are left to it.
    void writeBehind()
    {
        if (m_size - m_started < kWriteBehindBytes)
            return;
        ::sync_file_range(m_fd, m_started, m_size - m_started, SYNC_FILE_RANGE_WRITE);
        const qint64 waitTo = m_started - (kWindowsInFlight - 1) * kWriteBehindBytes;
        if (waitTo > m_written) {
            ::sync_file_range(m_fd, m_written, waitTo - m_written,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
            m_written = waitTo;
        }
        m_started = m_size;
        if (m_written - m_flushed >= kFlushEveryBytes) {
            m_flushed = m_written;
            m_flusher->start(m_flush);
        }
    }

    int m_fd;
    qint64 m_size;
    QString m_path;
    qint64 m_started = m_size; // writeback started up to here
    qint64 m_written = m_size; // written back up to here
    qint64 m_flushed = m_size; // a flush was asked for up to here
    std::shared_ptr<PartFlusher> m_flusher;
    std::shared_ptr<PartFlusher::Job> m_flush;
};

class FsBlobReader final : public BlobStore::BlobReader
{
public:
    FsBlobReader(int fd, qint64 size)
        : m_fd(fd)
        , m_size(size)
    {}
    ~FsBlobReader() override { ::close(m_fd); }

    qint64 size() const override { return m_size; }
    int fileDescriptor() const override { return m_fd; }

    qint64 read(qint64 offset, char *into, qint64 length) override
    {
        qint64 total = 0;
        while (total < length) {
            const ssize_t got =
                ::pread(m_fd, into + total, size_t(length - total), off_t(offset + total));
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            if (got == 0)
                break;
            total += got;
        }
        return total;
    }

private:
    int m_fd;
    qint64 m_size;
};

} // namespace

FsBlobStore::FsBlobStore(QString root)
    : m_root(QDir(root).absolutePath())
    , m_flusher(std::make_shared<PartFlusher>())
{}

FsBlobStore::~FsBlobStore() = default;

Status FsBlobStore::open()
{
    for (const char *folder : {"blobs", "parts", "locks", "trash"}) {
        const QString path = QDir(m_root).filePath(QLatin1StringView(folder));
        if (!QDir().mkpath(path))
            return makeError(v1::INTERNAL, QStringLiteral("Cannot create the folder %1").arg(path));
    }
    // Blobs a collection had taken the name of when kithd stopped: before
    // any chat runs here, so at once.
    QDir trash(QDir(m_root).filePath(QStringLiteral("trash")));
    for (const QString &name : trash.entryList(QDir::Files | QDir::Hidden))
        (void)::unlink(localPath(trash.filePath(name)).constData());
    // Other people's files: the owner only, like the rest of the data folder.
    QFile::setPermissions(m_root, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    return Done{};
}

QString FsBlobStore::blobPath(const QByteArray &sha256) const
{
    const QString hex = QString::fromLatin1(sha256.toHex());
    return QStringLiteral("%1/blobs/%2/%3/%4").arg(m_root, hex.left(2), hex.mid(2, 2), hex);
}

QString FsBlobStore::partPath(const QString &uploadId) const
{
    return QStringLiteral("%1/parts/%2").arg(m_root, uploadId);
}

Result<std::unique_ptr<BlobStore::PartWriter>> FsBlobStore::openPart(const QString &uploadId)
{
    // The id names a file: only ever the store's own, well-formed ids.
    if (!isValidFileId(uploadId.toStdString()))
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an upload id"));
    const QString path = partPath(uploadId);
    const int fd = ::open(localPath(path).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ioError(QStringLiteral("open part"), path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK)
            return makeError(v1::OFFSET_MISMATCH,
                             QStringLiteral("This upload is being written by another request"));
        return ioError(QStringLiteral("lock part"), path, error);
    }
    struct stat info
    {};
    if (::fstat(fd, &info) != 0) {
        const int error = errno;
        ::close(fd);
        return ioError(QStringLiteral("stat part"), path, error);
    }
    return std::unique_ptr<PartWriter>(
        std::make_unique<FsPartWriter>(fd, qint64(info.st_size), path, m_flusher));
}

Result<qint64> FsBlobStore::partSize(const QString &uploadId)
{
    if (!isValidFileId(uploadId.toStdString()))
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an upload id"));
    struct stat info
    {};
    if (::stat(localPath(partPath(uploadId)).constData(), &info) != 0) {
        if (errno == ENOENT)
            return qint64(0);
        return ioError(QStringLiteral("stat part"), partPath(uploadId));
    }
    return qint64(info.st_size);
}

Result<QByteArray> FsBlobStore::hashPart(const QString &uploadId)
{
    if (!isValidFileId(uploadId.toStdString()))
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an upload id"));
    const QString path = partPath(uploadId);
    const int fd = ::open(localPath(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ioError(QStringLiteral("open part"), path);
    // The hash runs once over a whole part: tell the kernel to read ahead.
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    Sha256 hash;
    QByteArray block(kHashBlockBytes, Qt::Uninitialized);
    for (;;) {
        const ssize_t got = ::read(fd, block.data(), size_t(block.size()));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            const int error = errno;
            ::close(fd);
            return ioError(QStringLiteral("read part"), path, error);
        }
        if (got == 0)
            break;
        hash.add(QByteArrayView(block.data(), got));
    }
    ::close(fd);
    return hash.result();
}

Status FsBlobStore::removePart(const QString &uploadId)
{
    if (!isValidFileId(uploadId.toStdString()))
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an upload id"));
    const QString path = partPath(uploadId);
    if (!removeGradually(localPath(path)))
        return ioError(QStringLiteral("remove part"), path);
    return Done{};
}

QStringList FsBlobStore::parts()
{
    QStringList ids;
    const QStringList names =
        QDir(QDir(m_root).filePath(QStringLiteral("parts"))).entryList(QDir::Files | QDir::Hidden);
    for (const QString &name : names)
        if (isValidFileId(name.toStdString()))
            ids.append(name);
    return ids;
}

Status FsBlobStore::underLock(const QByteArray &sha256, const std::function<Status()> &work)
{
    const auto shard = quint8(sha256.isEmpty() ? 0 : sha256.at(0));
    std::lock_guard guard(m_shardMutexes[shard]);
    const QString path = QStringLiteral("%1/locks/%2")
                             .arg(m_root, QString::number(shard, 16).rightJustified(2, u'0'));
    const int fd = ::open(localPath(path).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ioError(QStringLiteral("open lock"), path);
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            const int error = errno;
            ::close(fd);
            return ioError(QStringLiteral("lock"), path, error);
        }
    }
    Status result = work();
    ::close(fd); // releases the lock
    return result;
}

Status FsBlobStore::commitPart(const QString &uploadId, const QByteArray &sha256)
{
    if (!isValidFileId(uploadId.toStdString()) || sha256.size() != kSha256Bytes)
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an upload id or checksum"));
    const QString part = partPath(uploadId);
    {
        // Durable before it can be found under its blob's name.
        const int fd = ::open(localPath(part).constData(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            // Committed already (by another finisher, or the sweep's repair).
            if (hasBlob(sha256))
                return Done{};
            return makeError(v1::NOT_FOUND, QStringLiteral("No such part"));
        }
        if (fd < 0)
            return ioError(QStringLiteral("open part"), part);
        const bool synced = ::fdatasync(fd) == 0;
        const int error = errno;
        ::close(fd);
        if (!synced)
            return ioError(QStringLiteral("sync part"), part, error);
    }
    return underLock(sha256, [&]() -> Status {
        const QString blob = blobPath(sha256);
        if (exists(blob)) {
            // The same bytes are stored already: once is enough.
            if (::unlink(localPath(part).constData()) != 0 && errno != ENOENT)
                return ioError(QStringLiteral("remove part"), part);
            return Done{};
        }
        const QString folder = blob.left(blob.lastIndexOf(u'/'));
        const bool madeFolder = !QDir(folder).exists();
        if (madeFolder && !QDir().mkpath(folder))
            return makeError(v1::INTERNAL,
                             QStringLiteral("Cannot create the folder %1").arg(folder));
        if (::rename(localPath(part).constData(), localPath(blob).constData()) != 0)
            return ioError(QStringLiteral("store blob"), blob);
        ::chmod(localPath(blob).constData(), 0400);
        // The new name (and new folders) durable, and the part's old one gone.
        bool synced = syncFolder(folder);
        if (madeFolder) {
            const QString parent = folder.left(folder.lastIndexOf(u'/'));
            synced = syncFolder(parent) && synced;
            synced = syncFolder(parent.left(parent.lastIndexOf(u'/'))) && synced;
        }
        synced = syncFolder(QDir(m_root).filePath(QStringLiteral("parts"))) && synced;
        if (!synced)
            return ioError(QStringLiteral("sync folder"), folder);
        return Done{};
    });
}

Result<std::unique_ptr<BlobStore::BlobReader>> FsBlobStore::openBlob(const QByteArray &sha256)
{
    if (sha256.size() != kSha256Bytes)
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not a checksum"));
    const QString path = blobPath(sha256);
    const int fd = ::open(localPath(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return makeError(v1::NOT_FOUND, QStringLiteral("No such blob"));
        return ioError(QStringLiteral("open blob"), path);
    }
    struct stat info
    {};
    if (::fstat(fd, &info) != 0) {
        const int error = errno;
        ::close(fd);
        return ioError(QStringLiteral("stat blob"), path, error);
    }
    return std::unique_ptr<BlobReader>(std::make_unique<FsBlobReader>(fd, qint64(info.st_size)));
}

bool FsBlobStore::hasBlob(const QByteArray &sha256)
{
    return sha256.size() == kSha256Bytes && exists(blobPath(sha256));
}

Result<bool> FsBlobStore::removeBlobIf(const QByteArray &sha256,
                                       const std::function<bool()> &stillUnused)
{
    if (sha256.size() != kSha256Bytes)
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not a checksum"));
    QString doomed;
    const Status status = underLock(sha256, [&]() -> Status {
        if (!stillUnused())
            return Done{};
        // Under the lock only the name goes (a rename): an upload of the same
        // bytes finishing meanwhile stores a new blob, never a half-removed one.
        const QString blob = blobPath(sha256);
        const QString trash = trashPath(sha256);
        if (::rename(localPath(blob).constData(), localPath(trash).constData()) != 0) {
            if (errno == ENOENT)
                return Done{};
            return ioError(QStringLiteral("remove blob"), blob);
        }
        doomed = trash;
        return Done{};
    });
    if (!status)
        return status.error();
    if (doomed.isEmpty())
        return false;
    // The blocks go back a step at a time (see removeGradually); what a crash
    // leaves in trash/ goes at the next open.
    if (!removeGradually(localPath(doomed)))
        qCWarning(lcFiles).noquote() << "cannot remove" << doomed << strerror(errno);
    return true;
}

QString FsBlobStore::trashPath(const QByteArray &sha256) const
{
    // Unique across the nodes sharing the folder, each of which may collect
    // the same bytes again after a new upload of them.
    return QStringLiteral("%1/trash/%2.%3")
        .arg(m_root, QString::fromLatin1(sha256.toHex()),
             QString::number(QRandomGenerator::system()->generate64(), 36));
}

} // namespace kith::server
