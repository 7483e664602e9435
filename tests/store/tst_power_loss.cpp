// Power cuts in the middle of concurrent writes, simulated the way SQLite
// tests itself: a VFS (FaultVfs) records what each file held at its last sync
// and what was written since, the disk dies at a random write, and the files
// come back with each sector written since its file's last sync old, new or
// in between. The store is then reopened on what is left: every acknowledged
// write is there as it was acknowledged, each conversation's seqs run 1..max
// without a gap or a repeat, and the file passes integrity_check. Resending
// what was not acknowledged then stores each message exactly once.
//
// Bounded in time: KITH_POWER_LOSS_SECONDS (default 40) of cuts; run longer
// by hand. KITH_POWER_LOSS_SEED repeats a run's choices of cut and of what
// the disk kept (the threads' timing differs from run to run).

#include "fault_vfs.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "sqlite_store.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QLoggingCategory>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QUuid>

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <memory>
#include <random>
#include <vector>

using namespace kith;
using namespace kith::server;
using kith::test::FaultVfs;

namespace {

constexpr int kSenders = 4;
constexpr int kWindow = 8;          // writes in flight per sender
constexpr int kRoundsPerFile = 6;   // cuts on one database before a fresh one
constexpr int kMaxStepsToCut = 400; // a round runs up to this many writes and syncs, then the cut
// Small, so checkpoints (database writes and syncs) and restarts of the log
// happen within a round, not only appends to the log.
constexpr int kCheckpointFrames = 64;
constexpr int kDefaultSeconds = 40;
constexpr int kWaitMs = 60000; // generous: the box is shared
// A power cut with synchronous = NORMAL loses the last commits; this many
// cuts find that with near certainty (each one almost always does).
constexpr int kControlRounds = 30;
constexpr quint64 kReadAll = quint64(1) << 40; // past any seq: "read up to the newest"

// One write a sender asked for and what it was told.
struct Attempt
{
    enum class Kind { Append, MarkRead, Rename };
    Kind kind = Kind::Append;
    QString conversation;
    quint64 user = 0;
    QString clientMsgId; // Append
    QString text;        // Append: the body; Rename: the new name
    bool answered = false;
    bool ok = false;
    v1::ErrorCode error = v1::INTERNAL;
    v1::Message message;  // an acknowledged append, as acknowledged
    quint64 readSeq = 0;  // an acknowledged mark-read
    quint64 eventSeq = 0; // an acknowledged rename: the seq of its event
};

v1::Content text(const QString &body)
{
    v1::Content content;
    content.mutable_text()->set_body(body.toStdString());
    return content;
}

const char *persistenceName(FaultVfs::Persistence persistence)
{
    switch (persistence) {
    case FaultVfs::Persistence::LoseAll:
        return "lose-all";
    case FaultVfs::Persistence::KeepAll:
        return "keep-all";
    case FaultVfs::Persistence::RandomEach:
        return "random-each";
    }
    return "?";
}

// Writes to the store from a thread of its own, kWindow at a time, until told
// to stop or until one fails (a client would back off then). Lives on that
// thread; its completions run there.
class Sender : public QObject
{
    Q_OBJECT
public:
    struct Plan
    {
        quint64 user = 0;
        QString conversation; // where it sends
        QString group;        // where it marks read (and renames, if it may)
        bool renames = false;
        QString tag;
        quint64 seed = 0;
    };

    Sender(SqliteStore &store, Plan plan, const std::atomic<bool> &stop)
        : m_store(store)
        , m_plan(std::move(plan))
        , m_stop(stop)
        , m_random(m_plan.seed)
    {}

    void begin()
    {
        for (int i = 0; i < kWindow; ++i)
            postNext();
        --m_inFlight; // the one counted for begin() itself
    }
    [[nodiscard]] bool idle() const { return m_inFlight.load() == 0; }
    // Once its thread has finished.
    [[nodiscard]] std::vector<Attempt> takeAttempts() { return std::move(m_attempts); }

private:
    void postNext()
    {
        if (m_stop.load() || m_failed)
            return;
        const size_t index = m_attempts.size();
        Attempt &attempt = m_attempts.emplace_back();
        attempt.user = m_plan.user;
        ++m_inFlight;
        const int dice = std::uniform_int_distribution<int>(0, 31)(m_random);
        if (m_plan.renames && dice == 0) {
            attempt.kind = Attempt::Kind::Rename;
            attempt.conversation = m_plan.group;
            attempt.text = QStringLiteral("%1-%2").arg(m_plan.tag).arg(index);
            m_store.renameGroup(m_plan.group, m_plan.user, attempt.text, this,
                                [this, index](Result<GroupChange> r) {
                                    Attempt &a = m_attempts[index];
                                    if (r)
                                        a.eventSeq = r->event.seq();
                                    finish(a, r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code);
                                });
        } else if (dice < 4) {
            attempt.kind = Attempt::Kind::MarkRead;
            attempt.conversation = m_plan.group;
            m_store.markRead(m_plan.group, m_plan.user, kReadAll, this,
                             [this, index](Result<ReadResult> r) {
                                 Attempt &a = m_attempts[index];
                                 if (r)
                                     a.readSeq = r->readSeq;
                                 finish(a, r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code);
                             });
        } else {
            attempt.kind = Attempt::Kind::Append;
            attempt.conversation = m_plan.conversation;
            attempt.clientMsgId = QUuid::createUuid().toString(QUuid::WithoutBraces);
            attempt.text = QStringLiteral("%1 #%2").arg(m_plan.tag).arg(index);
            AppendRequest request;
            request.conversationId = attempt.conversation;
            request.senderUserId = m_plan.user;
            request.senderDeviceId = 1;
            request.clientMsgId = attempt.clientMsgId.toStdString();
            request.content = text(attempt.text);
            m_store.appendMessage(std::move(request), this, [this, index](Result<AppendResult> r) {
                Attempt &a = m_attempts[index];
                if (r)
                    a.message = r->message;
                finish(a, r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code);
            });
        }
    }

    void finish(Attempt &attempt, v1::ErrorCode error)
    {
        attempt.answered = true;
        attempt.ok = error == v1::ERROR_UNSPECIFIED;
        attempt.error = error;
        m_failed = m_failed || !attempt.ok;
        // The next one first, so idle() never flickers between the two.
        postNext();
        --m_inFlight;
    }

    SqliteStore &m_store;
    const Plan m_plan;
    const std::atomic<bool> &m_stop;
    std::mt19937_64 m_random;
    std::vector<Attempt> m_attempts;
    std::atomic<int> m_inFlight{1}; // busy from the start: begin() is on its way
    bool m_failed = false;
};

int secondsOfCuts()
{
    bool ok = false;
    const int seconds = qEnvironmentVariable("KITH_POWER_LOSS_SECONDS").toInt(&ok);
    return ok && seconds > 0 ? seconds : kDefaultSeconds;
}

// integrity_check and foreign_key_check on a connection of its own.
QStringList integrityProblems(const QString &path)
{
    QStringList problems;
    sqlite3 *db = nullptr;
    if (sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READONLY, nullptr) !=
        SQLITE_OK) {
        problems << QStringLiteral("cannot open for integrity_check: %1")
                        .arg(QString::fromUtf8(sqlite3_errmsg(db)));
        sqlite3_close(db);
        return problems;
    }
    sqlite3_busy_timeout(db, kWaitMs);
    auto rows = [&](const char *sql) {
        QStringList out;
        sqlite3_stmt *statement = nullptr;
        if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
            problems << QStringLiteral("%1: %2").arg(QLatin1StringView(sql),
                                                     QString::fromUtf8(sqlite3_errmsg(db)));
            return out;
        }
        int rc = SQLITE_ROW;
        while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
            const auto *value = reinterpret_cast<const char *>(sqlite3_column_text(statement, 0));
            out << QString::fromUtf8(value ? value : "NULL");
        }
        if (rc != SQLITE_DONE)
            problems << QStringLiteral("%1: %2").arg(QLatin1StringView(sql),
                                                     QString::fromUtf8(sqlite3_errmsg(db)));
        sqlite3_finalize(statement);
        return out;
    };
    const QStringList integrity = rows("PRAGMA integrity_check");
    if (integrity != QStringList{QStringLiteral("ok")})
        problems << QStringLiteral("integrity_check: %1").arg(integrity.join(u"; "));
    const QStringList foreign = rows("PRAGMA foreign_key_check");
    if (!foreign.isEmpty())
        problems << QStringLiteral("foreign_key_check: rows in %1").arg(foreign.join(u", "));
    sqlite3_close(db);
    return problems;
}

} // namespace

class TestPowerLoss : public QObject
{
    Q_OBJECT

private:
    // One database file and everything ever asked of it.
    struct Database
    {
        std::unique_ptr<QTemporaryDir> dir;
        std::unique_ptr<SqliteStore> store;
        QString path;
        std::array<quint64, kSenders> users{};
        QString direct; // users 0 and 1
        QString group;  // all four; user 0 owns it
        QString firstTitle;
        std::vector<Attempt> ledger;
        int rounds = 0;
    };

    struct Totals
    {
        int cuts = 0;
        int byPersistence[3] = {0, 0, 0};
        qint64 ackedAppends = 0;
        qint64 unackedAppends = 0;
        qint64 unackedButStored = 0;
        qint64 pendingSectors = 0;
        qint64 tornFiles = 0;    // files where some pending sectors came back and some did not
        quint64 checkpoints = 0; // copies of the log into the database beside the writer
    };

    template<class T, class Call> Result<T> wait(Call call)
    {
        std::optional<Result<T>> out;
        call(this, [&out](Result<T> r) { out.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&out] { return out.has_value(); }, kWaitMs))
            return makeError(v1::INTERNAL, QStringLiteral("no completion"));
        return std::move(*out);
    }

    QString openStore(Database &db, const SqliteStore::Options &options)
    {
        db.store = std::make_unique<SqliteStore>(db.path, options);
        const Status opened = db.store->open();
        return opened ? QString() : opened.error().message;
    }

    // A fresh file with four users, their direct chat and their group, made
    // durable before any cut is armed.
    QString newDatabase(Database &db, const SqliteStore::Options &options)
    {
        db = Database{};
        db.dir = std::make_unique<QTemporaryDir>();
        if (!db.dir->isValid())
            return QStringLiteral("no temporary folder");
        db.path = db.dir->filePath(QStringLiteral("kith.sqlite3"));
        if (QString error = openStore(db, options); !error.isEmpty())
            return error;
        for (int i = 0; i < kSenders; ++i) {
            const auto user = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
                db.store->createUser(QStringLiteral("user%1").arg(i), {}, "hash", ctx, done);
            });
            if (!user)
                return user.error().message;
            db.users[size_t(i)] = user->id;
        }
        db.firstTitle = QStringLiteral("team");
        const auto group = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            db.store->createGroup(db.users[0], db.firstTitle,
                                  {db.users[1], db.users[2], db.users[3]}, ctx, done);
        });
        if (!group)
            return group.error().message;
        db.group = QString::fromStdString(group->state.id());
        db.direct = directConversationId(db.users[0], db.users[1]);
        FaultVfs::install().markAllDurable();
        return {};
    }

    static std::optional<QList<v1::Message>> pullAll(SqliteStore &store,
                                                     const QString &conversation)
    {
        QList<v1::Message> all;
        PullQuery query;
        query.conversationId = conversation;
        query.limit = kMaxPullLimit;
        for (;;) {
            const auto page = store.pull(query);
            if (!page)
                return std::nullopt;
            all += page->messages;
            if (!page->hasMore || page->messages.isEmpty())
                return all;
            query.fromSeq = page->messages.last().seq() + 1;
        }
    }

    // Everything the store must still hold after a cut, as problems found.
    // `stored` receives the client message ids found in the history.
    QStringList check(Database &db, QSet<QString> *stored)
    {
        QStringList problems = integrityProblems(db.path);
        QHash<QString, QHash<quint64, v1::Message>> bySeq;
        QHash<QString, quint64> maxSeqs;
        for (const QString &conversation : {db.direct, db.group}) {
            const auto history = pullAll(*db.store, conversation);
            if (!history) {
                problems << QStringLiteral("cannot pull %1").arg(conversation);
                continue;
            }
            quint64 expected = 1;
            for (const v1::Message &message : *history) {
                if (message.seq() != expected) {
                    problems << QStringLiteral("%1: seq %2 where %3 belongs")
                                    .arg(conversation)
                                    .arg(message.seq())
                                    .arg(expected);
                    break;
                }
                ++expected;
                bySeq[conversation].insert(message.seq(), message);
                if (message.client_msg_id().empty())
                    continue;
                const QString id = QString::fromStdString(message.client_msg_id());
                if (stored->contains(id))
                    problems << QStringLiteral("%1 is stored twice").arg(id);
                stored->insert(id);
            }
            const quint64 maxSeq = history->isEmpty() ? 0 : history->last().seq();
            maxSeqs.insert(conversation, maxSeq);
            const auto view = db.store->conversation(conversation, db.users[0]);
            const quint64 recorded = view ? view->max_seq() : 0;
            if (recorded != maxSeq)
                problems << QStringLiteral("%1: max_seq says %2, the messages end at %3")
                                .arg(conversation)
                                .arg(recorded)
                                .arg(maxSeq);
        }
        for (quint64 user : db.users) {
            const auto view = db.store->conversation(db.group, user);
            if (view && view->read_seq() > maxSeqs.value(db.group))
                problems << QStringLiteral("user %1 has read past the end of the group").arg(user);
        }

        QString title = db.firstTitle; // the last acknowledged name
        QSet<QString> titles{title};   // ... and those asked for after it
        for (const Attempt &a : db.ledger) {
            switch (a.kind) {
            case Attempt::Kind::Append: {
                if (!a.ok)
                    break;
                const v1::Message found = bySeq[a.conversation].value(a.message.seq());
                if (found.client_msg_id() != a.clientMsgId.toStdString() ||
                    found.server_id() != a.message.server_id() ||
                    found.sender_user_id() != a.user ||
                    found.content().text().body() != a.text.toStdString())
                    problems << QStringLiteral("acknowledged %1 (seq %2 of %3) is lost or changed")
                                    .arg(a.clientMsgId)
                                    .arg(a.message.seq())
                                    .arg(a.conversation);
                break;
            }
            case Attempt::Kind::MarkRead: {
                if (!a.ok)
                    break;
                const auto view = db.store->conversation(a.conversation, a.user);
                if (!view || view->read_seq() < a.readSeq)
                    problems << QStringLiteral("user %1's acknowledged read marker %2 went back")
                                    .arg(a.user)
                                    .arg(a.readSeq);
                break;
            }
            case Attempt::Kind::Rename: {
                if (!a.ok) {
                    titles.insert(a.text);
                    break;
                }
                title = a.text;
                titles = {title};
                const v1::Message event = bySeq[db.group].value(a.eventSeq);
                if (event.content().system().kind() != v1::SystemEvent::GROUP_RENAMED ||
                    event.content().system().name() != a.text.toStdString())
                    problems << QStringLiteral("acknowledged rename to %1 (seq %2) is lost")
                                    .arg(a.text)
                                    .arg(a.eventSeq);
                break;
            }
            }
        }
        const auto group = db.store->conversation(db.group, db.users[0]);
        if (!group || !titles.contains(QString::fromStdString(group->title())))
            problems << QStringLiteral("the group is called %1; the last acknowledged name is %2")
                            .arg(group ? QString::fromStdString(group->title()) : QString(), title);
        return problems;
    }

    // One round: senders on their threads until the disk dies at the write or sync
    // `cutAfter` from now, then the files come back as `persistence` says and
    // the store is checked. Empty when all is well.
    QStringList runRound(Database &db, const SqliteStore::Options &options,
                         FaultVfs::Persistence persistence, int cutAfter, std::mt19937_64 &random,
                         Totals &totals)
    {
        FaultVfs &vfs = FaultVfs::install();
        QStringList problems;
        ++db.rounds;
        vfs.markAllDurable();
        vfs.armPowerCut(std::uint64_t(cutAfter));

        std::atomic<bool> stop{false};
        std::vector<std::unique_ptr<Sender>> senders;
        std::vector<std::unique_ptr<QThread>> threads;
        for (int i = 0; i < kSenders; ++i) {
            Sender::Plan plan;
            plan.user = db.users[size_t(i)];
            plan.conversation = i < 2 ? db.direct : db.group;
            plan.group = db.group;
            plan.renames = i == 0; // the owner
            plan.tag = QStringLiteral("r%1u%2").arg(db.rounds).arg(i);
            plan.seed = random();
            senders.push_back(std::make_unique<Sender>(*db.store, plan, stop));
            threads.push_back(std::make_unique<QThread>());
            senders.back()->moveToThread(threads.back().get());
            threads.back()->start();
            QMetaObject::invokeMethod(senders.back().get(), &Sender::begin, Qt::QueuedConnection);
        }
        auto allIdle = [&senders] {
            return std::all_of(senders.begin(), senders.end(),
                               [](const auto &sender) { return sender->idle(); });
        };
        // Senders stop on their first failure: all idle before the cut means
        // something failed while the disk was still fine.
        (void)QTest::qWaitFor([&] { return vfs.powerIsOut() || allIdle(); }, kWaitMs);
        const bool stoppedEarly = !vfs.powerIsOut();
        if (stoppedEarly)
            vfs.cutPowerNow();
        stop.store(true);
        const bool drained = QTest::qWaitFor(allIdle, kWaitMs);
        for (auto &thread : threads) {
            thread->quit();
            thread->wait();
        }
        if (!drained) {
            problems << QStringLiteral("writes were never answered after the cut");
            return problems;
        }
        for (auto &sender : senders) {
            for (Attempt &attempt : sender->takeAttempts()) {
                if (attempt.kind == Attempt::Kind::Append)
                    ++(attempt.ok ? totals.ackedAppends : totals.unackedAppends);
                if (stoppedEarly && !attempt.ok)
                    problems << QStringLiteral("before the cut, a write of kind %1 by user %2 "
                                               "failed with %3")
                                    .arg(int(attempt.kind))
                                    .arg(attempt.user)
                                    .arg(QString::fromStdString(v1::ErrorCode_Name(attempt.error)));
                db.ledger.push_back(std::move(attempt));
            }
        }
        senders.clear();

        totals.checkpoints += db.store->backgroundCheckpoints();
        db.store->close();
        db.store.reset();
        const auto report = vfs.restorePower(persistence, random);
        problems += report.errors;
        ++totals.cuts;
        ++totals.byPersistence[int(persistence)];
        totals.pendingSectors += report.pendingSectors;
        if (report.keptSectors + report.olderSectors > 0 && report.lostSectors > 0)
            ++totals.tornFiles;
        if (QString error = openStore(db, options); !error.isEmpty()) {
            problems << QStringLiteral("cannot reopen: %1").arg(error);
            return problems;
        }

        QSet<QString> stored;
        problems += check(db, &stored);
        if (!problems.isEmpty())
            return problems;

        // What a client's outbox does next: resend every message that was not
        // acknowledged, with its id. Each was stored before the cut (the
        // store says duplicate) or was not (it is stored now), never twice.
        int appends = 0;
        std::vector<Attempt *> unacked;
        for (Attempt &a : db.ledger) {
            if (a.kind != Attempt::Kind::Append)
                continue;
            ++appends;
            if (!a.ok)
                unacked.push_back(&a);
        }
        std::vector<std::optional<Result<AppendResult>>> resent(unacked.size());
        for (size_t i = 0; i < unacked.size(); ++i) {
            AppendRequest request;
            request.conversationId = unacked[i]->conversation;
            request.senderUserId = unacked[i]->user;
            request.senderDeviceId = 1;
            request.clientMsgId = unacked[i]->clientMsgId.toStdString();
            request.content = text(unacked[i]->text);
            db.store->appendMessage(std::move(request), this,
                                    [&resent, i](Result<AppendResult> r) { resent[i].emplace(r); });
        }
        if (!QTest::qWaitFor(
                [&resent] {
                    return std::all_of(resent.begin(), resent.end(),
                                       [](const auto &r) { return r.has_value(); });
                },
                kWaitMs)) {
            problems << QStringLiteral("resent messages were never answered");
            return problems;
        }
        for (size_t i = 0; i < unacked.size(); ++i) {
            Attempt &a = *unacked[i];
            const Result<AppendResult> &answer = *resent[i];
            if (!answer) {
                problems << QStringLiteral("resending %1 failed: %2")
                                .arg(a.clientMsgId, answer.error().message);
                continue;
            }
            if (answer->duplicate != stored.contains(a.clientMsgId))
                problems << QStringLiteral("resending %1 says duplicate = %2, but it was %3")
                                .arg(a.clientMsgId)
                                .arg(answer->duplicate)
                                .arg(stored.contains(a.clientMsgId) ? "stored" : "not stored");
            totals.unackedButStored += answer->duplicate ? 1 : 0;
            a.ok = true;
            a.message = answer->message;
        }
        stored.clear();
        problems += check(db, &stored);
        if (stored.size() != appends)
            problems
                << QStringLiteral("%1 messages stored for %2 sent").arg(stored.size()).arg(appends);
        return problems;
    }

    static quint64 seedFromEnvironment()
    {
        bool ok = false;
        const quint64 seed = qEnvironmentVariable("KITH_POWER_LOSS_SEED").toULongLong(&ok);
        return ok ? seed : std::random_device()();
    }

private slots:
    void initTestCase()
    {
        FaultVfs &vfs = FaultVfs::install();
        // Durability is what the shim says it is; real syncs would only slow the cuts down.
        vfs.setRealSync(false);
        // Every write after a cut fails, and the store says so each time.
        QLoggingCategory::setFilterRules(QStringLiteral("kith.store*=false"));
    }

    void ackedWritesSurvivePowerCuts()
    {
        const int seconds = secondsOfCuts();
        const quint64 seed = seedFromEnvironment();
        std::mt19937_64 random(seed);
        SqliteStore::Options options;
        options.checkpointFrames = kCheckpointFrames;
        QCOMPARE(options.synchronous, SqliteStore::Synchronous::Full); // what kithd runs with

        Totals totals;
        Database db;
        const QDeadlineTimer budget(std::chrono::seconds{seconds});
        while (!budget.hasExpired()) {
            if (!db.store || db.rounds == kRoundsPerFile) {
                const QString error = newDatabase(db, options);
                QVERIFY2(error.isEmpty(), qPrintable(error));
            }
            const int dice = std::uniform_int_distribution<int>(0, 4)(random);
            const auto persistence = dice == 0   ? FaultVfs::Persistence::LoseAll
                                     : dice == 1 ? FaultVfs::Persistence::KeepAll
                                                 : FaultVfs::Persistence::RandomEach;
            const int cutAfter = std::uniform_int_distribution<int>(1, kMaxStepsToCut)(random);
            const QStringList problems =
                runRound(db, options, persistence, cutAfter, random, totals);
            QVERIFY2(problems.isEmpty(),
                     qPrintable(QStringLiteral("cut %1 (seed %2, round %3 of its file, %4, at "
                                               "step %5):\n  %6")
                                    .arg(totals.cuts)
                                    .arg(seed)
                                    .arg(db.rounds)
                                    .arg(QLatin1StringView(persistenceName(persistence)))
                                    .arg(cutAfter)
                                    .arg(problems.join(QStringLiteral("\n  ")))));
        }
        qInfo("%d power cuts in %d s (seed %llu): %d lose-all, %d keep-all, %d random-each; "
              "%lld sectors pending at the cuts, %lld cuts that kept some and lost some; "
              "%llu background checkpoints; "
              "%lld appends acknowledged, %lld not (%lld of those stored all the same)",
              totals.cuts, seconds, seed, totals.byPersistence[0], totals.byPersistence[1],
              totals.byPersistence[2], totals.pendingSectors, totals.tornFiles, totals.checkpoints,
              totals.ackedAppends, totals.unackedAppends, totals.unackedButStored);
        QVERIFY(totals.cuts > 0);
        QVERIFY(totals.ackedAppends > 0);
    }

    // The check above must catch a store that acknowledges before its commit
    // is on disk: with synchronous = NORMAL (the log is synced only at
    // checkpoints) cuts that keep nothing unsynced lose acknowledged writes.
    void weakerSyncIsCaught()
    {
        const quint64 seed = seedFromEnvironment();
        std::mt19937_64 random(seed);
        SqliteStore::Options options;
        options.checkpointFrames = kCheckpointFrames;
        options.synchronous = SqliteStore::Synchronous::Normal;

        Totals totals;
        Database db;
        QStringList found;
        for (int round = 0; round < kControlRounds && found.isEmpty(); ++round) {
            if (!db.store || db.rounds == kRoundsPerFile) {
                const QString error = newDatabase(db, options);
                QVERIFY2(error.isEmpty(), qPrintable(error));
            }
            // Late enough in the round that some writes were acknowledged.
            const int cutAfter =
                std::uniform_int_distribution<int>(kMaxStepsToCut / 4, kMaxStepsToCut)(random);
            found = runRound(db, options, FaultVfs::Persistence::LoseAll, cutAfter, random, totals);
        }
        QVERIFY2(!found.isEmpty(),
                 qPrintable(QStringLiteral("%1 power cuts with synchronous = NORMAL lost nothing "
                                           "acknowledged (seed %2): the simulation no longer "
                                           "catches a store that acks before its commit is "
                                           "durable")
                                .arg(totals.cuts)
                                .arg(seed)));
        qInfo("synchronous = NORMAL caught after %d cuts: %s", totals.cuts,
              qPrintable(found.first()));
    }
};

int main(int argc, char *argv[])
{
    // A long run by hand outlasts Qt Test's watchdog (5 minutes a function).
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", QByteArray::number((secondsOfCuts() + 600) * 1000));
    QCoreApplication app(argc, argv);
    TestPowerLoss test;
    return QTest::qExec(&test, argc, argv);
}
#include "tst_power_loss.moc"
