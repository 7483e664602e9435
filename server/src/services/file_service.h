#pragma once
// Files: what an upload may be (size, quota, uploads under way, a rate per
// user), who may fetch a file, finishing an upload (its bytes verified by
// SHA-256, made durable, recorded, then stored as a blob) and the sweep that
// drops expired uploads and what nothing refers to any more. Owned by
// Services; plain service, no socket code: the session asks for uploads, the
// gateway's transfers move the bytes and call the rest from their own thread.

#include "blob_store.h"
#include "caller.h"
#include "rate_limit.h"

#include <QObject>
#include <QThreadPool>

#include <optional>

namespace kith::server {

struct FileOptions
{
    // --max-file-bytes: a photo, a document, a short video.
    quint64 maxFileBytes = 100ull * 1024 * 1024;
    // --quota-bytes: per user, finished files and uploads under way; 0: none.
    quint64 quotaBytes = 10ull * 1024 * 1024 * 1024;
    // --uploads-per-user: uploads under way at once (each holds disk and a part).
    int uploadsPerUser = 8;
    // --upload-expiry-ms: an upload not finished by then is dropped, with its bytes.
    qint64 uploadExpiryMs = 24ll * 3600 * 1000;
    // A finished file that no message carries after this long is dropped
    // (the app sends the message right after the upload; this is for the ones
    // that never came).
    qint64 unsentGraceMs = 24ll * 3600 * 1000;
    // Upload requests (create, cancel) per user: an album at once, not a flood.
    double requestRate = 20;
    double requestBurst = 200;
};

// Who a transfer request comes from, once its token is checked.
struct Principal
{
    quint64 userId = 0;
    quint64 deviceId = 0;
};

// What a sweep of the files did, for the log and the tests.
struct SweepReport
{
    int expiredUploads = 0;
    int unsentFiles = 0;
    int blobsRemoved = 0;
    int partsRemoved = 0;  // parts of uploads that are gone
    int partsRepaired = 0; // finished uploads whose bytes were still a part
};

class FileService : public QObject
{
    Q_OBJECT
public:
    FileService(Store &store, BlobStore &blobs, FileOptions options, QObject *parent = nullptr);
    ~FileService() override; // waits for the finishing work in flight

    [[nodiscard]] const FileOptions &options() const { return m_options; }
    [[nodiscard]] BlobStore &blobs() { return m_blobs; }

    // ---- on the session loop
    // Refused before any byte is sent: INVALID_ARGUMENT (no checksum),
    // TOO_LARGE, RATE_LIMITED (requests, or uploads under way), QUOTA_EXCEEDED.
    void createUpload(const Caller &caller, const v1::CreateUploadRequest &request,
                      QObject *context, Completion<v1::UploadTicket> done);
    void cancelUpload(const Caller &caller, const v1::CancelUploadRequest &request,
                      QObject *context, Completion<Done> done);

    // ---- for the transfers, on any thread (store reads only)
    // TOKEN_INVALID for an unknown or revoked token, ACCOUNT_DISABLED.
    [[nodiscard]] Result<Principal> authenticate(QByteArrayView token);
    // The caller's own upload (under way or finished); NOT_FOUND otherwise.
    [[nodiscard]] Result<FileRecord> uploadOf(const Principal &who, const QString &uploadId);
    // A finished file the caller may fetch; NOT_FOUND otherwise, the same
    // for a file that does not exist and for one they may not see.
    [[nodiscard]] Result<FileRecord> downloadable(const Principal &who, const QString &fileId);

    // Finishes an upload whose part (held open by `part`, which keeps other
    // writers out until the end) holds all its bytes: checks them against its
    // SHA-256 (`digest`, when the caller hashed them as they came; read back
    // from the part otherwise), makes them durable, records the file as
    // finished and stores the bytes as its blob. CHECKSUM_MISMATCH drops the
    // upload and its bytes. Runs on a pool of its own; `done` on `context`'s thread.
    void finishUpload(const FileRecord &upload, std::unique_ptr<BlobStore::PartWriter> part,
                      std::optional<QByteArray> digest, QObject *context,
                      Completion<FileRecord> done);

    // One round of the sweep (see Store::sweepFiles), then the parts left
    // behind (a crash between steps); `done` on `context`'s thread.
    void sweep(qint64 nowMs, QObject *context, Completion<SweepReport> done);

    // Lets the finishing work in flight end; new work is refused.
    void stop();

private:
    void sweepStep(qint64 nowMs, std::shared_ptr<SweepReport> report, Completion<SweepReport> done);
    [[nodiscard]] SweepReport sweepParts();
    [[nodiscard]] quint32 takeRequest(quint64 userId);

    Store &m_store;
    BlobStore &m_blobs;
    FileOptions m_options;
    KeyedBuckets m_requests; // by user, on the session loop
    // Hashing a part read back, syncing it, renaming it: disk work off the
    // threads that serve connections.
    QThreadPool m_pool;
    bool m_stopped = false;
};

} // namespace kith::server
