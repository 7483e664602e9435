// The SQLite writer's file jobs: uploads (with their limits), finishing them,
// dropping them, and the sweep of what has expired or nobody refers to.
#include "sqlite_writer.h"

#include "kith/protocol.h"

namespace kith::server {

using namespace sqlite;

Status SqliteStore::Writer::checkAttachedFile(const EncodedAppend &request)
{
    Stmt s(*m_c, QStringLiteral("SELECT 1 FROM files WHERE id = ? AND uploader_id = ?"
                                " AND complete = 1 AND size = ? AND sha256 = ?"));
    if (!s.exec({request.fileId, intValue(request.senderUserId), intValue(request.fileSize),
                 request.fileSha256}))
        return s.error("attached file");
    if (!s.next())
        return invalid(QStringLiteral("No finished upload of yours with that id, size and "
                                      "checksum"));
    return Done{};
}

Result<UploadGrant> SqliteStore::Writer::createUpload(const NewUpload &upload)
{
    // The same bytes of the same uploader: the finished file first, else
    // the upload under way (an expired one is the sweep's).
    {
        Stmt s(*m_c, QStringLiteral("SELECT %1 FROM files WHERE uploader_id = ? AND sha256 = ?"
                                    " AND size = ? AND (complete = 1 OR expires_ms > ?)"
                                    " ORDER BY complete DESC, created_ms LIMIT 1")
                         .arg(kFileColumns));
        if (!s.exec(
                {intValue(upload.uploaderId), upload.sha256, intValue(upload.size), upload.nowMs}))
            return s.error("same upload");
        if (s.next()) {
            UploadGrant grant;
            grant.file = fileFromRow(s);
            grant.existing = true;
            Stmt used(*m_c, QStringLiteral("SELECT COALESCE(SUM(size), 0) FROM files"
                                           " WHERE uploader_id = ?"
                                           " AND (complete = 1 OR expires_ms > ?)"));
            if (!used.exec({intValue(upload.uploaderId), upload.nowMs}) || !used.next())
                return used.error("storage used");
            grant.usedBytes = used.u64(0);
            return grant;
        }
    }
    quint64 usedBytes = 0;
    {
        Stmt s(*m_c, QStringLiteral("SELECT COALESCE(SUM(size), 0),"
                                    " COALESCE(SUM(complete = 0), 0) FROM files"
                                    " WHERE uploader_id = ? AND (complete = 1 OR expires_ms > ?)"));
        if (!s.exec({intValue(upload.uploaderId), upload.nowMs}) || !s.next())
            return s.error("storage used");
        usedBytes = s.u64(0);
        const qint64 unfinished = s.i64(1);
        if (upload.maxUnfinished > 0 && unfinished >= upload.maxUnfinished)
            return makeError(
                v1::RATE_LIMITED,
                QStringLiteral("%1 uploads are under way already; finish or cancel one")
                    .arg(unfinished));
        if (upload.quotaBytes > 0 && usedBytes + upload.size > upload.quotaBytes)
            return makeError(v1::QUOTA_EXCEEDED,
                             QStringLiteral("Your storage is full: %1 of %2 bytes in use, this "
                                            "file needs %3")
                                 .arg(usedBytes)
                                 .arg(upload.quotaBytes)
                                 .arg(upload.size));
    }
    Stmt s(*m_c, QStringLiteral("INSERT INTO files (id, uploader_id, size, sha256, mime_type,"
                                " complete, created_ms, expires_ms, completed_ms)"
                                " VALUES (?, ?, ?, ?, ?, 0, ?, ?, 0)"));
    if (!s.exec({upload.id, intValue(upload.uploaderId), intValue(upload.size), upload.sha256,
                 upload.mimeType, upload.nowMs, upload.expiresMs}))
        return s.error("insert upload");
    UploadGrant grant;
    grant.file.id = upload.id;
    grant.file.uploaderId = upload.uploaderId;
    grant.file.size = upload.size;
    grant.file.sha256 = upload.sha256;
    grant.file.mimeType = upload.mimeType;
    grant.file.createdMs = upload.nowMs;
    grant.file.expiresMs = upload.expiresMs;
    grant.usedBytes = usedBytes + upload.size;
    return grant;
}

Result<FileRecord> SqliteStore::Writer::completeUpload(const QString &fileId, qint64 nowMs)
{
    {
        Stmt s(*m_c, QStringLiteral("UPDATE files SET complete = 1, completed_ms = ?,"
                                    " expires_ms = 0 WHERE id = ? AND complete = 0"));
        if (!s.exec({nowMs, fileId}))
            return s.error("complete upload");
        if (s.rowsAffected() == 0)
            return notFound(QStringLiteral("no such upload"));
    }
    auto file = loadFile(*m_c, fileId);
    if (!file)
        return file.error();
    if (!*file)
        return notFound(QStringLiteral("no such upload"));
    Stmt s(*m_c, QStringLiteral("INSERT INTO blobs (sha256, size, created_ms) VALUES (?, ?, ?)"
                                " ON CONFLICT (sha256) DO NOTHING"));
    if (!s.exec({(*file)->sha256, intValue((*file)->size), nowMs}))
        return s.error("insert blob");
    return **file;
}

Status SqliteStore::Writer::dropUpload(const QString &fileId, quint64 userId)
{
    Stmt s(*m_c, QStringLiteral("DELETE FROM files WHERE id = ? AND complete = 0"
                                " AND (? = 0 OR uploader_id = ?)"));
    if (!s.exec({fileId, intValue(userId), intValue(userId)}))
        return s.error("drop upload");
    if (s.rowsAffected() == 0)
        return notFound(QStringLiteral("no such upload"));
    return Done{};
}

Result<FileSweep> SqliteStore::Writer::sweepFiles(qint64 nowMs, qint64 unsentGraceMs, int limit)
{
    FileSweep sweep;
    {
        Stmt s(*m_c, QStringLiteral("DELETE FROM files WHERE id IN (SELECT id FROM files"
                                    " WHERE complete = 0 AND expires_ms <= ? LIMIT ?)"
                                    " RETURNING id"));
        if (!s.exec({nowMs, limit}))
            return s.error("expire uploads");
        while (s.next())
            sweep.expiredUploads.append(s.text(0));
    }
    {
        Stmt s(*m_c, QStringLiteral(
                         "DELETE FROM files WHERE id IN (SELECT f.id FROM files f"
                         " WHERE f.complete = 1 AND f.completed_ms <= ? AND NOT EXISTS"
                         " (SELECT 1 FROM message_files mf WHERE mf.file_id = f.id)"
                         " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_file_id = f.id)"
                         " AND NOT EXISTS (SELECT 1 FROM conversations c"
                         "  WHERE c.avatar_file_id = f.id)"
                         " LIMIT ?)"
                         " RETURNING id"));
        if (!s.exec({nowMs - unsentGraceMs, limit}))
            return s.error("collect unsent files");
        while (s.next())
            sweep.unsentFiles.append(s.text(0));
    }
    Stmt s(*m_c, QStringLiteral("DELETE FROM blobs WHERE sha256 IN (SELECT b.sha256 FROM blobs b"
                                " WHERE NOT EXISTS (SELECT 1 FROM files f"
                                " WHERE f.sha256 = b.sha256 AND f.complete = 1) LIMIT ?)"
                                " RETURNING sha256"));
    if (!s.exec({limit}))
        return s.error("collect blobs");
    while (s.next())
        sweep.blobs.append(s.blob(0));
    return sweep;
}

} // namespace kith::server
