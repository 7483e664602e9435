#pragma once
// BlobStore: where the bytes of files live. An upload's bytes arrive in a
// part of their own (one per upload, appended to in order); once verified,
// the part becomes the blob named by its SHA-256, so the same bytes are
// stored once however many files hold them. The store (Store) decides what
// exists; this only keeps bytes. Owned by the Server; thread-safe (the
// transfer thread, its finishing pool and the sweep use it at once).
// FsBlobStore keeps them in a folder; on several nodes that folder is a
// shared mount. An object-store backend can come later behind this.

#include "kith/result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>

namespace kith::server {

class BlobStore
{
public:
    // An upload's part, open for appending. Only one writer holds a part at a
    // time, on every node sharing the folder.
    class PartWriter
    {
    public:
        virtual ~PartWriter() = default;
        // Bytes in the part: where the upload resumes.
        [[nodiscard]] virtual qint64 size() const = 0;
        [[nodiscard]] virtual Status append(QByteArrayView bytes) = 0;
        // Makes what was appended durable (before it becomes a blob).
        [[nodiscard]] virtual Status sync() = 0;
    };

    // A blob, open for reading; fileDescriptor() for zero-copy sending where
    // the backend has one (-1 otherwise).
    class BlobReader
    {
    public:
        virtual ~BlobReader() = default;
        [[nodiscard]] virtual qint64 size() const = 0;
        // Up to `length` bytes at `offset`; fewer only at the end; -1 on error.
        [[nodiscard]] virtual qint64 read(qint64 offset, char *into, qint64 length) = 0;
        [[nodiscard]] virtual int fileDescriptor() const { return -1; }
    };

    virtual ~BlobStore() = default;

    // Creates what the store needs (folders). Call once, first.
    [[nodiscard]] virtual Status open() = 0;
    // Where it keeps bytes, for logs.
    [[nodiscard]] virtual QString location() const = 0;

    // The part of `uploadId` (a valid file id), made empty when new.
    // OFFSET_MISMATCH while another writer holds it.
    [[nodiscard]] virtual Result<std::unique_ptr<PartWriter>> openPart(const QString &uploadId) = 0;
    // Bytes in the part (0 when there is none).
    [[nodiscard]] virtual Result<qint64> partSize(const QString &uploadId) = 0;
    // The SHA-256 of the part's bytes, read back from where they are kept.
    [[nodiscard]] virtual Result<QByteArray> hashPart(const QString &uploadId) = 0;
    // Removes a part (nothing to do when there is none). A big part may take
    // a while (the filesystem backend frees it in steps): not on the session loop.
    [[nodiscard]] virtual Status removePart(const QString &uploadId) = 0;
    // The upload ids that have a part, for the sweep.
    [[nodiscard]] virtual QStringList parts() = 0;
    // The part (made durable first) becomes the blob of `sha256`; when that
    // blob is there already, the part just goes. Under the blob's lock.
    // Without a part: done when the blob is there (committed before), else NOT_FOUND.
    [[nodiscard]] virtual Status commitPart(const QString &uploadId, const QByteArray &sha256) = 0;

    [[nodiscard]] virtual Result<std::unique_ptr<BlobReader>>
    openBlob(const QByteArray &sha256) = 0;
    [[nodiscard]] virtual bool hasBlob(const QByteArray &sha256) = 0;
    // Removes the blob when `stillUnused`, asked under the blob's lock, says
    // so: a file finishing with the same bytes meanwhile (here or on another
    // node) keeps it. True when removed.
    [[nodiscard]] virtual Result<bool> removeBlobIf(const QByteArray &sha256,
                                                    const std::function<bool()> &stillUnused) = 0;
};

} // namespace kith::server
