#include "sqlite_schema.h"

#include <vector>

namespace kith::server::sqlite {

QString displayKey(const QString &displayName)
{
    return displayName.toCaseFolded();
}

namespace {

bool backfillDisplayKeys(Connection &c);

// Append new steps at the end; never edit a step that has shipped. Each step
// runs in its own transaction and sets PRAGMA user_version to its number.
struct Migration
{
    const char *description;
    std::vector<const char *> statements;
    // Data work that SQL alone cannot do; runs after the statements, in the same transaction.
    bool (*backfill)(SqliteStore::Connection &c) = nullptr;
};

const std::vector<Migration> &migrations()
{
    static const std::vector<Migration> steps = {
        {"core schema",
         {
             "CREATE TABLE users ("
             " id INTEGER PRIMARY KEY,"
             " username TEXT NOT NULL UNIQUE,"
             " display_name TEXT NOT NULL,"
             " password_hash BLOB NOT NULL,"
             " disabled INTEGER NOT NULL DEFAULT 0,"
             " created_ms INTEGER NOT NULL)",
             "CREATE TABLE devices ("
             " id INTEGER PRIMARY KEY,"
             " user_id INTEGER NOT NULL REFERENCES users(id),"
             " name TEXT NOT NULL,"
             " token_hash BLOB NOT NULL UNIQUE,"
             " created_ms INTEGER NOT NULL,"
             " last_seen_ms INTEGER NOT NULL,"
             " revoked INTEGER NOT NULL DEFAULT 0)",
             "CREATE TABLE conversations ("
             " id TEXT PRIMARY KEY,"
             " kind INTEGER NOT NULL,"
             " title TEXT NOT NULL DEFAULT '',"
             " max_seq INTEGER NOT NULL DEFAULT 0,"
             " metadata_version INTEGER NOT NULL DEFAULT 0,"
             " last_activity_ms INTEGER NOT NULL,"
             " created_ms INTEGER NOT NULL)",
             // joined_seq: the seq of the event that added the member, so
             // "longest-standing" is exact even within one millisecond.
             "CREATE TABLE members ("
             " conversation_id TEXT NOT NULL REFERENCES conversations(id),"
             " user_id INTEGER NOT NULL REFERENCES users(id),"
             " role INTEGER NOT NULL,"
             " joined_ms INTEGER NOT NULL,"
             " joined_seq INTEGER NOT NULL,"
             " read_seq INTEGER NOT NULL DEFAULT 0,"
             " PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID",
             // client_msg_id is NULL for system events, which the unique index allows.
             "CREATE TABLE messages ("
             " server_id INTEGER PRIMARY KEY,"
             " conversation_id TEXT NOT NULL REFERENCES conversations(id),"
             " seq INTEGER NOT NULL,"
             " sender_user_id INTEGER NOT NULL,"
             " sender_device_id INTEGER NOT NULL,"
             " client_msg_id TEXT,"
             " server_time_ms INTEGER NOT NULL,"
             " content BLOB NOT NULL,"
             " UNIQUE (conversation_id, seq))",
             "CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_user_id, "
             "client_msg_id)",
             "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
             "INSERT INTO counters (name, value) VALUES ('next_group_id', 1)",
         }},
        {"indexes for per-user lookups (conversation lists, contacts, devices)",
         {
             "CREATE INDEX members_by_user ON members (user_id, conversation_id)",
             "CREATE INDEX devices_by_user ON devices (user_id)",
         }},
        {"case-folded display names for user search",
         {
             "ALTER TABLE users ADD COLUMN display_key TEXT NOT NULL DEFAULT ''",
         },
         backfillDisplayKeys},
        {"files: uploads and finished files, their blobs, the messages that carry them",
         {
             // complete: 0 while the bytes arrive (expires_ms then says when
             // it is dropped), 1 once they are verified and stored as a blob.
             "CREATE TABLE files ("
             " id TEXT PRIMARY KEY,"
             " uploader_id INTEGER NOT NULL REFERENCES users(id),"
             " size INTEGER NOT NULL,"
             " sha256 BLOB NOT NULL,"
             " mime_type TEXT NOT NULL DEFAULT '',"
             " complete INTEGER NOT NULL DEFAULT 0,"
             " created_ms INTEGER NOT NULL,"
             " expires_ms INTEGER NOT NULL DEFAULT 0,"
             " completed_ms INTEGER NOT NULL DEFAULT 0)",
             "CREATE INDEX files_by_uploader ON files (uploader_id, sha256)",
             "CREATE INDEX files_by_sha256 ON files (sha256)",
             "CREATE INDEX files_unfinished ON files (expires_ms) WHERE complete = 0",
             "CREATE TABLE blobs ("
             " sha256 BLOB PRIMARY KEY,"
             " size INTEGER NOT NULL,"
             " created_ms INTEGER NOT NULL) WITHOUT ROWID",
             "CREATE TABLE message_files ("
             " file_id TEXT NOT NULL REFERENCES files(id),"
             " conversation_id TEXT NOT NULL,"
             " seq INTEGER NOT NULL,"
             " PRIMARY KEY (file_id, conversation_id, seq)) WITHOUT ROWID",
         }},
        {"operations (edit, delete, reaction) name their target",
         {
             "ALTER TABLE messages ADD COLUMN target_seq INTEGER",
             "CREATE INDEX messages_by_target ON messages (conversation_id, target_seq)"
             " WHERE target_seq IS NOT NULL",
         }},
        {"chat state: one user's mute, archive and hidden messages, synced by version",
         {
             // The user's change counter: each change takes the next value.
             "ALTER TABLE users ADD COLUMN chat_state_version INTEGER NOT NULL DEFAULT 0",
             // hidden_seq 0: the conversation's settings; else a message
             // hidden for this user (delete for me).
             "CREATE TABLE chat_state ("
             " user_id INTEGER NOT NULL REFERENCES users(id),"
             " conversation_id TEXT NOT NULL,"
             " hidden_seq INTEGER NOT NULL,"
             " muted_until_ms INTEGER NOT NULL DEFAULT 0,"
             " archived INTEGER NOT NULL DEFAULT 0,"
             " version INTEGER NOT NULL,"
             " PRIMARY KEY (user_id, conversation_id, hidden_seq)) WITHOUT ROWID",
             "CREATE UNIQUE INDEX chat_state_by_version ON chat_state (user_id, version)",
         }},
        {"blocks: who blocks whom, in the blocker's chat state",
         {
             "CREATE TABLE blocks ("
             " user_id INTEGER NOT NULL REFERENCES users(id),"
             " blocked_user_id INTEGER NOT NULL REFERENCES users(id),"
             " blocked INTEGER NOT NULL,"
             " version INTEGER NOT NULL,"
             " PRIMARY KEY (user_id, blocked_user_id)) WITHOUT ROWID",
             "CREATE UNIQUE INDEX blocks_by_version ON blocks (user_id, version)",
             "CREATE INDEX blocks_by_blocked ON blocks (blocked_user_id) WHERE blocked = 1",
         }},
        {"accounts the admin hides from the directory",
         {
             "ALTER TABLE users ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0",
         }},
        {"avatars: a user's picture (one of their files) and colour",
         {
             // NULL: no picture. A file that is someone's picture is not
             // collected as unsent (see sweepFiles).
             "ALTER TABLE users ADD COLUMN avatar_file_id TEXT REFERENCES files(id)",
             "ALTER TABLE users ADD COLUMN avatar_color INTEGER NOT NULL DEFAULT 0",
             "CREATE INDEX users_by_avatar ON users (avatar_file_id)"
             " WHERE avatar_file_id IS NOT NULL",
         }},
        {"group avatars: a group's picture (one of an admin's files) and colour",
         {
             // NULL: no picture. As for users, a file that is a group's
             // picture is not collected as unsent (see sweepFiles).
             "ALTER TABLE conversations ADD COLUMN avatar_file_id TEXT REFERENCES files(id)",
             "ALTER TABLE conversations ADD COLUMN avatar_color INTEGER NOT NULL DEFAULT 0",
             "CREATE INDEX conversations_by_avatar ON conversations (avatar_file_id)"
             " WHERE avatar_file_id IS NOT NULL",
         }},
    };
    return steps;
}

bool backfillDisplayKeys(Connection &c)
{
    QList<std::pair<qint64, QString>> users;
    {
        Stmt read(c, QStringLiteral("SELECT id, display_name FROM users"));
        if (!read.exec())
            return false;
        while (read.next())
            users.append({read.i64(0), read.text(1)});
    }
    for (const auto &[id, name] : users) {
        Stmt write(c, QStringLiteral("UPDATE users SET display_key = ? WHERE id = ?"));
        if (!write.exec({displayKey(name), id}))
            return false;
    }
    return true;
}

Result<int> userVersion(Connection &c)
{
    const auto text = pragmaText(c, QStringLiteral("PRAGMA user_version"));
    if (!text)
        return text.error();
    return text->toInt();
}

} // namespace

int latestSchemaVersion()
{
    return int(migrations().size());
}

Status runMigrations(Connection &c, int upTo, int *versionOut)
{
    const auto current = userVersion(c);
    if (!current)
        return current.error();
    const int latest = int(migrations().size());
    if (*current > latest)
        return makeError(v1::INTERNAL,
                         QStringLiteral("the database has schema version %1, newer than the %2 "
                                        "this kithd knows; run a newer kithd")
                             .arg(*current)
                             .arg(latest));
    const int target = upTo > 0 ? std::min(upTo, latest) : latest;
    int version = *current;
    while (version < target) {
        const Migration &step = migrations()[size_t(version)];
        const int next = version + 1;
        qCInfo(lcStore) << "migrating schema to version" << next << "-" << step.description;
        // DDL runs once, so these are prepared on the spot rather than cached.
        auto run = [&c](const QString &sql) {
            char *message = nullptr;
            if (sqlite3_exec(c.db, sql.toUtf8().constData(), nullptr, nullptr, &message) !=
                SQLITE_OK) {
                qCWarning(lcStore) << "migration statement failed:" << sql
                                   << QString::fromUtf8(message ? message : "");
                sqlite3_free(message);
                return false;
            }
            return true;
        };
        if (!run(QStringLiteral("BEGIN IMMEDIATE")))
            return makeError(v1::INTERNAL, QStringLiteral("cannot begin migration %1").arg(next));
        bool ok = true;
        for (const char *statement : step.statements)
            ok = ok && run(QString::fromUtf8(statement));
        ok = ok && (!step.backfill || step.backfill(c));
        // user_version cannot be bound; `next` is our own integer.
        ok = ok && run(QStringLiteral("PRAGMA user_version = %1").arg(next));
        ok = ok && run(QStringLiteral("COMMIT"));
        if (!ok) {
            run(QStringLiteral("ROLLBACK"));
            return makeError(v1::INTERNAL,
                             QStringLiteral("schema migration to version %1 (%2) failed")
                                 .arg(next)
                                 .arg(QLatin1StringView(step.description)));
        }
        version = next;
    }
    *versionOut = version;
    return Done{};
}

} // namespace kith::server::sqlite
