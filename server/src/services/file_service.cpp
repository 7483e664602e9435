#include "file_service.h"

#include "completion_relay.h"
#include "conversation_access.h"
#include "credentials.h"
#include "kith/content.h"
#include "kith/protocol.h"
#include "logging.h"

namespace kith::server {

namespace {
// The sweep works in steps of this many rows, so one round never holds the
// writer long, and goes on while a step comes back full.
constexpr int kSweepBatch = 500;
// Finishing reads back, syncs and renames parts: disk work, a few at once.
constexpr int kFinishingThreads = 2;

bool isPrintableAscii(const std::string &bytes)
{
    for (unsigned char c : bytes)
        if (c < 0x20 || c > 0x7e)
            return false;
    return true;
}

Error shuttingDown()
{
    return makeError(v1::SHUTTING_DOWN, QStringLiteral("The server is stopping"));
}
} // namespace

FileService::FileService(Store &store, BlobStore &blobs, FileOptions options, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_blobs(blobs)
    , m_options(options)
    , m_requests(options.requestRate, options.requestBurst)
{
    m_pool.setMaxThreadCount(kFinishingThreads);
}

FileService::~FileService()
{
    stop();
}

void FileService::stop()
{
    m_stopped = true;
    m_pool.waitForDone();
}

quint32 FileService::takeRequest(quint64 userId)
{
    const qint64 now = monotonicMs();
    if (m_requests.size() > 10'000)
        m_requests.forgetRefilled(now);
    return m_requests.take(QString::number(userId), now);
}

void FileService::createUpload(const Caller &caller, const v1::CreateUploadRequest &request,
                               QObject *context, Completion<v1::UploadTicket> done)
{
    if (m_stopped)
        return done(shuttingDown());
    if (const quint32 wait = takeRequest(caller.userId))
        return done(makeError(v1::RATE_LIMITED, QStringLiteral("Too many upload requests"), wait));
    if (request.sha256().size() != size_t(kSha256Bytes))
        return done(makeError(v1::INVALID_ARGUMENT,
                              QStringLiteral("An upload needs the file's SHA-256 (32 bytes)")));
    if (request.mime_type().size() > size_t(kMaxMimeTypeBytes) ||
        !isPrintableAscii(request.mime_type()))
        return done(makeError(v1::INVALID_ARGUMENT,
                              QStringLiteral("MIME type is not printable ASCII of at most %1 bytes")
                                  .arg(kMaxMimeTypeBytes)));
    if (request.size() > m_options.maxFileBytes)
        return done(makeError(v1::TOO_LARGE, QStringLiteral("Files may be at most %1 bytes; this "
                                                            "one has %2")
                                                 .arg(m_options.maxFileBytes)
                                                 .arg(request.size())));
    NewUpload upload;
    upload.id = QString::fromStdString(newFileId());
    upload.uploaderId = caller.userId;
    upload.size = request.size();
    upload.sha256 = QByteArray::fromStdString(request.sha256());
    upload.mimeType = toQString(request.mime_type());
    upload.nowMs = nowMs();
    upload.expiresMs = upload.nowMs + m_options.uploadExpiryMs;
    upload.quotaBytes = m_options.quotaBytes;
    upload.maxUnfinished = m_options.uploadsPerUser;
    m_store.createUpload(
        std::move(upload), this,
        [this,
         done = whileAlive<v1::UploadTicket>(context, std::move(done))](Result<UploadGrant> grant) {
            if (!grant) {
                const v1::ErrorCode code = grant.error().code;
                if (code == v1::RATE_LIMITED || code == v1::QUOTA_EXCEEDED)
                    return done(grant.error());
                return done(storeError(grant.error()));
            }
            v1::UploadTicket ticket;
            ticket.set_upload_id(toStd(grant->file.id));
            ticket.set_complete(grant->file.complete);
            if (grant->file.complete) {
                ticket.set_received(grant->file.size);
            } else if (grant->existing) {
                const Result<qint64> held = m_blobs.partSize(grant->file.id);
                ticket.set_received(held ? quint64(*held) : 0);
            }
            ticket.set_upload_path(toStd(QStringLiteral("/v1/uploads/") + grant->file.id));
            ticket.set_max_file_bytes(m_options.maxFileBytes);
            ticket.set_quota_bytes(m_options.quotaBytes);
            ticket.set_used_bytes(grant->usedBytes);
            qCDebug(lcFiles) << "upload" << grant->file.id << "of" << grant->file.size
                             << "bytes for user" << grant->file.uploaderId
                             << (grant->existing ? "(again)" : "");
            done(ticket);
        });
}

void FileService::cancelUpload(const Caller &caller, const v1::CancelUploadRequest &request,
                               QObject *context, Completion<Done> done)
{
    if (m_stopped)
        return done(shuttingDown());
    if (const quint32 wait = takeRequest(caller.userId))
        return done(makeError(v1::RATE_LIMITED, QStringLiteral("Too many upload requests"), wait));
    if (!isValidFileId(request.upload_id()))
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an upload id")));
    const QString id = toQString(request.upload_id());
    m_store.dropUpload(
        id, caller.userId, this,
        [this, id, done = whileAlive<Done>(context, std::move(done))](Status status) {
            if (!status) {
                if (status.error().code == v1::NOT_FOUND)
                    return done(makeError(v1::NOT_FOUND, QStringLiteral("No such upload")));
                return done(storeError(status.error()));
            }
            // Its row is gone, so no request can open the part again. A
            // request writing it right now finds the upload gone at its end.
            // Its bytes go off the session loop: a big part goes in steps.
            m_pool.start([this, id] {
                if (const Status removed = m_blobs.removePart(id); !removed)
                    qCWarning(lcFiles) << "cannot remove the part of" << id;
            });
            done(Done{});
        });
}

Result<Principal> FileService::authenticate(QByteArrayView token)
{
    const Error invalid =
        makeError(v1::TOKEN_INVALID, QStringLiteral("Unknown or revoked token; log in again"));
    if (token.isEmpty() || token.size() > 256)
        return invalid;
    const Result<DeviceRecord> device = m_store.deviceByTokenHash(hashDeviceToken(token));
    if (!device)
        return device.error().code == v1::NOT_FOUND ? invalid : storeError(device.error());
    const Result<UserRecord> user = m_store.userById(device->userId);
    if (!user)
        return user.error().code == v1::NOT_FOUND ? invalid : storeError(user.error());
    if (user->disabled)
        return makeError(v1::ACCOUNT_DISABLED, QStringLiteral("This account is disabled"));
    return Principal{user->id, device->id};
}

Result<FileRecord> FileService::uploadOf(const Principal &who, const QString &uploadId)
{
    const Error missing = makeError(v1::NOT_FOUND, QStringLiteral("No such upload"));
    if (!isValidFileId(uploadId.toStdString()))
        return missing;
    const Result<std::optional<FileRecord>> file = m_store.file(uploadId);
    if (!file)
        return storeError(file.error());
    if (!*file || (*file)->uploaderId != who.userId)
        return missing;
    return **file;
}

Result<FileRecord> FileService::downloadable(const Principal &who, const QString &fileId)
{
    const Error missing = makeError(v1::NOT_FOUND, QStringLiteral("No such file"));
    if (!isValidFileId(fileId.toStdString()))
        return missing;
    const Result<std::optional<FileRecord>> file = m_store.downloadableFile(fileId, who.userId);
    if (!file)
        return storeError(file.error());
    if (!*file)
        return missing;
    return **file;
}

void FileService::finishUpload(const FileRecord &upload,
                               std::unique_ptr<BlobStore::PartWriter> part,
                               std::optional<QByteArray> digest, QObject *context,
                               Completion<FileRecord> done)
{
    const CompletionRelay::Target target = CompletionRelay::targetOf(context);
    auto reply = [target, done = std::move(done)](Result<FileRecord> result) mutable {
        CompletionRelay::post(target,
                              [done = std::move(done), result = std::move(result)]() mutable {
                                  done(std::move(result));
                              });
    };
    if (m_stopped)
        return reply(shuttingDown());
    // Back on the session loop (this object's thread): the store's write.
    const CompletionRelay::Target self = CompletionRelay::targetOf(this);
    // The part's lock goes with the last holder of `held`, once the bytes are stored.
    std::shared_ptr<BlobStore::PartWriter> held = std::move(part);
    m_pool.start([this, upload, held, digest = std::move(digest), self,
                  reply = std::move(reply)]() mutable {
        const Result<QByteArray> sum =
            digest ? Result<QByteArray>(*digest) : m_blobs.hashPart(upload.id);
        if (!sum)
            return reply(sum.error());
        if (*sum != upload.sha256) {
            qCInfo(lcFiles) << "upload" << upload.id << "of user" << upload.uploaderId
                            << "does not match its checksum; dropped";
            (void)m_blobs.removePart(upload.id);
            // Answered once the upload is gone, so that asking about it
            // afterwards finds nothing.
            CompletionRelay::post(self, [this, id = upload.id, reply = std::move(reply)]() mutable {
                m_store.dropUpload(id, 0, this, [reply = std::move(reply)](Status) mutable {
                    reply(makeError(v1::CHECKSUM_MISMATCH,
                                    QStringLiteral("The bytes uploaded do not have the SHA-256 "
                                                   "announced; upload the file again")));
                });
            });
            return;
        }
        // Durable before the store calls the file finished.
        if (held) {
            if (const Status synced = held->sync(); !synced)
                return reply(synced.error());
        }
        CompletionRelay::post(self, [this, upload, held, reply = std::move(reply)]() mutable {
            m_store.completeUpload(
                upload.id, nowMs(), this,
                [this, held, reply = std::move(reply)](Result<FileRecord> finished) mutable {
                    if (!finished) {
                        if (finished.error().code == v1::NOT_FOUND)
                            return reply(
                                makeError(v1::NOT_FOUND, QStringLiteral("The upload was dropped")));
                        return reply(storeError(finished.error()));
                    }
                    if (m_stopped) // the sweep's repair stores the bytes at the next start
                        return reply(*finished);
                    m_pool.start([this, held, file = *finished,
                                  reply = std::move(reply)]() mutable {
                        // The file is finished in the store whatever happens
                        // here; a part left behind is stored by the sweep.
                        const Status stored = m_blobs.commitPart(file.id, file.sha256);
                        held.reset();
                        if (!stored)
                            return reply(stored.error());
                        qCDebug(lcFiles) << "file" << file.id << "stored," << file.size << "bytes";
                        reply(file);
                    });
                });
        });
    });
}

void FileService::sweep(qint64 nowMs, QObject *context, Completion<SweepReport> done)
{
    if (m_stopped)
        return done(shuttingDown());
    sweepStep(nowMs, std::make_shared<SweepReport>(), whileAlive(context, std::move(done)));
}

void FileService::sweepStep(qint64 nowMs, std::shared_ptr<SweepReport> report,
                            Completion<SweepReport> done)
{
    m_store.sweepFiles(
        nowMs, m_options.unsentGraceMs, kSweepBatch, this,
        [this, nowMs, report, done = std::move(done)](Result<FileSweep> swept) mutable {
            if (!swept)
                return done(storeError(swept.error()));
            if (m_stopped)
                return done(*report);
            report->expiredUploads += int(swept->expiredUploads.size());
            report->unsentFiles += int(swept->unsentFiles.size());
            const bool more = swept->expiredUploads.size() == kSweepBatch ||
                              swept->unsentFiles.size() == kSweepBatch ||
                              swept->blobs.size() == kSweepBatch;
            const CompletionRelay::Target self = CompletionRelay::targetOf(this);
            m_pool.start([this, nowMs, more, self, report, swept = std::move(*swept),
                          done = std::move(done)]() mutable {
                for (const QString &id : std::as_const(swept.expiredUploads))
                    (void)m_blobs.removePart(id);
                for (const QByteArray &sha256 : std::as_const(swept.blobs)) {
                    // Removed only if no file finished with these bytes since
                    // (the store says so under the blob's lock).
                    const Result<bool> removed = m_blobs.removeBlobIf(sha256, [&] {
                        const Result<bool> used = m_store.blobInUse(sha256);
                        return used && !*used;
                    });
                    if (removed && *removed)
                        ++report->blobsRemoved;
                }
                if (!more) {
                    const SweepReport parts = sweepParts();
                    report->partsRemoved += parts.partsRemoved;
                    report->partsRepaired += parts.partsRepaired;
                }
                CompletionRelay::post(
                    self, [this, nowMs, more, report, done = std::move(done)]() mutable {
                        if (more && !m_stopped)
                            return sweepStep(nowMs, report, std::move(done));
                        done(*report);
                    });
            });
        });
}

SweepReport FileService::sweepParts()
{
    SweepReport report;
    const QStringList ids = m_blobs.parts();
    for (const QString &id : ids) {
        if (m_stopped)
            break;
        const Result<std::optional<FileRecord>> file = m_store.file(id);
        if (!file)
            continue; // the store is away: next time
        if (!*file) {
            // Its upload was dropped (cancelled, expired, a bad checksum).
            if (m_blobs.removePart(id))
                ++report.partsRemoved;
        } else if ((*file)->complete) {
            // Finished in the store, but kithd stopped before the bytes were
            // stored as a blob.
            if (m_blobs.commitPart(id, (*file)->sha256))
                ++report.partsRepaired;
        }
    }
    return report;
}

} // namespace kith::server
