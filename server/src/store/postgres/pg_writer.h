#pragma once
// PgWriter: the PostgreSQL store's writer. It runs on the store's writer
// thread with a connection of its own and commits each batch of queued
// writes as one transaction (group commit), so a node pays one commit for
// many sends. Appends and read markers are single statements sent as one
// pipeline (one round trip for the run); other writes run statement by
// statement inside a savepoint each. A batch that meets a deadlock or a
// duplicate committed meanwhile by another node is rolled back and run again;
// one that loses the database fails with UNAVAILABLE, and the writer
// reconnects for a later batch.

#include "completion_relay.h"
#include "pg_connection.h"
#include "store.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QSet>
#include <QString>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace kith::server::pg {

class PgWriter;

// Statements a pipelined job sends; the writer prepares and sends them.
class Pipeline
{
public:
    struct Statement
    {
        QString sql;
        Params params;
        const char *what;
    };
    void add(QString sql, Params params, const char *what)
    {
        m_statements.push_back({std::move(sql), std::move(params), what});
    }
    [[nodiscard]] const std::vector<Statement> &statements() const { return m_statements; }

private:
    std::vector<Statement> m_statements;
};

// The results of one pipelined job's statements, in the order it added them.
class Received
{
public:
    Received(PgConnection &c, const std::vector<Pipeline::Statement> &statements)
        : m_c(c)
        , m_statements(statements)
    {}
    // The next statement's result (its rows, or the error it met).
    [[nodiscard]] Result<Rows> next();
    // Statements not read yet.
    [[nodiscard]] int left() const { return int(m_statements.size()) - m_read; }
    // The first error the job's statements met (that ends the transaction).
    [[nodiscard]] Failure failure() const { return m_failure; }

private:
    PgConnection &m_c;
    const std::vector<Pipeline::Statement> &m_statements;
    int m_read = 0;
    Failure m_failure = Failure::None;
};

struct WriteJob
{
    // A pipelined job: `queue` adds its statements (it may look at the writer's
    // caches), `receive` reads their results; their effects are atomic per
    // statement, so a job that fails leaves nothing to undo.
    std::function<void(PgWriter &, Pipeline &)> queue;
    std::function<void(PgWriter &, Received &)> receive;
    // Pipelined jobs of one run are sent in order of this key (stable), the
    // conversation they write, so that writers on several nodes take its
    // rows' locks in one order; before the first job of a conversation the
    // writer locks the member rows (lockKey, lockUser) of all its jobs.
    QString lockKey;
    quint64 lockUser = 0;
    // Statements that must run before those member locks (a direct
    // conversation's creation); the writer reads their results. True when
    // it added any: the conversation's later jobs are not asked.
    std::function<bool(PgWriter &, Pipeline &)> prelude;
    // Any other job: runs statement by statement inside its own savepoint;
    // false rolls it back to there.
    std::function<bool(PgWriter &)> apply;
    // Drops the outcome of an earlier attempt before the batch runs again.
    std::function<void()> forget;
    // Runs once the batch has ended; `failure` is set when it did not commit.
    std::function<void(const std::optional<Error> &failure, CompletionRelay::Batch &completions)>
        deliver;
};

// The writer's counters, read by Store::stats() on any thread.
struct WriterStats
{
    std::atomic<quint64> commits{0};
    std::atomic<quint64> writesCommitted{0};
    std::atomic<quint64> maxBatch{0};
    std::atomic<quint64> messagesStored{0};
    std::atomic<quint64> batchRetries{0};
    std::atomic<quint64> reconnects{0};
};

class PgWriter
{
public:
    PgWriter(QByteArray url, QString name, WriterStats &stats);
    ~PgWriter();

    // Connects (the first time, and after the database was lost).
    [[nodiscard]] Status connect();
    void runBatch(std::deque<WriteJob> &batch);
    // Drops the connection (the store closes).
    void disconnect();

    // For job bodies.
    [[nodiscard]] PgConnection &connection() { return *m_c; }
    // A direct conversation known to exist (it was committed, here or by
    // another node), so its appends need not try to create it.
    [[nodiscard]] bool knowsConversation(const QString &id) const { return m_known.contains(id); }
    // Noted as known once the batch commits.
    void noteConversation(const QString &id) { m_knownInBatch.append(id); }
    void countNewMessage() { ++m_newMessages; }

    // The members of a group as of one metadata version (every change of
    // members bumps it in the same transaction), so that an append whose
    // conversation row shows that version needs not read them again.
    // -1 when none is cached.
    [[nodiscard]] qint64 recipientsVersion(const QString &conversationId) const;
    [[nodiscard]] QList<quint64> recipients(const QString &conversationId) const;
    // Kept once the batch commits (what a rolled-back batch read may never have existed).
    void noteRecipients(const QString &conversationId, quint64 version, QList<quint64> members);

private:
    enum class Outcome { Committed, Retry, Failed };
    [[nodiscard]] Outcome runOnce(std::deque<WriteJob> &batch, std::optional<Error> *failure);
    // Runs batch[first, last), all pipelined, as one pipeline.
    [[nodiscard]] bool runPipelined(std::deque<WriteJob> &batch, size_t first, size_t last,
                                    Failure *failure);
    [[nodiscard]] bool runProcedure(WriteJob &job, Failure *failure);
    [[nodiscard]] Outcome abort(Failure failure, std::optional<Error> *error, const char *what);

    const QByteArray m_url;
    const QString m_name;
    WriterStats &m_stats;
    std::unique_ptr<PgConnection> m_c;
    std::chrono::steady_clock::time_point m_lastConnectFailure{};
    bool m_connectFailed = false;
    // Batches failed since the database went away (reported once, then summed up).
    quint64 m_failedWhileDown = 0;

    QSet<QString> m_known;
    QList<QString> m_knownInBatch;
    struct Recipients
    {
        quint64 version = 0;
        QList<quint64> members;
    };
    QHash<QString, Recipients> m_recipients;
    QList<std::pair<QString, Recipients>> m_recipientsInBatch;
    quint64 m_newMessages = 0;
};

} // namespace kith::server::pg
