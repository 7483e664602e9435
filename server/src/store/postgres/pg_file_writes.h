#pragma once
// The file writes of the PostgreSQL store, each run by the writer inside its
// own savepoint of the batch's transaction. A new upload locks its
// uploader's row first, so that uploads racing on several nodes see each
// other's bytes against the quota and the limit of uploads under way.

#include "pg_connection.h"
#include "store.h"

namespace kith::server::pg {

[[nodiscard]] Result<UploadGrant> createUpload(PgConnection &c, const NewUpload &upload);
[[nodiscard]] Result<FileRecord> completeUpload(PgConnection &c, const QString &fileId,
                                                qint64 nowMs);
[[nodiscard]] Status dropUpload(PgConnection &c, const QString &fileId, quint64 userId);
[[nodiscard]] Result<FileSweep> sweepFiles(PgConnection &c, qint64 nowMs, qint64 unsentGraceMs,
                                           int limit);

} // namespace kith::server::pg
