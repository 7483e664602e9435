// What only the SQLite backend promises, on real SQLite files: migrations,
// group commit and per-write atomicity inside a batch, checkpoints beside the
// writer, another process on the same file (WAL), read connections per
// thread, the log folded at close. What every backend promises is in
// tst_store_contract.cpp.
#include "commit_gate.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "sqlite_store.h"
#include "store_test_base.h"

#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;
using kith::test::CommitGate;

namespace {

// A second connection to the store's file, as another process (an admin
// command, a test fixture) would have; named per use and removed afterwards.
class RawDb
{
public:
    explicit RawDb(const QString &path, int busyTimeoutMs = 10000)
        : m_name(QStringLiteral("raw-%1").arg(++s_serial))
    {
        auto db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(busyTimeoutMs));
        m_ok = db.open();
    }
    ~RawDb()
    {
        {
            auto db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    bool ok() const { return m_ok; }
    bool exec(const QString &sql, const QVariantList &values = {})
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.prepare(sql))
            return false;
        for (int i = 0; i < values.size(); ++i)
            q.bindValue(i, values.at(i));
        return q.exec();
    }
    QVariant scalar(const QString &sql, const QVariantList &values = {})
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.prepare(sql))
            return {};
        for (int i = 0; i < values.size(); ++i)
            q.bindValue(i, values.at(i));
        if (!q.exec() || !q.next())
            return {};
        return q.value(0);
    }

private:
    static inline int s_serial = 0;
    QString m_name;
    bool m_ok = false;
};

} // namespace

class TestSqliteStore : public StoreTestBase
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;

    QString dbPath() const { return m_dir->filePath(QStringLiteral("kith.db")); }
    [[nodiscard]] SqliteStore *sqlite() const { return static_cast<SqliteStore *>(m_store.get()); }

    // Holds the writer at COMMIT while closed; opened again by cleanup().
    CommitGate m_gate;
    // Holds the flusher before it syncs the log while closed.
    CommitGate m_flushGate;
    void reopenWithFlushGate()
    {
        SqliteStore::Options options;
        options.beforeFlushForTesting = m_flushGate.hook();
        reopen(options);
    }
    void reopenWithGate()
    {
        SqliteStore::Options options;
        options.beforeCommitForTesting = m_gate.hook();
        reopen(options);
    }

    void reopen(SqliteStore::Options options = {})
    {
        m_store.reset();
        m_store = std::make_unique<SqliteStore>(dbPath(), options);
        const Status opened = m_store->open();
        QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : opened.error().message));
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        reopen();
    }

    void cleanup()
    {
        m_gate.open(); // a failed test may have left the writer held
        m_flushGate.open();
        m_store.reset();
        m_dir.reset();
    }

    // ---- migrations --------------------------------------------------------------------------

    void freshFileHasLatestSchema()
    {
        QCOMPARE(m_store->schemaVersion(), SqliteStore::latestSchemaVersion());
        QVERIFY(SqliteStore::latestSchemaVersion() >= 2);
        m_store->close();
        RawDb raw(dbPath());
        QVERIFY(raw.ok());
        QCOMPARE(raw.scalar(QStringLiteral("PRAGMA user_version")).toInt(),
                 SqliteStore::latestSchemaVersion());
        QCOMPARE(raw.scalar(QStringLiteral("PRAGMA journal_mode")).toString(),
                 QStringLiteral("wal"));
    }

    void upgradesFromVersionOne()
    {
        // A file at schema version 1 with data in it, written the way that
        // version's code wrote it.
        m_store.reset();
        QFile::remove(dbPath());
        SqliteStore::Options v1Only;
        v1Only.migrateUpTo = 1;
        reopen(v1Only);
        QCOMPARE(m_store->schemaVersion(), 1);
        m_store->close();
        const QString direct = directConversationId(1, 2);
        {
            RawDb raw(dbPath());
            QVERIFY(raw.exec(QStringLiteral("INSERT INTO users (id, username, display_name, "
                                            "password_hash, created_ms) VALUES (1, 'alice', "
                                            "'Émile Alice', 'h', 1), (2, 'bob', 'Bob', 'h', 1)")));
            QVERIFY(raw.exec(QStringLiteral("INSERT INTO conversations (id, kind, max_seq, "
                                            "last_activity_ms, created_ms) VALUES (?, 1, 1, 5, 5)"),
                             {direct}));
            QVERIFY(raw.exec(QStringLiteral("INSERT INTO members (conversation_id, user_id, role, "
                                            "joined_ms, joined_seq, read_seq) VALUES (?, 1, 1, 5, "
                                            "1, 1), (?, 2, 1, 5, 1, 0)"),
                             {direct, direct}));
            const std::string content = text(QStringLiteral("from v1")).SerializeAsString();
            QVERIFY(
                raw.exec(QStringLiteral("INSERT INTO messages (server_id, conversation_id, seq, "
                                        "sender_user_id, sender_device_id, client_msg_id, "
                                        "server_time_ms, content) VALUES (7, ?, 1, 1, 1, 'c1', "
                                        "5, ?)"),
                         {direct, QByteArray::fromStdString(content)}));
            QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM sqlite_master WHERE name = "
                                               "'members_by_user'"))
                         .toInt(),
                     0);
        }

        reopen();
        QCOMPARE(m_store->schemaVersion(), SqliteStore::latestSchemaVersion());
        QCOMPARE(m_store->userByName(QStringLiteral("alice"))->id, 1u);
        QCOMPARE(m_store->conversation(direct, 2)->unread_count(), 1u);
        QCOMPARE(m_store->conversation(direct, 2)->last_message().content().text().body(),
                 "from v1");
        // The backfilled search key finds names by any case of any letter.
        QCOMPARE(m_store->searchUsers(QStringLiteral("ÉMILE"), 5)->size(), 1);
        // The writer picked up where the old file left off.
        const auto next = send(direct, 2, QStringLiteral("m2"));
        QVERIFY(next.ok());
        QCOMPARE(next->message.seq(), 2u);
        QCOMPARE(next->message.server_id(), 8u);
        const auto resend = wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(AppendRequest{direct, 1, 1, "c1", text(QStringLiteral("x")), {}},
                                   ctx, done);
        });
        QVERIFY(resend.ok() && resend->duplicate);
        QCOMPARE(resend->message.server_id(), 7u);
        m_store->close();
        RawDb raw(dbPath());
        QCOMPARE(raw.scalar(QStringLiteral("PRAGMA user_version")).toInt(),
                 SqliteStore::latestSchemaVersion());
        QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM sqlite_master WHERE name = "
                                           "'members_by_user'"))
                     .toInt(),
                 1);
    }

    void refusesNewerSchema()
    {
        m_store->close();
        {
            RawDb raw(dbPath());
            QVERIFY(raw.exec(QStringLiteral("PRAGMA user_version = %1")
                                 .arg(SqliteStore::latestSchemaVersion() + 1)));
        }
        SqliteStore newer(dbPath());
        const Status opened = newer.open();
        QVERIFY(!opened.ok());
        QVERIFY2(opened.error().message.contains(QStringLiteral("newer")),
                 qPrintable(opened.error().message));
        // A refused store takes no writes and answers no reads.
        QVERIFY(!newer.userById(1).ok());
    }

    // ---- the writer --------------------------------------------------------------------------

    void groupCommitBatchesQueuedWrites()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        reopenWithGate();
        const auto before = m_store->stats();

        // The first write is held at its COMMIT while the others queue up.
        constexpr int kWrites = 200;
        int done = 0;
        QObject receiver; // after what its completions use: it goes first, and they with it
        m_gate.close();
        for (int i = 0; i < kWrites; ++i) {
            AppendRequest request;
            request.conversationId = direct;
            request.senderUserId = alice.id;
            request.clientMsgId = QStringLiteral("b%1").arg(i).toStdString();
            request.content = text(QStringLiteral("batched"));
            m_store->appendMessage(request, &receiver, [&done](Result<AppendResult> r) {
                if (r.ok())
                    ++done;
            });
        }
        QVERIFY(m_gate.waitHeld(kWaitMs));
        m_gate.open();
        QTRY_COMPARE_WITH_TIMEOUT(done, kWrites, kWaitMs);
        const auto after = m_store->stats();
        QCOMPARE(after.writesCommitted - before.writesCommitted, quint64(kWrites));
        QVERIFY2(after.commits - before.commits < quint64(kWrites) / 2,
                 qPrintable(QStringLiteral("%1 commits").arg(after.commits - before.commits)));
        QVERIFY(after.maxBatch > 1);
        QCOMPARE(after.messagesStored - before.messagesStored, quint64(kWrites));
    }

    // The writer is held after its INSERTs, before COMMIT: no completion has
    // run, and neither another connection nor the store's own readers see the
    // rows. Once it commits, the acks come, with what the readers then see.
    void nothingIsAcknowledgedOrVisibleBeforeCommit()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, alice.id, QStringLiteral("first")).ok());
        reopenWithGate();

        QList<AppendResult> acked;
        std::optional<ReadResult> read;
        QObject receiver; // after what its completions use: it goes first, and they with it
        m_gate.close();
        for (const QString &id : {QStringLiteral("second"), QStringLiteral("third")}) {
            m_store->appendMessage(appendRequest(direct, alice.id, id), &receiver,
                                   [&acked](Result<AppendResult> r) {
                                       QVERIFY(r.ok());
                                       acked.append(*r);
                                   });
        }
        m_store->markRead(direct, bob.id, 3, &receiver, [&read](Result<ReadResult> r) {
            QVERIFY(r.ok());
            read = *r;
        });
        QVERIFY(m_gate.waitHeld(kWaitMs));
        // Whatever the writer handed to this thread before it stopped at its
        // COMMIT has been posted by now: run it.
        QCoreApplication::sendPostedEvents();
        QCOMPARE(acked.size(), 0);
        QVERIFY(!read);
        QCOMPARE(pullAllSeqs(direct), QList<quint64>{1});
        {
            RawDb other(dbPath());
            QVERIFY(other.ok());
            QCOMPARE(other.scalar(QStringLiteral("SELECT COUNT(*) FROM messages")).toInt(), 1);
            QCOMPARE(other
                         .scalar(QStringLiteral("SELECT max_seq FROM conversations WHERE id = ?"),
                                 {direct})
                         .toInt(),
                     1);
        }
        const auto view = m_store->conversation(direct, bob.id);
        QVERIFY(view.ok());
        QCOMPARE(view->read_seq(), 0u);

        m_gate.open();
        QTRY_COMPARE_WITH_TIMEOUT(acked.size(), 2, kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(read.has_value(), kWaitMs);
        QCOMPARE(acked.at(0).message.seq(), 2u);
        QCOMPARE(acked.at(1).message.seq(), 3u);
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2, 3}));
        QCOMPARE(read->readSeq, 3u);
    }

    // COMMIT only writes the log; the flusher syncs it. Held before the sync,
    // a committed batch is in the file (another connection reads it) but its
    // ack has not come and the store's own reads of messages wait: a client
    // must never be shown a seq that a power cut could take back and give to
    // another message. Once synced, the ack comes and the reads return it.
    void committedWritesWaitForTheSyncBeforeAnyoneIsTold()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, alice.id, QStringLiteral("first")).ok());
        reopenWithFlushGate();
        const quint64 flushesBefore = sqlite()->logFlushes();

        QList<AppendResult> acked;
        QObject receiver; // after what its completions use: it goes first, and they with it
        m_flushGate.close();
        m_store->appendMessage(appendRequest(direct, alice.id, QStringLiteral("second")), &receiver,
                               [&acked](Result<AppendResult> r) {
                                   QVERIFY(r.ok());
                                   acked.append(*r);
                               });
        QVERIFY(m_flushGate.waitHeld(kWaitMs));
        {
            RawDb other(dbPath());
            QVERIFY(other.ok());
            QCOMPARE(other.scalar(QStringLiteral("SELECT COUNT(*) FROM messages")).toInt(), 2);
        }
        // Reads from other threads, as the session loop's pool makes them.
        auto pulled =
            std::async(std::launch::async, [this, direct] { return pullAllSeqs(direct); });
        auto listed = std::async(std::launch::async, [this, bob] {
            const auto views = m_store->conversationsOf(bob.id, ConversationPage{});
            return views.ok() && views->size() == 1 ? views->first().max_seq() : quint64(0);
        });
        auto byClientId = std::async(std::launch::async, [this, alice] {
            const auto message = m_store->messageByClientId(alice.id, "second");
            return message.ok() && message->has_value() ? (*message)->seq() : quint64(0);
        });
        // Nothing told while held: the ack is not posted and the reads wait.
        QCoreApplication::sendPostedEvents();
        QCOMPARE(acked.size(), 0);
        QCOMPARE(pulled.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
        QCOMPARE(listed.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
        QCOMPARE(byClientId.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

        m_flushGate.open();
        QTRY_COMPARE_WITH_TIMEOUT(acked.size(), 1, kWaitMs);
        QCOMPARE(acked.at(0).message.seq(), 2u);
        QCOMPARE(pulled.get(), (QList<quint64>{1, 2}));
        QCOMPARE(listed.get(), 2u);
        QCOMPARE(byClientId.get(), 2u);
        QVERIFY(sqlite()->logFlushes() > flushesBefore);
    }

    // While the flusher syncs one batch, the writer keeps the next open and
    // takes the writes that arrive into it, committing once the flusher is
    // free: one commit per sync, not one per write. A job in it that fails
    // is undone alone (the batch runs again with savepoints); the rest commit.
    void writesArrivingDuringASyncShareTheNextCommit()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, alice.id, QStringLiteral("first")).ok());
        const auto device = wait<DeviceRecord>([&](QObject *ctx, Completion<DeviceRecord> done) {
            m_store->createDevice(alice.id, QStringLiteral("phone"), "token-1", ctx, done);
        });
        QVERIFY(device.ok());
        reopenWithFlushGate();

        QList<quint64> seqs;
        std::optional<Result<DeviceRecord>> clash;
        QObject receiver; // after what its completions use: it goes first, and they with it
        auto append = [&](const char *id) {
            m_store->appendMessage(appendRequest(direct, alice.id, QString::fromLatin1(id)),
                                   &receiver, [&seqs](Result<AppendResult> r) {
                                       QVERIFY(r.ok());
                                       seqs.append(r->message.seq());
                                   });
        };
        m_flushGate.close();
        append("a");
        QVERIFY(m_flushGate.waitHeld(kWaitMs)); // "a" committed, its sync held
        const auto before = m_store->stats();
        append("b");
        // The writer holds "b" in an open transaction (the write lock) while
        // the sync is held; without that it would have committed it alone.
        RawDb probe(dbPath(), 0);
        QVERIFY(probe.ok());
        QTRY_VERIFY_WITH_TIMEOUT(
            [&probe] {
                if (!probe.exec(QStringLiteral("BEGIN IMMEDIATE")))
                    return true;
                (void)probe.exec(QStringLiteral("ROLLBACK"));
                return false;
            }(),
            kWaitMs);
        append("c");
        append("d");
        m_store->createDevice(alice.id, QStringLiteral("again"), "token-1", &receiver,
                              [&clash](Result<DeviceRecord> r) { clash.emplace(std::move(r)); });
        QCoreApplication::sendPostedEvents();
        QCOMPARE(seqs.size(), 0);

        m_flushGate.open();
        QTRY_COMPARE_WITH_TIMEOUT(seqs.size(), 4, kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(clash.has_value(), kWaitMs);
        QVERIFY(!clash->ok());
        QCOMPARE(seqs, (QList<quint64>{2, 3, 4, 5}));
        QCOMPARE(m_store->stats().commits - before.commits, quint64(1));
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2, 3, 4, 5}));
    }

    void failingWriteDoesNotRollBackItsBatch()
    {
        const auto [alice, bob, carol, direct, team] = threeUsersAndTwoChats();
        QVERIFY(!team.isEmpty());
        const auto device = wait<DeviceRecord>([&](QObject *ctx, Completion<DeviceRecord> done) {
            m_store->createDevice(alice.id, QStringLiteral("phone"), "token-1", ctx, done);
        });
        QVERIFY(device.ok());

        std::optional<Result<AppendResult>> first, badReply, nonMember, last;
        std::optional<Result<DeviceRecord>> clash;
        QObject receiver; // after what its completions use: it goes first, and they with it
        reopenWithGate();
        {
            // A write of its own is held at its COMMIT while the ones below
            // queue up; they then go as the next batch, together.
            m_gate.close();
            m_store->touchDevice(0, 0);
            QVERIFY(m_gate.waitHeld(kWaitMs));
            m_store->appendMessage(appendRequest(direct, alice.id, QStringLiteral("ok-1")),
                                   &receiver, [&](Result<AppendResult> r) { first.emplace(r); });
            m_store->appendMessage(appendRequest(direct, alice.id, QStringLiteral("bad-reply"), 7),
                                   &receiver, [&](Result<AppendResult> r) { badReply.emplace(r); });
            // Writes the message row, then fails the membership check: rolled back alone.
            m_store->appendMessage(appendRequest(team, carol.id, QStringLiteral("intruder")),
                                   &receiver,
                                   [&](Result<AppendResult> r) { nonMember.emplace(r); });
            // A unique-key clash inside SQLite.
            m_store->createDevice(bob.id, QStringLiteral("copy"), "token-1", &receiver,
                                  [&](Result<DeviceRecord> r) { clash.emplace(r); });
            m_store->appendMessage(appendRequest(team, bob.id, QStringLiteral("ok-2")), &receiver,
                                   [&](Result<AppendResult> r) { last.emplace(r); });
            m_gate.open();
        }
        QTRY_VERIFY_WITH_TIMEOUT(first && badReply && nonMember && clash && last, kWaitMs);
        QVERIFY(first->ok());
        QCOMPARE((*first)->message.seq(), 1u);
        QVERIFY(!badReply->ok());
        QCOMPARE(badReply->error().code, v1::INVALID_ARGUMENT);
        QVERIFY(!nonMember->ok());
        QCOMPARE(nonMember->error().code, v1::NOT_FOUND);
        QVERIFY(!clash->ok());
        QVERIFY(last->ok());
        QCOMPARE((*last)->message.seq(), 2u);    // the intruder's seq 2 was rolled back
        QVERIFY(m_store->stats().maxBatch >= 5); // the five writes, one batch

        reopen();
        QCOMPARE(pullAllSeqs(direct), QList<quint64>{1});
        QCOMPARE(pullAllSeqs(team), (QList<quint64>{1, 2}));
        QVERIFY(!m_store->messageByClientId(carol.id, "intruder")->has_value());
        QCOMPARE(m_store->devicesOfUser(bob.id)->size(), 0);
        const auto next = send(team, alice.id, QStringLiteral("after"));
        QVERIFY(next.ok());
        QCOMPARE(next->message.seq(), 3u);
    }

    // In one batch, appends write a conversation's max_seq and the sender's
    // marker once at the end; a mark-read and a group change between them see
    // the rows as they stand, and what is committed matches the messages.
    void batchedAppendsLeaveTheRowsExact()
    {
        const auto [alice, bob, carol, direct, team] = threeUsersAndTwoChats();
        QVERIFY(!team.isEmpty());
        std::vector<std::optional<Result<AppendResult>>> sends(12);
        std::optional<Result<ReadResult>> bobRead, aliceRead;
        std::optional<Result<GroupChange>> added;
        int next = 0;
        QObject receiver; // after what its completions use: it goes first, and they with it
        auto append = [&](const QString &conversation, quint64 sender) {
            const int i = next++;
            m_store->appendMessage(
                appendRequest(conversation, sender, QStringLiteral("m%1").arg(i)), &receiver,
                [&sends, i](Result<AppendResult> r) { sends[i].emplace(r); });
        };
        reopenWithGate();
        {
            // The writer takes this one alone and is held at its COMMIT, so
            // everything below is queued into the next batch, together.
            m_gate.close();
            m_store->touchDevice(0, 0);
            QVERIFY(m_gate.waitHeld(kWaitMs));
            for (int i = 0; i < 4; ++i) // direct seqs 1-4
                append(direct, alice.id);
            // Reads bob's marker and max_seq after alice's four sends, and
            // alice's own marker, which her sends moved to 4.
            m_store->markRead(direct, bob.id, 3, &receiver,
                              [&](Result<ReadResult> r) { bobRead.emplace(r); });
            m_store->markRead(direct, alice.id, 2, &receiver,
                              [&](Result<ReadResult> r) { aliceRead.emplace(r); });
            append(direct, bob.id);   // direct seq 5
            append(direct, alice.id); // direct seq 6
            append(team, bob.id);     // team seq 2 (1 is the creation event)
            m_store->addMembers(team, alice.id, {carol.id}, &receiver,
                                [&](Result<GroupChange> r) { added.emplace(r); });
            append(team, carol.id); // team seq 4, after the join event (3)
            append(team, alice.id); // team seq 5
            append(direct, bob.id); // direct seq 7
            append(team, carol.id); // team seq 6
            m_gate.open();
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(sends.begin(), sends.begin() + next, [](const auto &r) { return r; }) &&
                bobRead && aliceRead && added,
            kWaitMs);
        QVERIFY(m_store->stats().maxBatch >= 14); // the fourteen writes, one batch
        const QList<quint64> seqs = {1, 2, 3, 4, 5, 6, 2, 4, 5, 7, 6};
        for (int i = 0; i < next; ++i) {
            QVERIFY2(sends[size_t(i)]->ok(), qPrintable(QString::number(i)));
            QCOMPARE((*sends[size_t(i)])->message.seq(), seqs[i]);
        }
        QVERIFY(bobRead->ok());
        QCOMPARE((*bobRead)->readSeq, 3u);
        QCOMPARE((*bobRead)->unreadCount, 1u);
        QVERIFY(aliceRead->ok());
        QVERIFY(!(*aliceRead)->moved);
        QCOMPARE((*aliceRead)->readSeq, 4u);
        QVERIFY(added->ok());
        QCOMPARE((*added)->event.seq(), 3u);

        const auto aliceDirect = m_store->conversation(direct, alice.id);
        QCOMPARE(aliceDirect->max_seq(), 7u);
        QCOMPARE(aliceDirect->last_message().seq(), 7u);
        QCOMPARE(aliceDirect->read_seq(), 6u);
        QCOMPARE(aliceDirect->unread_count(), 1u);
        QCOMPARE(aliceDirect->peer_read_seq(), 7u);
        const auto carolTeam = m_store->conversation(team, carol.id);
        QCOMPARE(carolTeam->max_seq(), 6u);
        QCOMPARE(carolTeam->read_seq(), 6u);
        QCOMPARE(m_store->conversation(team, alice.id)->read_seq(), 5u);
        QCOMPARE(m_store->conversation(team, bob.id)->read_seq(), 2u);
        QCOMPARE(m_store->conversation(team, bob.id)->unread_count(), 4u);

        // What a restart loads agrees: the next sends continue the seqs.
        reopen();
        QCOMPARE(send(direct, alice.id, QStringLiteral("after-1"))->message.seq(), 8u);
        QCOMPARE(send(team, bob.id, QStringLiteral("after-2"))->message.seq(), 7u);
    }

    // Enough writes to fill the WAL several times over: the checkpointer
    // thread copies it into the database beside the writer, the log is
    // started over instead of growing, and every message is there afterwards.
    void checkpointsRunBesideTheWriter()
    {
        SqliteStore::Options options;
        options.checkpointFrames = 250;
        reopen(options);
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const QString body(2000, u'x'); // about half a page per message
        constexpr int kMessages = 6000;
        int acked = 0;
        QObject receiver; // after what its completions use: it goes first, and they with it
        for (int i = 0; i < kMessages; ++i) {
            AppendRequest r = appendRequest(direct, alice.id, QStringLiteral("c%1").arg(i));
            r.content.mutable_text()->set_body(body.toStdString());
            m_store->appendMessage(r, &receiver, [&acked](Result<AppendResult> result) {
                if (result)
                    ++acked;
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(acked, kMessages, kWaitMs);
        QVERIFY(sqlite()->backgroundCheckpoints() > 0);
        QVERIFY(sqlite()->backgroundSyncs() > 0);
        // 6,000 half pages are some 3,000 frames or more; started over, the
        // log holds far fewer than it would have without checkpoints.
        const qint64 walBytes = QFileInfo(dbPath() + QStringLiteral("-wal")).size();
        QVERIFY2(walBytes < qint64(kMessages) * 2048, qPrintable(QString::number(walBytes)));
        QCOMPARE(pullAllSeqs(direct).size(), kMessages);
        reopen(options);
        QCOMPARE(pullAllSeqs(direct).size(), kMessages);
        QCOMPARE(m_store->conversation(direct, alice.id)->max_seq(), quint64(kMessages));
    }

    // After a copy the checkpointer waits for the file's write-back a slice at
    // a time: 256 KiB slices in a small file, and never more than 32 waits in
    // a big one (a copy's pages lie all over it, a few to each 256 KiB).
    void writeBackTakesAtMost32SlicesOfWholePages()
    {
        constexpr qint64 kMiB = 1024 * 1024;
        QCOMPARE(SqliteStore::writeBackSliceBytes(0), 256 * 1024);
        QCOMPARE(SqliteStore::writeBackSliceBytes(5 * kMiB), 256 * 1024);
        QCOMPARE(SqliteStore::writeBackSliceBytes(150 * kMiB), 150 * kMiB / 32);
        for (const qint64 bytes : {qint64(8 * kMiB), 8 * kMiB + 1, 32 * kMiB * 4096 + 1,
                                   150 * kMiB - 4095, 10 * 1024 * kMiB + 7}) {
            const qint64 slice = SqliteStore::writeBackSliceBytes(bytes);
            QCOMPARE(slice % 4096, 0);
            QVERIFY(slice >= 256 * 1024);
            QVERIFY2((bytes + slice - 1) / slice <= 32, qPrintable(QString::number(bytes)));
        }
    }

    // An admin command opens the same file while kithd runs: each writer picks
    // up the other's commits before its next batch.
    void twoStoresOnOneFileKeepCountersInStep()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, alice.id, QStringLiteral("a1")).ok());
        const auto first = group(alice.id, QStringLiteral("one"), {});
        QVERIFY(first.ok());

        SqliteStore other(dbPath());
        QVERIFY(other.open().ok());
        std::optional<Result<GroupChange>> otherGroup;
        std::optional<Result<AppendResult>> otherSend;
        QObject receiver; // after what its completions use: it goes first, and they with it
        other.createGroup(bob.id, QStringLiteral("two"), {}, &receiver,
                          [&](Result<GroupChange> r) { otherGroup.emplace(r); });
        other.appendMessage(AppendRequest{direct, bob.id, 9, "b1", text(QStringLiteral("b1")), {}},
                            &receiver, [&](Result<AppendResult> r) { otherSend.emplace(r); });
        QTRY_VERIFY_WITH_TIMEOUT(otherGroup && otherSend, kWaitMs);
        QVERIFY(otherGroup->ok() && otherSend->ok());
        QCOMPARE((*otherSend)->message.seq(), 2u);
        other.close();

        const auto third = group(alice.id, QStringLiteral("three"), {});
        QVERIFY2(third.ok(), qPrintable(third.ok() ? QString() : third.error().message));
        const auto ids = QSet<QString>{QString::fromStdString(first->state.id()),
                                       QString::fromStdString((*otherGroup)->state.id()),
                                       QString::fromStdString(third->state.id())};
        QCOMPARE(ids.size(), 3);
        const auto next = send(direct, alice.id, QStringLiteral("a2"));
        QVERIFY(next.ok());
        QCOMPARE(next->message.seq(), 3u);
        QVERIFY(next->message.server_id() > (*otherSend)->message.server_id());
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2, 3}));
    }

    // ---- connections -------------------------------------------------------------------------

    void readConnectionsCloseWithTheirThread()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        QCOMPARE(sqlite()->openReadConnections(), 0);
        std::atomic<int> good{0};
        for (int round = 0; round < 5; ++round) {
            std::unique_ptr<QThread> reader(QThread::create([&] {
                if (m_store->userById(alice.id).ok())
                    ++good;
            }));
            reader->start();
            QVERIFY(reader->wait(kWaitMs));
        }
        QCOMPARE(good.load(), 5);
        // Each closes as its thread ends (thread-local cleanup may run just after wait()).
        QTRY_COMPARE_WITH_TIMEOUT(sqlite()->openReadConnections(), 0, kWaitMs);
        QVERIFY(m_store->userById(alice.id).ok());
        QCOMPARE(sqlite()->openReadConnections(), 1);
        m_store->close();
        QCOMPARE(sqlite()->openReadConnections(), 0);
    }

    // ---- deletion for everyone ---------------------------------------------------------------

    // The database file and its log, as bytes.
    QByteArray fileBytes() const
    {
        QByteArray all;
        for (const QString &suffix : {QString(), QStringLiteral("-wal")}) {
            QFile file(dbPath() + suffix);
            if (file.open(QIODevice::ReadOnly))
                all += file.readAll();
        }
        return all;
    }

    void deletedTextIsGoneFromTheFiles()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        // One short text (in its page) and one long one (on overflow pages).
        const QString shortText = QStringLiteral("short-secret-4f9c1e");
        const QString longSecret = QStringLiteral("long-secret-8b2d77 ");
        const QString longText = longSecret.repeated(600);
        const QString edited = QStringLiteral("edited-secret-31aa5c");
        QVERIFY(send(direct, alice.id, QStringLiteral("m1"), shortText).ok());
        QVERIFY(send(direct, alice.id, QStringLiteral("m2"), longText).ok());
        QVERIFY(send(direct, bob.id, QStringLiteral("m3"), QStringLiteral("kept-text-77")).ok());
        QVERIFY(operate(direct, alice.id, QStringLiteral("e1"), editOf(1, edited)).ok());
        // Spread over the file and its log so far: the check below can fail.
        const QByteArray before = fileBytes();
        QVERIFY(before.contains(shortText.toUtf8()));
        QVERIFY(before.contains(longSecret.toUtf8()));
        QVERIFY(before.contains(edited.toUtf8()));

        QVERIFY(operate(direct, alice.id, QStringLiteral("d1"), deletionOf(1)).ok());
        QVERIFY(operate(direct, alice.id, QStringLiteral("d2"), deletionOf(2)).ok());
        const QByteArray after = fileBytes();
        QVERIFY(!after.contains(shortText.toUtf8()));
        QVERIFY(!after.contains(longSecret.toUtf8()));
        QVERIFY(!after.contains(edited.toUtf8()));
        QVERIFY(after.contains(QByteArrayLiteral("kept-text-77")));
        // And after a reopen, nothing came back from anywhere.
        m_store->close();
        reopen();
        QCOMPARE(messageAt(direct, 1).content().kind_case(), v1::Content::kDeleted);
        const QByteArray reopened = fileBytes();
        QVERIFY(!reopened.contains(shortText.toUtf8()));
        QVERIFY(!reopened.contains(edited.toUtf8()));
    }

    void closeFoldsTheLogIntoTheDatabase()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, bob.id, QStringLiteral("fold")).ok());
        // A read connection is open on this thread when the store closes.
        QVERIFY(m_store->userById(alice.id).ok());
        QCOMPARE(sqlite()->openReadConnections(), 1);
        const QString log = dbPath() + QStringLiteral("-wal");
        QVERIFY(QFile::exists(log));
        m_store->close();
        QVERIFY2(!QFile::exists(log), "the write-ahead log outlived the store");
        reopen();
        QCOMPARE(pullAllSeqs(direct), QList<quint64>{1});
    }
};

QTEST_GUILESS_MAIN(TestSqliteStore)
#include "tst_sqlite_store.moc"
