#pragma once
// FsBlobStore: the BlobStore in a folder (by default "files" in kithd's data
// folder; on several nodes a mount they all share):
//   blobs/ab/cd/<sha256 in hex>   the bytes of finished files, read-only
//   parts/<upload id>             uploads under way
//   locks/ab                      flock(2) files: one lock per first byte of a checksum
//   trash/<sha256 in hex>.<n>     blobs being removed, a step at a time
// A part becomes a blob by fsync, rename and fsync of the folder, so a crash
// never leaves a half file under a blob's name. Locks are flock(2) (Linux
// maps them onto POSIX locks on NFS) plus a mutex within the process.

#include "blob_store.h"

#include <array>
#include <memory>
#include <mutex>

namespace kith::server {

class PartFlusher;

class FsBlobStore final : public BlobStore
{
public:
    explicit FsBlobStore(QString root);
    ~FsBlobStore() override;

    [[nodiscard]] Status open() override;
    [[nodiscard]] QString location() const override { return m_root; }

    [[nodiscard]] Result<std::unique_ptr<PartWriter>> openPart(const QString &uploadId) override;
    [[nodiscard]] Result<qint64> partSize(const QString &uploadId) override;
    [[nodiscard]] Result<QByteArray> hashPart(const QString &uploadId) override;
    [[nodiscard]] Status removePart(const QString &uploadId) override;
    [[nodiscard]] QStringList parts() override;
    [[nodiscard]] Status commitPart(const QString &uploadId, const QByteArray &sha256) override;

    [[nodiscard]] Result<std::unique_ptr<BlobReader>> openBlob(const QByteArray &sha256) override;
    [[nodiscard]] bool hasBlob(const QByteArray &sha256) override;
    [[nodiscard]] Result<bool> removeBlobIf(const QByteArray &sha256,
                                            const std::function<bool()> &stillUnused) override;

    // Where a blob and a part are kept (for tests and the admin).
    [[nodiscard]] QString blobPath(const QByteArray &sha256) const;
    [[nodiscard]] QString partPath(const QString &uploadId) const;
    // A new name in trash/ for a blob about to be removed.
    [[nodiscard]] QString trashPath(const QByteArray &sha256) const;

private:
    // Runs `work` holding the lock of `sha256`'s shard, in this process and
    // on the shared folder.
    [[nodiscard]] Status underLock(const QByteArray &sha256, const std::function<Status()> &work);

    QString m_root;
    std::array<std::mutex, 256> m_shardMutexes;
    std::shared_ptr<PartFlusher> m_flusher; // shared with the parts being written
};

} // namespace kith::server
