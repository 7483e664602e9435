#include "postgres_store.h"

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "pg_logging.h"
#include "pg_notifier.h"
#include "pg_pool.h"
#include "pg_rows.h"
#include "pg_schema.h"

#include <QUrl>

#include <limits>

namespace kith::server {

Q_LOGGING_CATEGORY(lcPostgres, "kith.store.postgres", QtInfoMsg)

using namespace pg;

bool PostgresStore::isUrl(const QString &location)
{
    return location.startsWith(QLatin1String("postgresql://")) ||
           location.startsWith(QLatin1String("postgres://"));
}

int PostgresStore::latestSchemaVersion()
{
    return pg::latestSchemaVersion();
}

PostgresStore::PostgresStore(QString url)
    : PostgresStore(std::move(url), Options())
{}

PostgresStore::PostgresStore(QString url, Options options)
    : m_url(url.toUtf8())
    , m_options(std::move(options))
{}

PostgresStore::~PostgresStore()
{
    close();
}

Status PostgresStore::open()
{
    if (m_open.load())
        return makeError(v1::INTERNAL, QStringLiteral("the store is already open"));
    {
        std::lock_guard lock(m_queueMutex);
        m_stopping = false;
    }
    std::promise<Status> started;
    std::future<Status> ready = started.get_future();
    m_writerThread = std::thread([this, &started] { writerMain(&started); });
    Status status = ready.get();
    if (!status) {
        m_writerThread.join();
        return status;
    }
    m_pool = std::make_unique<PgPool>(m_url, m_options.name + QStringLiteral(" reader"),
                                      m_options.readConnections, m_options.acquireTimeoutMs);
    m_open.store(true);
    qCInfo(lcPostgres) << "postgresql: opened, schema version" << m_schemaVersion.load();
    return status;
}

void PostgresStore::writerMain(std::promise<Status> *started)
{
    PgWriter writer(m_url, m_options.name + QStringLiteral(" writer"), m_stats);
    if (Status connected = writer.connect(); !connected) {
        started->set_value(connected.error());
        return;
    }
    const auto version = migrate(writer.connection(), m_options.migrateUpTo);
    if (!version) {
        started->set_value(version.error());
        return;
    }
    m_schemaVersion.store(*version);
    started->set_value(Done{});

    const size_t cap = size_t(std::max(1, m_options.maxBatch));
    for (;;) {
        std::deque<WriteJob> batch;
        {
            std::unique_lock lock(m_queueMutex);
            m_queueReady.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty())
                break; // stopping, and everything queued has been written
            if (m_queue.size() <= cap) {
                batch.swap(m_queue);
            } else {
                std::move(m_queue.begin(), m_queue.begin() + qsizetype(cap),
                          std::back_inserter(batch));
                m_queue.erase(m_queue.begin(), m_queue.begin() + qsizetype(cap));
            }
        }
        writer.runBatch(batch);
    }
    writer.disconnect();
}

void PostgresStore::close()
{
    m_open.store(false); // no new reads or writes from here
    if (m_notifier)
        m_notifier->stop();
    if (m_pool)
        m_pool->close();
    {
        std::lock_guard lock(m_queueMutex);
        m_stopping = true;
    }
    m_queueReady.notify_all();
    if (m_writerThread.joinable())
        m_writerThread.join();
}

bool PostgresStore::watchDisabledAccounts(QObject *context,
                                          std::function<void(quint64 userId)> onDisabled)
{
    if (m_notifier)
        m_notifier->stop();
    const CompletionRelay::Target target = CompletionRelay::targetOf(context);
    auto handler = std::make_shared<std::function<void(quint64)>>(std::move(onDisabled));
    PgNotifier::Callbacks callbacks;
    callbacks.notified = [target, handler](const QByteArray &payload) {
        bool ok = false;
        const quint64 userId = payload.toULongLong(&ok);
        if (ok && userId != 0)
            CompletionRelay::post(target, [handler, userId] { (*handler)(userId); });
    };
    callbacks.mayHaveMissed = [target, handler] {
        CompletionRelay::post(target, [handler] { (*handler)(0); });
    };
    m_notifier = std::make_unique<PgNotifier>(
        m_url, m_options.name + QStringLiteral(" listener"),
        QByteArray(kAccountsChannel.data(), kAccountsChannel.size()), std::move(callbacks));
    m_notifier->start();
    return true;
}

int PostgresStore::schemaVersion()
{
    return m_schemaVersion.load();
}

PostgresStore::Stats PostgresStore::stats() const
{
    Stats stats;
    stats.commits = m_stats.commits.load(std::memory_order_relaxed);
    stats.writesCommitted = m_stats.writesCommitted.load(std::memory_order_relaxed);
    stats.maxBatch = m_stats.maxBatch.load(std::memory_order_relaxed);
    stats.messagesStored = m_stats.messagesStored.load(std::memory_order_relaxed);
    return stats;
}

int PostgresStore::openReadConnections() const
{
    return m_pool ? m_pool->openConnections() : 0;
}

int PostgresStore::peakReadConnections() const
{
    return m_pool ? m_pool->peakConnections() : 0;
}

quint64 PostgresStore::batchRetries() const
{
    return m_stats.batchRetries.load(std::memory_order_relaxed);
}

quint64 PostgresStore::writerReconnects() const
{
    return m_stats.reconnects.load(std::memory_order_relaxed);
}

bool PostgresStore::databaseReachable() const
{
    return m_notifier && m_notifier->isListening();
}

template<class T>
Result<T> PostgresStore::read(const std::function<Result<T>(PgConnection &)> &read)
{
    if (!m_open.load() || !m_pool)
        return makeError(v1::INTERNAL, QStringLiteral("the store is not open"));
    return m_pool->run<T>(read);
}

// ---- reads ------------------------------------------------------------------------------

Result<UserRecord> PostgresStore::userById(quint64 id)
{
    return read<UserRecord>([id](PgConnection &c) { return loadUser(c, id); });
}

Result<UserRecord> PostgresStore::userByName(const QString &username)
{
    const QString name = normalizeUsername(username);
    return read<UserRecord>([&name](PgConnection &c) -> Result<UserRecord> {
        auto r =
            c.query(QStringLiteral("SELECT %1 FROM users WHERE username = $1").arg(kUserColumns),
                    {name}, "user by name");
        if (!r)
            return r.error();
        if (!r->next())
            return notFound(QStringLiteral("no such user"));
        return userFromRow(*r);
    });
}

Result<QList<UserRecord>> PostgresStore::searchUsers(const QString &query, int limit)
{
    Result<DirectoryPage> page = searchUsersPage(query, limit, std::nullopt);
    if (!page)
        return page.error();
    return std::move(page->users);
}

Result<DirectoryPage> PostgresStore::searchUsersPage(const QString &query, int limit,
                                                     const std::optional<DirectoryCursor> &after)
{
    QString escaped = displayKey(query.trimmed());
    escaped.replace(u'\\', QStringLiteral("\\\\"))
        .replace(u'%', QStringLiteral("\\%"))
        .replace(u'_', QStringLiteral("\\_"));
    const QString contains = u'%' + escaped + u'%';
    const QString prefix = escaped + u'%';
    return read<DirectoryPage>([&](PgConnection &c) -> Result<DirectoryPage> {
        DirectoryPage page;
        if (limit <= 0)
            return page;
        // Names that start with the query come first, then by user name
        // (unique): a page starts after the last one's place in that order.
        const QString rank = QStringLiteral(
            "(username LIKE $2 ESCAPE '\\' OR display_key LIKE $2 ESCAPE '\\')::int");
        auto r = c.query(
            QStringLiteral("SELECT %1, %2 FROM users WHERE NOT disabled AND NOT hidden"
                           " AND (username LIKE $1 ESCAPE '\\' OR display_key LIKE $1 ESCAPE '\\')"
                           " AND ($4::int IS NULL OR %2 < $4::int"
                           "  OR (%2 = $4::int AND username > $5))"
                           " ORDER BY %2 DESC, username LIMIT $3")
                .arg(kUserColumns, rank),
            {contains, prefix, qint64(limit) + 1,
             after ? Value(qint64(after->prefix ? 1 : 0)) : Value::nullInt(),
             after ? after->username : QString()},
            "search users");
        if (!r)
            return r.error();
        while (r->next()) {
            if (page.users.size() == limit) {
                page.hasMore = true;
                break;
            }
            page.users.append(userFromRow(*r));
            page.prefix.append(r->integer(kUserColumnCount) != 0); // the rank, after the user
        }
        return page;
    });
}

Result<QList<UserRecord>> PostgresStore::listUsers()
{
    return read<QList<UserRecord>>([](PgConnection &c) -> Result<QList<UserRecord>> {
        auto r = c.query(QStringLiteral("SELECT %1 FROM users ORDER BY id").arg(kUserColumns), {},
                         "list users");
        if (!r)
            return r.error();
        QList<UserRecord> users;
        while (r->next())
            users.append(userFromRow(*r));
        return users;
    });
}

Result<QList<quint64>> PostgresStore::disabledUserIds()
{
    return read<QList<quint64>>([](PgConnection &c) -> Result<QList<quint64>> {
        auto r = c.query(QStringLiteral("SELECT id FROM users WHERE disabled ORDER BY id"), {},
                         "disabled users");
        if (!r)
            return r.error();
        QList<quint64> ids;
        while (r->next())
            ids.append(r->u64(0));
        return ids;
    });
}

Result<DeviceRecord> PostgresStore::deviceByTokenHash(const QByteArray &tokenHash)
{
    return read<DeviceRecord>([&tokenHash](PgConnection &c) -> Result<DeviceRecord> {
        auto r = c.query(QStringLiteral("SELECT %1 FROM devices WHERE token_hash = $1"
                                        " AND NOT revoked")
                             .arg(kDeviceColumns),
                         {tokenHash}, "device by token");
        if (!r)
            return r.error();
        if (!r->next())
            return notFound(QStringLiteral("no such device"));
        return deviceFromRow(*r);
    });
}

Result<QList<DeviceRecord>> PostgresStore::devicesOfUser(quint64 userId)
{
    return read<QList<DeviceRecord>>([userId](PgConnection &c) -> Result<QList<DeviceRecord>> {
        auto r = c.query(QStringLiteral("SELECT %1 FROM devices WHERE user_id = $1 ORDER BY id")
                             .arg(kDeviceColumns),
                         {userId}, "devices of user");
        if (!r)
            return r.error();
        QList<DeviceRecord> devices;
        while (r->next())
            devices.append(deviceFromRow(*r));
        return devices;
    });
}

Result<std::optional<MemberRecord>> PostgresStore::membership(const QString &conversationId,
                                                              quint64 userId)
{
    using Answer = std::optional<MemberRecord>;
    const auto ref = parseConversationId(conversationId);
    if (!ref || (ref->isDirect() && !ref->involves(userId)))
        return Answer();
    return read<Answer>([&](PgConnection &c) -> Result<Answer> {
        {
            auto r = c.query(QStringLiteral("SELECT role, joined_ms FROM members"
                                            " WHERE conversation_id = $1 AND user_id = $2"),
                             {conversationId, userId}, "membership");
            if (!r)
                return r.error();
            if (r->next())
                return Answer(MemberRecord{userId, v1::Role(r->integer(0)), r->i64(1)});
        }
        if (!ref->isDirect())
            return Answer();
        // A direct chat before its first message: one of the pair is a member
        // if both users exist.
        auto r = c.query(QStringLiteral("SELECT COUNT(*) FROM users WHERE id IN ($1, $2)"),
                         {ref->lowUser, ref->highUser}, "direct membership");
        if (!r)
            return r.error();
        if (!r->next() || r->u64(0) != 2)
            return Answer();
        return Answer(MemberRecord{userId, v1::MEMBER, 0});
    });
}

Result<QList<MemberRecord>> PostgresStore::members(const QString &conversationId)
{
    return read<QList<MemberRecord>>([&](PgConnection &c) -> Result<QList<MemberRecord>> {
        const auto rows = loadMembers(c, conversationId);
        if (!rows)
            return rows.error();
        QList<MemberRecord> records;
        for (const MemberRow &row : *rows)
            records.append(row.record);
        return records;
    });
}

Result<QList<ConversationView>> PostgresStore::conversationsOf(quint64 userId,
                                                               const ConversationPage &page)
{
    return read<QList<ConversationView>>([userId, &page](
                                             PgConnection &c) -> Result<QList<ConversationView>> {
        // COLLATE "C": the ids' byte order, whatever the database's locale.
        auto r = c.query(
            kViewSelect + QStringLiteral("FROM members m"
                                         " JOIN conversations c ON c.id = m.conversation_id"
                                         " LEFT JOIN members p ON c.kind = 1"
                                         "  AND p.conversation_id = c.id"
                                         "  AND p.user_id <> m.user_id"
                                         " LEFT JOIN messages lm ON lm.conversation_id = c.id"
                                         "  AND lm.seq = c.max_seq"
                                         " WHERE m.user_id = $1 AND c.max_seq > 0"
                                         "  AND m.conversation_id COLLATE \"C\" > $2"
                                         "  AND ($3 = '' OR m.conversation_id COLLATE \"C\" <= $3)"
                                         " ORDER BY m.conversation_id COLLATE \"C\""
                                         " LIMIT $4"),
            {userId, page.after, page.through,
             page.limit > 0 ? qint64(page.limit) : std::numeric_limits<qint64>::max()},
            "conversations of user");
        if (!r)
            return r.error();
        QList<ConversationView> views;
        while (r->next()) {
            bool isMember = false;
            views.append(viewFromRow(*r, &isMember));
        }
        return views;
    });
}

Result<ConversationView> PostgresStore::conversation(const QString &conversationId, quint64 userId)
{
    return read<ConversationView>(
        [&](PgConnection &c) { return loadView(c, conversationId, userId, true); });
}

Result<QList<quint64>> PostgresStore::contactsOf(quint64 userId)
{
    return read<QList<quint64>>([userId](PgConnection &c) -> Result<QList<quint64>> {
        // Direct chats and groups up to kPresenceGroupLimit members (see Store).
        auto r = c.query(
            QStringLiteral("SELECT DISTINCT other.user_id FROM members mine"
                           " JOIN conversations conv ON conv.id = mine.conversation_id"
                           " JOIN members other ON other.conversation_id = mine.conversation_id"
                           " WHERE mine.user_id = $1 AND other.user_id <> mine.user_id"
                           " AND (conv.kind = $2 OR (SELECT COUNT(*) FROM members m"
                           "      WHERE m.conversation_id = conv.id) <= $3)"
                           " ORDER BY other.user_id"),
            {userId, int(v1::DIRECT), kPresenceGroupLimit}, "contacts");
        if (!r)
            return r.error();
        QList<quint64> contacts;
        while (r->next())
            contacts.append(r->u64(0));
        return contacts;
    });
}

Result<ChatStatePage> PostgresStore::chatStateSince(quint64 userId, quint64 afterVersion, int limit)
{
    return read<ChatStatePage>([&](PgConnection &c) -> Result<ChatStatePage> {
        auto r = c.query(QStringLiteral("SELECT conversation_id, hidden_seq, muted_until_ms,"
                                        " archived, version, 0::bigint, false FROM chat_state"
                                        " WHERE user_id = $1 AND version > $2"
                                        " UNION ALL SELECT '', 0, 0, false, version,"
                                        " blocked_user_id, blocked FROM blocks"
                                        " WHERE user_id = $1 AND version > $2"
                                        " ORDER BY 5 LIMIT $3"),
                         {userId, std::min(afterVersion, kMaxSeq), limit + 1}, "chat state");
        if (!r)
            return r.error();
        ChatStatePage page;
        while (r->next()) {
            if (page.states.size() == limit) {
                page.hasMore = true;
                break;
            }
            v1::ChatState state;
            state.set_conversation_id(r->stdText(0));
            state.set_hidden_seq(r->u64(1));
            state.set_muted_until_ms(r->i64(2));
            state.set_archived(r->boolean(3));
            state.set_version(r->u64(4));
            state.set_blocked_user_id(r->u64(5));
            state.set_blocked(r->boolean(6));
            page.states.append(std::move(state));
        }
        return page;
    });
}

Result<QList<quint64>> PostgresStore::blockersOf(quint64 userId)
{
    return read<QList<quint64>>([userId](PgConnection &c) -> Result<QList<quint64>> {
        auto r = c.query(QStringLiteral("SELECT user_id FROM blocks WHERE blocked_user_id = $1"
                                        " AND blocked ORDER BY user_id"),
                         {userId}, "blockers");
        if (!r)
            return r.error();
        QList<quint64> blockers;
        while (r->next())
            blockers.append(r->u64(0));
        return blockers;
    });
}

Result<PullPage> PostgresStore::pull(const PullQuery &query)
{
    const quint32 limit =
        query.limit == 0 ? kDefaultPullLimit : std::min(query.limit, kMaxPullLimit);
    return read<PullPage>([&](PgConnection &c) -> Result<PullPage> {
        PullPage page;
        // One row beyond the page tells whether there is more.
        const qint64 fetch = qint64(limit) + 1;
        Result<Rows> r = makeError(v1::INTERNAL, QString());
        if (query.backward) {
            const quint64 before =
                query.beforeSeq == 0 ? kMaxSeq : std::min(query.beforeSeq, kMaxSeq);
            r = c.query(QStringLiteral("SELECT %1 FROM messages WHERE conversation_id = $1"
                                       " AND seq < $2 ORDER BY seq DESC LIMIT $3")
                            .arg(kMessageColumns),
                        {query.conversationId, before, fetch}, "pull");
        } else {
            const quint64 from = std::clamp<quint64>(query.fromSeq, 1, kMaxSeq);
            const quint64 to = query.toSeq == 0 ? kMaxSeq : std::min(query.toSeq, kMaxSeq);
            r = c.query(QStringLiteral("SELECT %1 FROM messages WHERE conversation_id = $1"
                                       " AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4")
                            .arg(kMessageColumns),
                        {query.conversationId, from, to, fetch}, "pull");
        }
        if (!r)
            return r.error();
        while (r->next()) {
            if (quint32(page.messages.size()) == limit) {
                page.hasMore = true;
                break;
            }
            page.messages.append(messageFromRow(*r, 0));
        }
        // Read after the page, so max_seq is never below a seq in it.
        auto max = c.query(QStringLiteral("SELECT max_seq FROM conversations WHERE id = $1"),
                           {query.conversationId}, "pull max seq");
        if (!max)
            return max.error();
        page.maxSeq = max->next() ? max->u64(0) : 0;
        return page;
    });
}

Result<std::optional<v1::Message>> PostgresStore::messageByClientId(quint64 senderUserId,
                                                                    const std::string &clientMsgId)
{
    return read<std::optional<v1::Message>>(
        [&](PgConnection &c) { return loadMessageByClientId(c, senderUserId, clientMsgId); });
}

Result<std::optional<FileRecord>> PostgresStore::file(const QString &fileId)
{
    return read<std::optional<FileRecord>>(
        [&fileId](PgConnection &c) { return loadFile(c, fileId); });
}

Result<std::optional<FileRecord>> PostgresStore::downloadableFile(const QString &fileId,
                                                                  quint64 userId)
{
    using Answer = std::optional<FileRecord>;
    return read<Answer>([&](PgConnection &c) -> Result<Answer> {
        auto r = c.query(QStringLiteral("SELECT %1 FROM files f WHERE f.id = $1 AND f.complete"
                                        " AND (f.uploader_id = $2 OR EXISTS (SELECT 1"
                                        "  FROM message_files mf JOIN members m"
                                        "  ON m.conversation_id = mf.conversation_id"
                                        "  WHERE mf.file_id = f.id AND m.user_id = $2)"
                                        " OR EXISTS (SELECT 1 FROM conversations gc"
                                        "  JOIN members gm ON gm.conversation_id = gc.id"
                                        "  WHERE gc.avatar_file_id = f.id AND gm.user_id = $2)"
                                        " OR EXISTS (SELECT 1 FROM users u"
                                        "  WHERE u.avatar_file_id = f.id AND NOT EXISTS"
                                        "  (SELECT 1 FROM blocks b WHERE b.user_id = $2"
                                        "   AND b.blocked_user_id = u.id AND b.blocked)))")
                             .arg(kFileColumns),
                         {fileId, userId}, "downloadable file");
        if (!r)
            return r.error();
        if (!r->next())
            return Answer();
        return Answer(fileFromRow(*r));
    });
}

Result<bool> PostgresStore::blobInUse(const QByteArray &sha256)
{
    return read<bool>([&sha256](PgConnection &c) -> Result<bool> {
        auto r = c.query(QStringLiteral("SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1"
                                        " AND complete)"),
                         {sha256}, "blob in use");
        if (!r)
            return r.error();
        return r->next() && r->boolean(0);
    });
}

} // namespace kith::server
