#include "pg_schema.h"

#include "kith/protocol.h"
#include "pg_logging.h"

#include <vector>

namespace kith::server::pg {

namespace {

// Taken by every migration transaction, so that nodes starting together
// migrate one after the other. ("kith" in ASCII.)
constexpr qint64 kMigrationLock = 0x6b697468;

struct Migration
{
    const char *description;
    std::vector<const char *> statements;
};

// Append new steps at the end; never edit a step that has shipped.
const std::vector<Migration> &migrations()
{
    static const std::vector<Migration> steps = {
        {"core schema",
         {
             "CREATE TABLE users ("
             " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
             " username text NOT NULL UNIQUE,"
             " display_name text NOT NULL,"
             // Unicode case-folded display name, for search (folded by kithd,
             // the same way as on SQLite).
             " display_key text NOT NULL,"
             " password_hash bytea NOT NULL,"
             " disabled boolean NOT NULL DEFAULT false,"
             " created_ms bigint NOT NULL)",
             "CREATE TABLE devices ("
             " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
             " user_id bigint NOT NULL REFERENCES users(id),"
             " name text NOT NULL,"
             " token_hash bytea NOT NULL UNIQUE,"
             " created_ms bigint NOT NULL,"
             " last_seen_ms bigint NOT NULL,"
             " revoked boolean NOT NULL DEFAULT false)",
             // max_seq: the last seq handed out; appends raise it with
             // UPDATE ... RETURNING in their own transaction, so the row lock
             // orders the writers of one conversation, whichever node they run on.
             "CREATE TABLE conversations ("
             " id text PRIMARY KEY,"
             " kind integer NOT NULL,"
             " title text NOT NULL DEFAULT '',"
             " max_seq bigint NOT NULL DEFAULT 0,"
             " metadata_version bigint NOT NULL DEFAULT 0,"
             " last_activity_ms bigint NOT NULL,"
             " created_ms bigint NOT NULL)",
             // joined_seq: the seq of the event that added the member, so
             // "longest-standing" is exact even within one millisecond.
             "CREATE TABLE members ("
             " conversation_id text NOT NULL REFERENCES conversations(id),"
             " user_id bigint NOT NULL REFERENCES users(id),"
             " role integer NOT NULL,"
             " joined_ms bigint NOT NULL,"
             " joined_seq bigint NOT NULL,"
             " read_seq bigint NOT NULL DEFAULT 0,"
             " PRIMARY KEY (conversation_id, user_id))",
             // client_msg_id is NULL for system events, which the unique index allows.
             "CREATE TABLE messages ("
             " server_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
             " conversation_id text NOT NULL REFERENCES conversations(id),"
             " seq bigint NOT NULL,"
             " sender_user_id bigint NOT NULL,"
             " sender_device_id bigint NOT NULL,"
             " client_msg_id text,"
             " server_time_ms bigint NOT NULL,"
             " content bytea NOT NULL,"
             " UNIQUE (conversation_id, seq))",
             "CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_user_id, "
             "client_msg_id)",
             "CREATE SEQUENCE group_ids",
         }},
        {"indexes for per-user lookups (conversation lists, contacts, devices)",
         {
             "CREATE INDEX members_by_user ON members (user_id, conversation_id)",
             "CREATE INDEX devices_by_user ON devices (user_id)",
         }},
        {"files: uploads and finished files, their blobs, the messages that carry them",
         {
             // complete: false while the bytes arrive (expires_ms then says
             // when it is dropped), true once they are verified and stored.
             "CREATE TABLE files ("
             " id text PRIMARY KEY,"
             " uploader_id bigint NOT NULL REFERENCES users(id),"
             " size bigint NOT NULL,"
             " sha256 bytea NOT NULL,"
             " mime_type text NOT NULL DEFAULT '',"
             " complete boolean NOT NULL DEFAULT false,"
             " created_ms bigint NOT NULL,"
             " expires_ms bigint NOT NULL DEFAULT 0,"
             " completed_ms bigint NOT NULL DEFAULT 0)",
             "CREATE INDEX files_by_uploader ON files (uploader_id, sha256)",
             "CREATE INDEX files_by_sha256 ON files (sha256)",
             "CREATE INDEX files_unfinished ON files (expires_ms) WHERE NOT complete",
             "CREATE TABLE blobs ("
             " sha256 bytea PRIMARY KEY,"
             " size bigint NOT NULL,"
             " created_ms bigint NOT NULL)",
             "CREATE TABLE message_files ("
             " file_id text NOT NULL REFERENCES files(id),"
             " conversation_id text NOT NULL,"
             " seq bigint NOT NULL,"
             " PRIMARY KEY (file_id, conversation_id, seq))",
         }},
        {"operations (edit, delete, reaction) name their target",
         {
             "ALTER TABLE messages ADD COLUMN target_seq bigint",
             "CREATE INDEX messages_by_target ON messages (conversation_id, target_seq)"
             " WHERE target_seq IS NOT NULL",
         }},
        {"chat state: one user's mute, archive and hidden messages, synced by version",
         {
             // The user's change counter: each change raises it with UPDATE
             // ... RETURNING, whose row lock orders one user's changes (on
             // any node) so that versions become visible in their order.
             "ALTER TABLE users ADD COLUMN chat_state_version bigint NOT NULL DEFAULT 0",
             // hidden_seq 0: the conversation's settings; else a message
             // hidden for this user (delete for me).
             "CREATE TABLE chat_state ("
             " user_id bigint NOT NULL REFERENCES users(id),"
             " conversation_id text NOT NULL,"
             " hidden_seq bigint NOT NULL,"
             " muted_until_ms bigint NOT NULL DEFAULT 0,"
             " archived boolean NOT NULL DEFAULT false,"
             " version bigint NOT NULL,"
             " PRIMARY KEY (user_id, conversation_id, hidden_seq))",
             "CREATE UNIQUE INDEX chat_state_by_version ON chat_state (user_id, version)",
         }},
        {"blocks: who blocks whom, in the blocker's chat state",
         {
             "CREATE TABLE blocks ("
             " user_id bigint NOT NULL REFERENCES users(id),"
             " blocked_user_id bigint NOT NULL REFERENCES users(id),"
             " blocked boolean NOT NULL,"
             " version bigint NOT NULL,"
             " PRIMARY KEY (user_id, blocked_user_id))",
             "CREATE UNIQUE INDEX blocks_by_version ON blocks (user_id, version)",
             "CREATE INDEX blocks_by_blocked ON blocks (blocked_user_id) WHERE blocked",
         }},
        {"accounts the admin hides from the directory",
         {
             "ALTER TABLE users ADD COLUMN hidden boolean NOT NULL DEFAULT false",
         }},
        {"avatars: a user's picture (one of their files) and colour",
         {
             // NULL: no picture. The foreign key holds the file's row lock
             // while the picture is set, so a sweep on another node skips it.
             "ALTER TABLE users ADD COLUMN avatar_file_id text REFERENCES files(id)",
             "ALTER TABLE users ADD COLUMN avatar_color integer NOT NULL DEFAULT 0",
             "CREATE INDEX users_by_avatar ON users (avatar_file_id)"
             " WHERE avatar_file_id IS NOT NULL",
         }},
        {"group avatars: a group's picture (one of an admin's files) and colour",
         {
             // NULL: no picture. As for users, the foreign key holds the
             // file's row lock while the picture is set.
             "ALTER TABLE conversations ADD COLUMN avatar_file_id text REFERENCES files(id)",
             "ALTER TABLE conversations ADD COLUMN avatar_color integer NOT NULL DEFAULT 0",
             "CREATE INDEX conversations_by_avatar ON conversations (avatar_file_id)"
             " WHERE avatar_file_id IS NOT NULL",
         }},
    };
    return steps;
}

const QString kCreateVersionTable =
    QStringLiteral("CREATE TABLE IF NOT EXISTS kith_schema_version ("
                   " version integer PRIMARY KEY,"
                   " description text NOT NULL,"
                   " applied_ms bigint NOT NULL)");

Result<int> recordedVersion(PgConnection &c)
{
    auto rows = c.query(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM kith_schema_version"),
                        {}, "schema version");
    if (!rows)
        return rows.error();
    return rows->next() ? rows->integer(0) : 0;
}

// One step (or, when the database is already there, none) in one transaction.
// Sets *version to the database's version afterwards.
Status migrateOneStep(PgConnection &c, int target, int *version)
{
    if (Status begun = c.command(QStringLiteral("BEGIN"), "begin migration"); !begun)
        return begun;
    auto rollback = [&c](Error error) -> Status {
        if (!c.isBroken())
            (void)c.command(QStringLiteral("ROLLBACK"), "roll back migration");
        return error;
    };
    if (auto locked = c.query(QStringLiteral("SELECT pg_advisory_xact_lock($1)"),
                              {qint64(kMigrationLock)}, "migration lock");
        !locked)
        return rollback(locked.error());
    if (Status created = c.command(kCreateVersionTable, "schema version table"); !created)
        return rollback(created.error());
    const auto current = recordedVersion(c);
    if (!current)
        return rollback(current.error());
    const int latest = latestSchemaVersion();
    if (*current > latest)
        return rollback(
            makeError(v1::INTERNAL, QStringLiteral("the database has schema version %1, newer than "
                                                   "the %2 this kithd knows; run a newer kithd")
                                        .arg(*current)
                                        .arg(latest)));
    *version = *current;
    if (*current >= target)
        return c.command(QStringLiteral("COMMIT"), "end migration");

    const int next = *current + 1;
    const Migration &step = migrations()[size_t(*current)];
    qCInfo(lcPostgres) << "postgresql: migrating schema to version" << next << "-"
                       << step.description;
    for (const char *statement : step.statements) {
        if (Status done = c.command(QString::fromUtf8(statement), "migration"); !done)
            return rollback(
                makeError(v1::INTERNAL, QStringLiteral("schema migration to version %1 (%2) failed")
                                            .arg(next)
                                            .arg(QLatin1StringView(step.description))));
    }
    if (auto recorded =
            c.query(QStringLiteral("INSERT INTO kith_schema_version"
                                   " (version, description, applied_ms)"
                                   " VALUES ($1, $2, $3)"),
                    {next, std::string(step.description), nowMs()}, "record schema version");
        !recorded)
        return rollback(recorded.error());
    if (Status committed = c.command(QStringLiteral("COMMIT"), "commit migration"); !committed)
        return committed;
    *version = next;
    return Done{};
}

} // namespace

int latestSchemaVersion()
{
    return int(migrations().size());
}

Result<int> schemaVersionOf(PgConnection &c)
{
    auto exists = c.query(QStringLiteral("SELECT to_regclass('kith_schema_version') IS NOT NULL"),
                          {}, "schema version table");
    if (!exists)
        return exists.error();
    if (!exists->next() || !exists->boolean(0))
        return 0;
    return recordedVersion(c);
}

Result<int> migrate(PgConnection &c, int upTo)
{
    const int latest = latestSchemaVersion();
    const int target = upTo > 0 ? std::min(upTo, latest) : latest;
    int version = -1;
    for (;;) {
        const int before = version;
        if (Status stepped = migrateOneStep(c, target, &version); !stepped)
            return stepped.error();
        if (version >= target || version == before)
            return version;
    }
}

} // namespace kith::server::pg
