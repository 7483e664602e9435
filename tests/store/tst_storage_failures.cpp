// SqliteStore when the storage fails under it: a full disk, the write lock
// held elsewhere past the busy timeout, a COMMIT whose sync fails, the disk
// gone for a moment in the middle of a commit. Each time no write is
// acknowledged that was not committed, the callers get INTERNAL, nothing of
// the failed writes is visible, and once the storage is back the same writes
// go through with the seqs they would have had.

#include "fault_vfs.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "sqlite_store.h"

#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <vector>

using namespace kith;
using namespace kith::server;
using kith::test::FaultVfs;

namespace {

constexpr int kWaitMs = 30000; // generous: the box is shared and fsync may be slow

v1::Content text(const QString &body)
{
    v1::Content content;
    content.mutable_text()->set_body(body.toStdString());
    return content;
}

// A connection of the test's own to the store's file.
class RawConnection
{
public:
    explicit RawConnection(const QString &path)
    {
        m_ok = sqlite3_open_v2(path.toUtf8().constData(), &m_db, SQLITE_OPEN_READWRITE, nullptr) ==
               SQLITE_OK;
        sqlite3_busy_timeout(m_db, kWaitMs);
    }
    ~RawConnection() { sqlite3_close(m_db); }
    RawConnection(const RawConnection &) = delete;
    RawConnection &operator=(const RawConnection &) = delete;

    [[nodiscard]] bool exec(const char *sql)
    {
        return m_ok && sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    // The first column of every row.
    [[nodiscard]] QStringList rows(const char *sql)
    {
        QStringList out;
        sqlite3_stmt *statement = nullptr;
        if (!m_ok || sqlite3_prepare_v2(m_db, sql, -1, &statement, nullptr) != SQLITE_OK)
            return {QStringLiteral("cannot prepare %1").arg(QLatin1StringView(sql))};
        while (sqlite3_step(statement) == SQLITE_ROW) {
            const auto *value = reinterpret_cast<const char *>(sqlite3_column_text(statement, 0));
            out << QString::fromUtf8(value ? value : "NULL");
        }
        sqlite3_finalize(statement);
        return out;
    }

private:
    sqlite3 *m_db = nullptr;
    bool m_ok = false;
};

} // namespace

class TestStorageFailures : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SqliteStore> m_store;
    UserRecord m_alice, m_bob;
    QString m_direct, m_team;

    QString dbPath() const { return m_dir->filePath(QStringLiteral("kith.sqlite3")); }

    void reopen(SqliteStore::Options options = {})
    {
        m_store.reset();
        m_store = std::make_unique<SqliteStore>(dbPath(), options);
        const Status opened = m_store->open();
        QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : opened.error().message));
    }

    template<class T, class Call> Result<T> wait(Call call)
    {
        std::optional<Result<T>> out;
        call(this, [&out](Result<T> r) { out.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&out] { return out.has_value(); }, kWaitMs))
            return makeError(v1::INTERNAL, QStringLiteral("no completion"));
        return std::move(*out);
    }

    static AppendRequest appendRequest(const QString &conversation, quint64 sender,
                                       const QString &clientId)
    {
        AppendRequest r;
        r.conversationId = conversation;
        r.senderUserId = sender;
        r.senderDeviceId = 1;
        r.clientMsgId = clientId.toStdString();
        r.content = text(clientId);
        return r;
    }

    // Appends posted together (so they may share batches); the answers in order.
    std::vector<Result<AppendResult>> sendAll(const QList<std::pair<QString, quint64>> &targets,
                                              const QStringList &ids)
    {
        std::vector<std::optional<Result<AppendResult>>> answers(size_t(ids.size()));
        for (qsizetype i = 0; i < ids.size(); ++i)
            m_store->appendMessage(appendRequest(targets[i].first, targets[i].second, ids[i]), this,
                                   [&answers, i](Result<AppendResult> r) {
                                       answers[size_t(i)].emplace(std::move(r));
                                   });
        const bool answered = QTest::qWaitFor(
            [&answers] {
                return std::all_of(answers.begin(), answers.end(),
                                   [](const auto &a) { return a.has_value(); });
            },
            kWaitMs);
        std::vector<Result<AppendResult>> out;
        for (auto &answer : answers)
            out.push_back(answered && answer
                              ? std::move(*answer)
                              : makeError(v1::INTERNAL, QStringLiteral("no answer")));
        return out;
    }

    QList<quint64> seqsOf(const QString &conversation)
    {
        QList<quint64> seqs;
        PullQuery query;
        query.conversationId = conversation;
        query.limit = kMaxPullLimit;
        const auto page = m_store->pull(query);
        if (page)
            for (const v1::Message &m : page->messages)
                seqs << m.seq();
        return seqs;
    }

    static QList<quint64> oneTo(quint64 n)
    {
        QList<quint64> seqs;
        for (quint64 s = 1; s <= n; ++s)
            seqs << s;
        return seqs;
    }

    quint64 maxSeq(const QString &conversation)
    {
        const auto view = m_store->conversation(conversation, m_alice.id);
        return view ? view->max_seq() : 0;
    }

    QStringList integrity()
    {
        RawConnection raw(dbPath());
        return raw.rows("PRAGMA integrity_check") + raw.rows("PRAGMA foreign_key_check");
    }

private slots:
    void initTestCase() { FaultVfs::install(); }

    // alice and bob, their direct chat with seqs 1-3 and their group with
    // its creation event and one message (seqs 1-2).
    void init()
    {
        FaultVfs &vfs = FaultVfs::install();
        vfs.setDiskFull(false);
        vfs.failSyncs(0, {});
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        reopen();
        auto user = [this](const QString &name) {
            return wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
                m_store->createUser(name, {}, "hash", ctx, done);
            });
        };
        const auto alice = user(QStringLiteral("alice"));
        const auto bob = user(QStringLiteral("bob"));
        QVERIFY(alice && bob);
        m_alice = *alice;
        m_bob = *bob;
        m_direct = directConversationId(m_alice.id, m_bob.id);
        const auto team = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->createGroup(m_alice.id, QStringLiteral("team"), {m_bob.id}, ctx, done);
        });
        QVERIFY(team);
        m_team = QString::fromStdString(team->state.id());
        const auto before = sendAll({{m_direct, m_alice.id},
                                     {m_direct, m_bob.id},
                                     {m_direct, m_alice.id},
                                     {m_team, m_bob.id}},
                                    {QStringLiteral("d1"), QStringLiteral("d2"),
                                     QStringLiteral("d3"), QStringLiteral("t2")});
        for (const auto &answer : before)
            QVERIFY(answer.ok());
        QCOMPARE(seqsOf(m_direct), oneTo(3));
        QCOMPARE(seqsOf(m_team), oneTo(2));
    }

    void cleanup()
    {
        FaultVfs &vfs = FaultVfs::install();
        vfs.setDiskFull(false);
        vfs.failSyncs(0, {});
        vfs.endOutage();
        m_store.reset();
        m_dir.reset();
    }

    void diskFullFailsWritesUntilThereIsRoom()
    {
        FaultVfs &vfs = FaultVfs::install();
        const auto refusedBefore = vfs.refusedForSpace();
        vfs.setDiskFull(true);
        const QStringList ids = {QStringLiteral("f1"), QStringLiteral("f2"), QStringLiteral("f3"),
                                 QStringLiteral("f4")};
        const QList<std::pair<QString, quint64>> targets = {
            {m_direct, m_alice.id}, {m_team, m_bob.id}, {m_direct, m_bob.id}, {m_team, m_alice.id}};
        const auto failed = sendAll(targets, ids);
        for (const auto &answer : failed) {
            QVERIFY(!answer.ok()); // no ack for a message that is not on disk
            QCOMPARE(answer.error().code, v1::INTERNAL);
        }
        const auto read = wait<ReadResult>([&](QObject *ctx, Completion<ReadResult> done) {
            m_store->markRead(m_direct, m_bob.id, 3, ctx, done);
        });
        QVERIFY(!read.ok());
        QCOMPARE(read.error().code, v1::INTERNAL);
        const auto renamed = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->renameGroup(m_team, m_alice.id, QStringLiteral("renamed"), ctx, done);
        });
        QVERIFY(!renamed.ok());
        QCOMPARE(renamed.error().code, v1::INTERNAL);
        QVERIFY(vfs.refusedForSpace() > refusedBefore); // the disk really was full

        // Nothing of them is visible, and reads go on.
        QCOMPARE(seqsOf(m_direct), oneTo(3));
        QCOMPARE(seqsOf(m_team), oneTo(2));
        QCOMPARE(maxSeq(m_direct), 3u);
        QCOMPARE(maxSeq(m_team), 2u);
        for (const QString &id : ids) {
            QVERIFY(!m_store->messageByClientId(m_alice.id, id.toStdString())->has_value());
            QVERIFY(!m_store->messageByClientId(m_bob.id, id.toStdString())->has_value());
        }
        QCOMPARE(m_store->conversation(m_direct, m_bob.id)->read_seq(), 2u);
        QCOMPARE(m_store->conversation(m_team, m_alice.id)->title(), "team");

        // Room again: the same writes go through, each with the next seq.
        vfs.setDiskFull(false);
        const auto readAgain = wait<ReadResult>([&](QObject *ctx, Completion<ReadResult> done) {
            m_store->markRead(m_direct, m_bob.id, 3, ctx, done);
        });
        QVERIFY(readAgain.ok());
        QCOMPARE(readAgain->readSeq, 3u);
        const auto resent = sendAll(targets, ids);
        for (const auto &answer : resent) {
            QVERIFY2(answer.ok(), qPrintable(answer.ok() ? QString() : answer.error().message));
            QVERIFY(!answer->duplicate);
        }
        QCOMPARE(resent[0]->message.seq(), 4u);
        QCOMPARE(resent[1]->message.seq(), 3u);
        QCOMPARE(resent[2]->message.seq(), 5u);
        QCOMPARE(resent[3]->message.seq(), 4u);

        reopen();
        QCOMPARE(seqsOf(m_direct), oneTo(5));
        QCOMPARE(seqsOf(m_team), oneTo(4));
        QCOMPARE(integrity(), QStringList{QStringLiteral("ok")});
    }

    void busyAtBeginFailsTheBatchUntilTheLockIsFree()
    {
        SqliteStore::Options options;
        options.busyTimeoutMs = 50;
        reopen(options);
        const QStringList ids = {QStringLiteral("b1"), QStringLiteral("b2"), QStringLiteral("b3")};
        const QList<std::pair<QString, quint64>> targets = {
            {m_direct, m_alice.id}, {m_team, m_bob.id}, {m_direct, m_bob.id}};
        {
            RawConnection blocker(dbPath());
            QVERIFY(blocker.exec("BEGIN IMMEDIATE"));
            const auto failed = sendAll(targets, ids);
            for (const auto &answer : failed) {
                QVERIFY(!answer.ok());
                QCOMPARE(answer.error().code, v1::INTERNAL);
            }
            QCOMPARE(seqsOf(m_direct), oneTo(3));
            QCOMPARE(seqsOf(m_team), oneTo(2));
            QVERIFY(blocker.exec("ROLLBACK"));
        }
        const auto resent = sendAll(targets, ids);
        for (const auto &answer : resent)
            QVERIFY(answer.ok() && !answer->duplicate);
        QCOMPARE(resent[0]->message.seq(), 4u);
        QCOMPARE(resent[1]->message.seq(), 3u);
        QCOMPARE(resent[2]->message.seq(), 5u);
    }

    // The log's sync fails after a COMMIT: that batch is not acknowledged,
    // and since it is in the file already (and a failed sync may have lost
    // pages the kernel then calls clean), the store acknowledges nothing more
    // and answers no message reads until it is opened again. The next process
    // reads what the disk holds; resending what was not acknowledged then
    // stores each message exactly once, with seqs that run on without a gap.
    void failedLogSyncStopsAcknowledgingUntilRestart()
    {
        FaultVfs &vfs = FaultVfs::install();
        const auto failedBefore = vfs.failedSyncs();
        vfs.failSyncs(1, QStringLiteral("-wal"));
        QStringList ids;
        QList<std::pair<QString, quint64>> targets;
        for (int i = 0; i < 6; ++i) {
            ids << QStringLiteral("c%1").arg(i);
            targets << std::pair(m_direct, i % 2 ? m_alice.id : m_bob.id);
        }
        const auto answers = sendAll(targets, ids);
        QCOMPARE(vfs.failedSyncs(), failedBefore + 1);
        QStringList failed;
        for (size_t i = 0; i < answers.size(); ++i) {
            if (!answers[i]) {
                QCOMPARE(answers[i].error().code, v1::INTERNAL);
                failed << ids[qsizetype(i)];
            }
        }
        QVERIFY(!failed.isEmpty()); // the first batch, at least

        // From now on: no acks and no message reads in this process.
        const auto refused = sendAll({{m_team, m_alice.id}}, {QStringLiteral("refused")});
        QVERIFY(!refused[0].ok());
        QCOMPARE(refused[0].error().code, v1::INTERNAL);
        PullQuery query;
        query.conversationId = m_direct;
        const auto pulled = m_store->pull(query);
        QVERIFY(!pulled.ok());
        QCOMPARE(pulled.error().code, v1::INTERNAL);

        reopen();
        const quint64 kept = maxSeq(m_direct);
        QVERIFY(kept >= 3);
        QCOMPARE(seqsOf(m_direct), oneTo(kept));
        QList<std::pair<QString, quint64>> failedTargets;
        for (const QString &id : failed)
            failedTargets << targets[ids.indexOf(id)];
        for (const auto &answer : sendAll(failedTargets, failed))
            QVERIFY(answer.ok());
        QCOMPARE(seqsOf(m_direct), oneTo(3 + quint64(ids.size())));
        for (qsizetype i = 0; i < ids.size(); ++i)
            QVERIFY(
                m_store->messageByClientId(targets[i].second, ids[i].toStdString())->has_value());
        QCOMPARE(integrity(), QStringList{QStringLiteral("ok")});
    }

    // The disk goes away in the middle of a commit and comes back: while it
    // is gone, the writer cannot even read its counters back, and must do so
    // before its next batch rather than carry on with what it had.
    void outageInTheMiddleOfACommit()
    {
        FaultVfs &vfs = FaultVfs::install();
        vfs.armPowerCut(1);
        const auto failed = sendAll({{m_team, m_alice.id}, {m_direct, m_bob.id}},
                                    {QStringLiteral("o1"), QStringLiteral("o2")});
        for (const auto &answer : failed) {
            QVERIFY(!answer.ok());
            QCOMPARE(answer.error().code, v1::INTERNAL);
        }
        QVERIFY(vfs.powerIsOut());
        vfs.endOutage();

        const auto after = sendAll({{m_team, m_alice.id}, {m_direct, m_bob.id}},
                                   {QStringLiteral("o1"), QStringLiteral("o2")});
        for (const auto &answer : after)
            QVERIFY2(answer.ok(), qPrintable(answer.ok() ? QString() : answer.error().message));
        QCOMPARE(after[0]->message.seq(), 3u);
        QCOMPARE(after[1]->message.seq(), 4u);
        QCOMPARE(seqsOf(m_team), oneTo(3));
        QCOMPARE(seqsOf(m_direct), oneTo(4));
        reopen();
        QCOMPARE(seqsOf(m_team), oneTo(3));
        QCOMPARE(seqsOf(m_direct), oneTo(4));
        QCOMPARE(integrity(), QStringList{QStringLiteral("ok")});
    }
};

QTEST_GUILESS_MAIN(TestStorageFailures)
#include "tst_storage_failures.moc"
