#include "pg_file_writes.h"

#include "pg_rows.h"

namespace kith::server::pg {

namespace {

struct Usage
{
    quint64 usedBytes = 0;
    qint64 unfinished = 0;
};

Result<Usage> usageOf(PgConnection &c, quint64 userId, qint64 nowMs)
{
    auto r = c.query(QStringLiteral("SELECT COALESCE(SUM(size), 0)::bigint,"
                                    " COUNT(*) FILTER (WHERE NOT complete) FROM files"
                                    " WHERE uploader_id = $1 AND (complete OR expires_ms > $2)"),
                     {userId, nowMs}, "storage used");
    if (!r)
        return r.error();
    if (!r->next())
        return makeError(v1::INTERNAL, QStringLiteral("storage error (storage used)"));
    return Usage{r->u64(0), r->i64(1)};
}

} // namespace

Result<UploadGrant> createUpload(PgConnection &c, const NewUpload &upload)
{
    // Uploads of one user on several nodes take their turns here.
    auto locked = c.query(QStringLiteral("SELECT 1 FROM users WHERE id = $1 FOR UPDATE"),
                          {upload.uploaderId}, "lock uploader");
    if (!locked)
        return locked.error();
    if (!locked->next())
        return notFound(QStringLiteral("no such user"));
    {
        // The same bytes of the same uploader: the finished file first, else
        // the upload under way (an expired one is the sweep's).
        auto r =
            c.query(QStringLiteral("SELECT %1 FROM files WHERE uploader_id = $1"
                                   " AND sha256 = $2 AND size = $3"
                                   " AND (complete OR expires_ms > $4)"
                                   " ORDER BY complete DESC, created_ms LIMIT 1")
                        .arg(kFileColumns),
                    {upload.uploaderId, upload.sha256, upload.size, upload.nowMs}, "same upload");
        if (!r)
            return r.error();
        if (r->next()) {
            UploadGrant grant;
            grant.file = fileFromRow(*r);
            grant.existing = true;
            const auto usage = usageOf(c, upload.uploaderId, upload.nowMs);
            if (!usage)
                return usage.error();
            grant.usedBytes = usage->usedBytes;
            return grant;
        }
    }
    const auto usage = usageOf(c, upload.uploaderId, upload.nowMs);
    if (!usage)
        return usage.error();
    if (upload.maxUnfinished > 0 && usage->unfinished >= upload.maxUnfinished)
        return makeError(v1::RATE_LIMITED,
                         QStringLiteral("%1 uploads are under way already; finish or cancel one")
                             .arg(usage->unfinished));
    if (upload.quotaBytes > 0 && usage->usedBytes + upload.size > upload.quotaBytes)
        return makeError(v1::QUOTA_EXCEEDED,
                         QStringLiteral("Your storage is full: %1 of %2 bytes in use, this file "
                                        "needs %3")
                             .arg(usage->usedBytes)
                             .arg(upload.quotaBytes)
                             .arg(upload.size));
    auto r = c.query(QStringLiteral("INSERT INTO files (id, uploader_id, size, sha256, mime_type,"
                                    " complete, created_ms, expires_ms, completed_ms)"
                                    " VALUES ($1, $2, $3, $4, $5, false, $6, $7, 0)"),
                     {upload.id, upload.uploaderId, upload.size, upload.sha256, upload.mimeType,
                      upload.nowMs, upload.expiresMs},
                     "insert upload");
    if (!r)
        return r.error();
    UploadGrant grant;
    grant.file.id = upload.id;
    grant.file.uploaderId = upload.uploaderId;
    grant.file.size = upload.size;
    grant.file.sha256 = upload.sha256;
    grant.file.mimeType = upload.mimeType;
    grant.file.createdMs = upload.nowMs;
    grant.file.expiresMs = upload.expiresMs;
    grant.usedBytes = usage->usedBytes + upload.size;
    return grant;
}

Result<FileRecord> completeUpload(PgConnection &c, const QString &fileId, qint64 nowMs)
{
    auto r = c.query(QStringLiteral("UPDATE files SET complete = true, completed_ms = $2,"
                                    " expires_ms = 0 WHERE id = $1 AND NOT complete RETURNING %1")
                         .arg(kFileColumns),
                     {fileId, nowMs}, "complete upload");
    if (!r)
        return r.error();
    if (!r->next())
        return notFound(QStringLiteral("no such upload"));
    const FileRecord file = fileFromRow(*r);
    auto blob = c.query(QStringLiteral("INSERT INTO blobs (sha256, size, created_ms)"
                                       " VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING"),
                        {file.sha256, file.size, nowMs}, "insert blob");
    if (!blob)
        return blob.error();
    return file;
}

Status dropUpload(PgConnection &c, const QString &fileId, quint64 userId)
{
    auto r = c.query(QStringLiteral("DELETE FROM files WHERE id = $1 AND NOT complete"
                                    " AND ($2 = 0 OR uploader_id = $2)"),
                     {fileId, userId}, "drop upload");
    if (!r)
        return r.error();
    if (r->affected() == 0)
        return notFound(QStringLiteral("no such upload"));
    return Done{};
}

Result<FileSweep> sweepFiles(PgConnection &c, qint64 nowMs, qint64 unsentGraceMs, int limit)
{
    FileSweep sweep;
    {
        auto r = c.query(QStringLiteral("DELETE FROM files WHERE id IN (SELECT id FROM files"
                                        " WHERE NOT complete AND expires_ms <= $1 LIMIT $2"
                                        " FOR UPDATE SKIP LOCKED) RETURNING id"),
                         {nowMs, limit}, "expire uploads");
        if (!r)
            return r.error();
        while (r->next())
            sweep.expiredUploads.append(r->text(0));
    }
    {
        // A message committing its reference meanwhile (on another node)
        // holds the file's row lock through its foreign key: skipped here.
        auto r = c.query(QStringLiteral("DELETE FROM files WHERE id IN (SELECT f.id FROM files f"
                                        " WHERE f.complete AND f.completed_ms <= $1"
                                        " AND NOT EXISTS (SELECT 1 FROM message_files mf"
                                        "  WHERE mf.file_id = f.id) AND NOT EXISTS"
                                        " (SELECT 1 FROM users u WHERE u.avatar_file_id = f.id)"
                                        " AND NOT EXISTS (SELECT 1 FROM conversations gc"
                                        "  WHERE gc.avatar_file_id = f.id)"
                                        " LIMIT $2"
                                        " FOR UPDATE SKIP LOCKED) RETURNING id"),
                         {nowMs - unsentGraceMs, limit}, "collect unsent files");
        if (!r)
            return r.error();
        while (r->next())
            sweep.unsentFiles.append(r->text(0));
    }
    auto r =
        c.query(QStringLiteral("DELETE FROM blobs WHERE sha256 IN (SELECT b.sha256 FROM blobs b"
                               " WHERE NOT EXISTS (SELECT 1 FROM files f"
                               "  WHERE f.sha256 = b.sha256 AND f.complete) LIMIT $1"
                               " FOR UPDATE SKIP LOCKED) RETURNING sha256"),
                {limit}, "collect blobs");
    if (!r)
        return r.error();
    while (r->next())
        sweep.blobs.append(r->bytes(0));
    return sweep;
}

} // namespace kith::server::pg
