#include "pg_writer.h"

#include "pg_logging.h"

#include <algorithm>
#include <numeric>
#include <thread>

namespace kith::server::pg {

namespace {

// A batch that keeps meeting deadlocks or another node's duplicates gives up
// after this many runs (its writes fail with UNAVAILABLE; clients retry).
constexpr int kMaxAttempts = 5;
// After a failed connect, batches fail at once for this long instead of
// each waiting for a database that is still down.
constexpr auto kReconnectInterval = std::chrono::milliseconds(250);
// The direct conversations known to exist are a cache; past this many it
// starts over (an unknown one only costs a no-op insert).
constexpr qsizetype kMaxKnownConversations = 1 << 16;
// Groups whose members are cached; past this many the cache starts over (a
// group not in it has its members read by its next append).
constexpr qsizetype kMaxCachedRecipients = 4096;

} // namespace

Result<Rows> Received::next()
{
    if (m_read >= int(m_statements.size())) {
        qCCritical(lcPostgres) << "postgresql: a job read more results than it sent";
        return makeError(v1::INTERNAL, QStringLiteral("storage error (pipeline)"));
    }
    auto rows = m_c.receive(m_statements[size_t(m_read++)].what);
    if (!rows && m_failure == Failure::None)
        m_failure = m_c.lastFailure();
    return rows;
}

qint64 PgWriter::recipientsVersion(const QString &conversationId) const
{
    const auto it = m_recipients.constFind(conversationId);
    return it == m_recipients.cend() ? -1 : qint64(it->version);
}

QList<quint64> PgWriter::recipients(const QString &conversationId) const
{
    return m_recipients.value(conversationId).members;
}

void PgWriter::noteRecipients(const QString &conversationId, quint64 version,
                              QList<quint64> members)
{
    m_recipientsInBatch.append({conversationId, Recipients{version, std::move(members)}});
}

PgWriter::PgWriter(QByteArray url, QString name, WriterStats &stats)
    : m_url(std::move(url))
    , m_name(std::move(name))
    , m_stats(stats)
{}

PgWriter::~PgWriter() = default;

Status PgWriter::connect()
{
    m_c.reset();
    auto connection = PgConnection::connect(m_url, m_name);
    if (!connection) {
        m_connectFailed = true;
        m_lastConnectFailure = std::chrono::steady_clock::now();
        return connection.error();
    }
    m_connectFailed = false;
    m_c = std::move(*connection);
    return Done{};
}

void PgWriter::disconnect()
{
    m_c.reset();
}

PgWriter::Outcome PgWriter::abort(Failure failure, std::optional<Error> *error, const char *what)
{
    if (m_c && !m_c->isBroken())
        (void)m_c->command(QStringLiteral("ROLLBACK"), "rollback");
    if (m_c && m_c->isBroken())
        failure = Failure::Connection;
    switch (failure) {
    case Failure::Connection:
        // Whatever this batch sent is gone with the transaction (or, if the
        // connection broke during COMMIT, perhaps committed: the clients'
        // retries with the same ids find it then).
        m_c.reset();
        *error = unavailableError();
        return Outcome::Failed;
    case Failure::Unique:
    case Failure::Conflict:
        // Another node got there first (the same client id sent twice at
        // once), or a deadlock chose this batch: run it again.
        return Outcome::Retry;
    case Failure::None:
    case Failure::Aborted:
    case Failure::Other:
        break;
    }
    *error = makeError(v1::INTERNAL, QStringLiteral("storage error (%1)").arg(QLatin1String(what)));
    return Outcome::Failed;
}

namespace {

// Locks the member rows a run's jobs of one conversation will write (their
// senders' and readers'), in user order, before any of them takes the
// conversation's row: with the runs' conversations in id order too, every
// node takes these locks in one global order and never waits in a circle.
//   $1 conversation, $2 the users ("1,2,3")
const QString kLockMembers = QStringLiteral(
    "SELECT 1 FROM members WHERE conversation_id = $1"
    " AND user_id = ANY (string_to_array($2, ',')::bigint[]) ORDER BY user_id FOR NO KEY UPDATE");

// The statements of one conversation in a run: the writer's own (a direct
// conversation's creation, the member locks), then each job's.
struct Segment
{
    Pipeline prelude;
    std::vector<size_t> jobs;           // indexes into the batch
    std::vector<Pipeline> jobPipelines; // one per job
};

} // namespace

bool PgWriter::runPipelined(std::deque<WriteJob> &batch, size_t first, size_t last,
                            Failure *failure)
{
    // Stable: the jobs of one conversation keep their order, so do their seqs.
    std::vector<size_t> order(last - first);
    std::iota(order.begin(), order.end(), first);
    std::stable_sort(order.begin(), order.end(),
                     [&batch](size_t a, size_t b) { return batch[a].lockKey < batch[b].lockKey; });

    std::vector<Segment> segments;
    for (size_t i = 0; i < order.size();) {
        const QString &key = batch[order[i]].lockKey;
        Segment segment;
        QList<quint64> users;
        bool prepared = false;
        for (; i < order.size() && batch[order[i]].lockKey == key; ++i) {
            WriteJob &job = batch[order[i]];
            // One creation per conversation and run is enough.
            if (!prepared && job.prelude)
                prepared = job.prelude(*this, segment.prelude);
            if (job.lockUser != 0 && !users.contains(job.lockUser))
                users.append(job.lockUser);
            segment.jobs.push_back(order[i]);
            segment.jobPipelines.emplace_back();
            job.queue(*this, segment.jobPipelines.back());
        }
        if (!key.isEmpty() && !users.isEmpty()) {
            std::sort(users.begin(), users.end());
            QStringList ids;
            for (quint64 user : std::as_const(users))
                ids.append(QString::number(user));
            segment.prelude.add(kLockMembers, {key, ids.join(u',')}, "lock members");
        }
        segments.push_back(std::move(segment));
    }

    // Statements are prepared outside the pipeline (once per connection).
    const auto prepare = [this](const Pipeline &pipeline) {
        for (const Pipeline::Statement &statement : pipeline.statements())
            if (!m_c->prepare(statement.sql, statement.params).ok())
                return false;
        return true;
    };
    for (const Segment &segment : segments) {
        bool ok = prepare(segment.prelude);
        for (const Pipeline &pipeline : segment.jobPipelines)
            ok = ok && prepare(pipeline);
        if (!ok) {
            *failure = m_c->lastFailure();
            return false;
        }
    }
    if (!m_c->beginPipeline()) {
        *failure = Failure::Connection;
        return false;
    }
    const auto send = [this](const Pipeline &pipeline) {
        for (const Pipeline::Statement &statement : pipeline.statements())
            if (!m_c->send(statement.sql, statement.params))
                return false;
        return true;
    };
    bool sent = true;
    for (const Segment &segment : segments) {
        sent = sent && send(segment.prelude);
        for (const Pipeline &pipeline : segment.jobPipelines)
            sent = sent && send(pipeline);
    }
    if (!sent || !m_c->flushPipeline()) {
        *failure = m_c->lastFailure() == Failure::None ? Failure::Connection : m_c->lastFailure();
        (void)m_c->endPipeline();
        return false;
    }
    *failure = Failure::None;
    for (Segment &segment : segments) {
        Received prelude(*m_c, segment.prelude.statements());
        while (prelude.left() > 0)
            (void)prelude.next();
        if (*failure == Failure::None)
            *failure = prelude.failure();
        for (size_t j = 0; j < segment.jobs.size(); ++j) {
            WriteJob &job = batch[segment.jobs[j]];
            Received received(*m_c, segment.jobPipelines[j].statements());
            job.receive(*this, received);
            while (received.left() > 0)
                (void)received.next();
            if (received.failure() != Failure::None || prelude.failure() != Failure::None) {
                // Not the job's own answer: the batch's failure is.
                job.forget();
                if (*failure == Failure::None)
                    *failure = received.failure();
            }
        }
    }
    if (!m_c->endPipeline() && *failure == Failure::None)
        *failure = Failure::Connection;
    // A skipped statement only says that an earlier one failed.
    return *failure == Failure::None;
}

bool PgWriter::runProcedure(WriteJob &job, Failure *failure)
{
    *failure = Failure::None;
    if (Status saved = m_c->command(QStringLiteral("SAVEPOINT job"), "savepoint"); !saved) {
        *failure = m_c->lastFailure();
        return false;
    }
    if (job.apply(*this)) {
        if (Status released = m_c->command(QStringLiteral("RELEASE job"), "release"); !released) {
            *failure = m_c->lastFailure();
            return false;
        }
        return true;
    }
    // The job failed on its own (a refusal) or met an error of the database.
    const Failure met = m_c->lastFailure();
    if (m_c->isBroken() || met == Failure::Conflict) {
        job.forget(); // the batch's failure is its answer
        *failure = m_c->isBroken() ? Failure::Connection : met;
        return false;
    }
    if (Status undone = m_c->command(QStringLiteral("ROLLBACK TO job"), "rollback to savepoint");
        !undone) {
        *failure = m_c->lastFailure();
        return false;
    }
    if (Status released = m_c->command(QStringLiteral("RELEASE job"), "release"); !released) {
        *failure = m_c->lastFailure();
        return false;
    }
    return true;
}

PgWriter::Outcome PgWriter::runOnce(std::deque<WriteJob> &batch, std::optional<Error> *error)
{
    m_knownInBatch.clear();
    m_recipientsInBatch.clear();
    m_newMessages = 0;
    for (WriteJob &job : batch)
        if (job.forget)
            job.forget();
    if (!m_c || m_c->isBroken()) {
        // Lost in an earlier batch (or never there): try again, but not
        // more often than every kReconnectInterval after a failed attempt;
        // what arrives meanwhile waits for that attempt in this batch.
        if (m_connectFailed) {
            const auto due = m_lastConnectFailure + kReconnectInterval;
            if (std::chrono::steady_clock::now() < due)
                std::this_thread::sleep_until(due);
        }
        if (Status connected = connect(); !connected) {
            *error = connected.error();
            return Outcome::Failed;
        }
        m_stats.reconnects.fetch_add(1, std::memory_order_relaxed);
        qCInfo(lcPostgres) << "postgresql: the writer is connected again";
    }
    if (Status begun = m_c->command(QStringLiteral("BEGIN"), "begin"); !begun) {
        // An idle connection that died with a restarted database: nothing of
        // this batch was sent, so it may run at once on a new connection.
        if (m_c->isBroken()) {
            m_c.reset();
            m_connectFailed = false;
            return Outcome::Retry;
        }
        return abort(m_c->lastFailure(), error, "begin");
    }
    size_t i = 0;
    while (i < batch.size()) {
        Failure failure = Failure::None;
        if (batch[i].queue) {
            size_t end = i;
            while (end < batch.size() && batch[end].queue)
                ++end;
            if (!runPipelined(batch, i, end, &failure))
                return abort(failure, error, "pipeline");
            i = end;
        } else {
            if (!runProcedure(batch[i], &failure))
                return abort(failure, error, "write");
            ++i;
        }
    }
    if (Status committed = m_c->command(QStringLiteral("COMMIT"), "commit"); !committed)
        return abort(m_c->lastFailure(), error, "commit");
    return Outcome::Committed;
}

void PgWriter::runBatch(std::deque<WriteJob> &batch)
{
    std::optional<Error> failure;
    Outcome outcome = Outcome::Retry;
    for (int attempt = 1; outcome == Outcome::Retry; ++attempt) {
        failure.reset();
        outcome = runOnce(batch, &failure);
        if (outcome == Outcome::Retry) {
            m_stats.batchRetries.fetch_add(1, std::memory_order_relaxed);
            if (attempt == kMaxAttempts) {
                qCWarning(lcPostgres)
                    << "postgresql: a batch of" << batch.size()
                    << "writes kept conflicting; giving up after" << attempt << "runs";
                failure = unavailableError();
                outcome = Outcome::Failed;
            }
        }
    }
    if (outcome == Outcome::Committed) {
        if (m_known.size() + m_knownInBatch.size() > kMaxKnownConversations)
            m_known.clear();
        for (const QString &id : std::as_const(m_knownInBatch))
            m_known.insert(id);
        if (m_recipients.size() + m_recipientsInBatch.size() > kMaxCachedRecipients)
            m_recipients.clear();
        for (auto &[id, recipients] : m_recipientsInBatch) {
            // A later version may come first: appends of one run are read in
            // order of their lock keys, group changes in between.
            const auto it = m_recipients.constFind(id);
            if (it == m_recipients.cend() || it->version <= recipients.version)
                m_recipients.insert(id, std::move(recipients));
        }
        m_recipientsInBatch.clear();
        const quint64 size = batch.size();
        m_stats.commits.fetch_add(1, std::memory_order_relaxed);
        m_stats.writesCommitted.fetch_add(size, std::memory_order_relaxed);
        m_stats.messagesStored.fetch_add(m_newMessages, std::memory_order_relaxed);
        if (size > m_stats.maxBatch.load(std::memory_order_relaxed))
            m_stats.maxBatch.store(size, std::memory_order_relaxed);
        qCDebug(lcPostgres) << "postgresql: committed" << size << "writes";
        if (m_failedWhileDown > 0) {
            qCInfo(lcPostgres) << "postgresql: the database is back;" << m_failedWhileDown
                               << "batches failed with UNAVAILABLE meanwhile";
            m_failedWhileDown = 0;
        }
    } else if (failure->code == v1::UNAVAILABLE) {
        if (m_failedWhileDown++ == 0)
            qCWarning(lcPostgres) << "postgresql: the database is unavailable; writes fail with"
                                     " UNAVAILABLE until it is back:"
                                  << failure->message;
    } else {
        qCWarning(lcPostgres) << "postgresql: batch of" << batch.size()
                              << "writes failed:" << failure->message;
    }
    // One event to each completion thread for the whole batch.
    CompletionRelay::Batch completions;
    for (WriteJob &job : batch)
        job.deliver(failure, completions);
    completions.releaseAfter(std::make_shared<std::deque<WriteJob>>(std::move(batch)));
}

} // namespace kith::server::pg
