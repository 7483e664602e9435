// SqliteStore against real SQLite files: seq assignment, idempotency, group
// commit, migrations, paging, read state, membership, groups, users, devices.
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "sqlite_store.h"

#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace kith;
using namespace kith::server;

namespace {

constexpr int kWaitMs = 30000; // generous: the box is shared and fsync may be slow

v1::Content text(const QString &body, quint64 replyTo = 0)
{
    v1::Content content;
    content.mutable_text()->set_body(body.toStdString());
    content.set_reply_to_seq(replyTo);
    return content;
}

// A second connection to the store's file, as another process (an admin
// command, a test fixture) would have; named per use and removed afterwards.
class RawDb
{
public:
    explicit RawDb(const QString &path)
        : m_name(QStringLiteral("raw-%1").arg(++s_serial))
    {
        auto db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=10000"));
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

class TestSqliteStore : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SqliteStore> m_store;

    QString dbPath() const { return m_dir->filePath(QStringLiteral("kith.db")); }

    void reopen(SqliteStore::Options options = {})
    {
        m_store.reset();
        m_store = std::make_unique<SqliteStore>(dbPath(), options);
        const Status opened = m_store->open();
        QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : opened.error().message));
    }

    // Runs one asynchronous write and waits for its completion.
    template<class T, class Call> Result<T> wait(Call call)
    {
        std::optional<Result<T>> out;
        call(this, [&out](Result<T> r) { out.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&out] { return out.has_value(); }, kWaitMs))
            return makeError(v1::INTERNAL, QStringLiteral("no completion"));
        return std::move(*out);
    }

    UserRecord addUser(const QString &name, const QString &display = {})
    {
        auto r = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->createUser(name, display, "hash", ctx, done);
        });
        if (!r.ok())
            qWarning() << "createUser failed" << r.error().message;
        return r.ok() ? *r : UserRecord{};
    }

    Result<AppendResult> send(const QString &conversation, quint64 sender, const QString &clientId,
                              const QString &body = QStringLiteral("hi"), quint64 replyTo = 0)
    {
        AppendRequest request;
        request.conversationId = conversation;
        request.senderUserId = sender;
        request.senderDeviceId = 1;
        request.clientMsgId = clientId.toStdString();
        request.content = text(body, replyTo);
        return wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
    }

    static AppendRequest appendRequest(const QString &conversation, quint64 sender,
                                       const QString &clientId, quint64 replyTo = 0)
    {
        AppendRequest r;
        r.conversationId = conversation;
        r.senderUserId = sender;
        r.clientMsgId = clientId.toStdString();
        r.content = text(clientId, replyTo);
        return r;
    }

    // alice, bob and carol; alice and bob's direct chat (no messages yet) and
    // a group of alice (owner) and bob.
    struct ThreeUsers
    {
        UserRecord alice, bob, carol;
        QString direct, team;
    };
    ThreeUsers threeUsersAndTwoChats()
    {
        ThreeUsers t{addUser(QStringLiteral("alice")),
                     addUser(QStringLiteral("bob")),
                     addUser(QStringLiteral("carol")),
                     {},
                     {}};
        t.direct = directConversationId(t.alice.id, t.bob.id);
        const auto created = group(t.alice.id, QStringLiteral("team"), {t.bob.id});
        if (created.ok())
            t.team = QString::fromStdString(created->state.id());
        return t;
    }

    Result<GroupChange> group(quint64 owner, const QString &name, const QList<quint64> &members)
    {
        return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->createGroup(owner, name, members, ctx, done);
        });
    }

    Result<ReadResult> markRead(const QString &conversation, quint64 user, quint64 seq)
    {
        return wait<ReadResult>([&](QObject *ctx, Completion<ReadResult> done) {
            m_store->markRead(conversation, user, seq, ctx, done);
        });
    }

    QList<quint64> pullAllSeqs(const QString &conversation)
    {
        QList<quint64> seqs;
        PullQuery query;
        query.conversationId = conversation;
        query.limit = kMaxPullLimit;
        for (;;) {
            const auto page = m_store->pull(query);
            if (!page.ok())
                return {};
            for (const v1::Message &m : page->messages)
                seqs.append(m.seq());
            if (!page->hasMore || page->messages.isEmpty())
                return seqs;
            query.fromSeq = page->messages.last().seq() + 1;
        }
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
        m_store.reset();
        m_dir.reset();
    }

    // ---- migrations ----------------------------------------------------------------

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
            m_store->appendMessage(AppendRequest{direct, 1, 1, "c1", text(QStringLiteral("x"))},
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

    // ---- messages --------------------------------------------------------------------

    void seqsAreContiguousUnderConcurrentWriters()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const auto created = group(alice.id, QStringLiteral("team"), {bob.id});
        QVERIFY(created.ok());
        const QString team = QString::fromStdString(created->state.id());

        constexpr int kThreads = 4;
        constexpr int kPerThread = 150;
        QList<AppendResult> results;
        int failures = 0;
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    AppendRequest request;
                    request.conversationId = (i % 2) ? direct : team;
                    request.senderUserId = (t % 2) ? alice.id : bob.id;
                    request.senderDeviceId = quint64(t + 1);
                    request.clientMsgId = QStringLiteral("t%1-%2").arg(t).arg(i).toStdString();
                    request.content = text(QStringLiteral("message %1 from %2").arg(i).arg(t));
                    m_store->appendMessage(request, this, [&](Result<AppendResult> r) {
                        if (r.ok())
                            results.append(*r);
                        else
                            ++failures;
                    });
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        QTRY_COMPARE_WITH_TIMEOUT(results.size() + failures, kThreads * kPerThread, kWaitMs);
        QCOMPARE(failures, 0);

        std::set<quint64> serverIds;
        QMap<QString, std::set<quint64>> seqs;
        for (const AppendResult &r : results) {
            QVERIFY(!r.duplicate);
            serverIds.insert(r.message.server_id());
            seqs[QString::fromStdString(r.message.conversation_id())].insert(r.message.seq());
        }
        QCOMPARE(int(serverIds.size()), kThreads * kPerThread);
        const int directCount = kThreads * kPerThread / 2;
        const int teamCount = kThreads * kPerThread / 2 + 1; // plus GROUP_CREATED at seq 1
        QCOMPARE(int(seqs[direct].size()), directCount);
        QCOMPARE(*seqs[direct].begin(), 1u);
        QCOMPARE(*seqs[direct].rbegin(), quint64(directCount));
        QCOMPARE(int(seqs[team].size()), teamCount - 1);
        QCOMPARE(*seqs[team].begin(), 2u);
        QCOMPARE(*seqs[team].rbegin(), quint64(teamCount));

        // Storage agrees: every seq once, in order, nothing else.
        QList<quint64> expected;
        for (int s = 1; s <= directCount; ++s)
            expected.append(quint64(s));
        QCOMPARE(pullAllSeqs(direct), expected);
        expected.append(quint64(teamCount));
        QCOMPARE(pullAllSeqs(team), expected);
        QCOMPARE(m_store->conversation(team, bob.id)->max_seq(), quint64(teamCount));
        QVERIFY(m_store->stats().messagesStored >= quint64(kThreads * kPerThread));
    }

    void groupCommitBatchesQueuedWrites()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const auto before = m_store->stats();

        // Hold the write lock from another connection so the writes pile up.
        constexpr int kWrites = 200;
        int done = 0;
        {
            RawDb blocker(dbPath());
            QVERIFY(blocker.exec(QStringLiteral("BEGIN IMMEDIATE")));
            for (int i = 0; i < kWrites; ++i) {
                AppendRequest request;
                request.conversationId = direct;
                request.senderUserId = alice.id;
                request.clientMsgId = QStringLiteral("b%1").arg(i).toStdString();
                request.content = text(QStringLiteral("batched"));
                m_store->appendMessage(request, this, [&done](Result<AppendResult> r) {
                    if (r.ok())
                        ++done;
                });
            }
            QTest::qWait(200);
            QCOMPARE(done, 0); // nothing is acknowledged before it is committed
            QVERIFY(blocker.exec(QStringLiteral("ROLLBACK")));
        }
        QTRY_COMPARE_WITH_TIMEOUT(done, kWrites, kWaitMs);
        const auto after = m_store->stats();
        QCOMPARE(after.writesCommitted - before.writesCommitted, quint64(kWrites));
        QVERIFY2(after.commits - before.commits < quint64(kWrites) / 2,
                 qPrintable(QStringLiteral("%1 commits").arg(after.commits - before.commits)));
        QVERIFY(after.maxBatch > 1);
        QCOMPARE(after.messagesStored - before.messagesStored, quint64(kWrites));
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
        {
            RawDb blocker(dbPath());
            QVERIFY(blocker.exec(QStringLiteral("BEGIN IMMEDIATE")));
            m_store->appendMessage(appendRequest(direct, alice.id, QStringLiteral("ok-1")), this,
                                   [&](Result<AppendResult> r) { first.emplace(r); });
            m_store->appendMessage(appendRequest(direct, alice.id, QStringLiteral("bad-reply"), 7),
                                   this, [&](Result<AppendResult> r) { badReply.emplace(r); });
            // Writes the message row, then fails the membership check: rolled back alone.
            m_store->appendMessage(appendRequest(team, carol.id, QStringLiteral("intruder")), this,
                                   [&](Result<AppendResult> r) { nonMember.emplace(r); });
            // A unique-key clash inside SQLite.
            m_store->createDevice(bob.id, QStringLiteral("copy"), "token-1", this,
                                  [&](Result<DeviceRecord> r) { clash.emplace(r); });
            m_store->appendMessage(appendRequest(team, bob.id, QStringLiteral("ok-2")), this,
                                   [&](Result<AppendResult> r) { last.emplace(r); });
            QTest::qWait(100);
            QVERIFY(blocker.exec(QStringLiteral("ROLLBACK")));
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
        QVERIFY(m_store->stats().maxBatch >= 3); // five writes, at most two batches

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
        auto append = [&](const QString &conversation, quint64 sender) {
            const int i = next++;
            m_store->appendMessage(
                appendRequest(conversation, sender, QStringLiteral("m%1").arg(i)), this,
                [&sends, i](Result<AppendResult> r) { sends[i].emplace(r); });
        };
        {
            RawDb blocker(dbPath());
            QVERIFY(blocker.exec(QStringLiteral("BEGIN IMMEDIATE")));
            // The writer takes this one alone and waits for the lock with it,
            // so everything below is normally queued into the next batch
            // together; in any case the 15 writes form at most two batches.
            m_store->touchDevice(0, 0);
            QTest::qWait(50);
            for (int i = 0; i < 4; ++i) // direct seqs 1-4
                append(direct, alice.id);
            // Reads bob's marker and max_seq after alice's four sends, and
            // alice's own marker, which her sends moved to 4.
            m_store->markRead(direct, bob.id, 3, this,
                              [&](Result<ReadResult> r) { bobRead.emplace(r); });
            m_store->markRead(direct, alice.id, 2, this,
                              [&](Result<ReadResult> r) { aliceRead.emplace(r); });
            append(direct, bob.id);   // direct seq 5
            append(direct, alice.id); // direct seq 6
            append(team, bob.id);     // team seq 2 (1 is the creation event)
            m_store->addMembers(team, alice.id, {carol.id}, this,
                                [&](Result<GroupChange> r) { added.emplace(r); });
            append(team, carol.id); // team seq 4, after the join event (3)
            append(team, alice.id); // team seq 5
            append(direct, bob.id); // direct seq 7
            append(team, carol.id); // team seq 6
            QTest::qWait(100);
            QVERIFY(blocker.exec(QStringLiteral("ROLLBACK")));
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(sends.begin(), sends.begin() + next, [](const auto &r) { return r; }) &&
                bobRead && aliceRead && added,
            kWaitMs);
        QVERIFY(m_store->stats().maxBatch >= 8);
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
        for (int i = 0; i < kMessages; ++i) {
            AppendRequest r = appendRequest(direct, alice.id, QStringLiteral("c%1").arg(i));
            r.content.mutable_text()->set_body(body.toStdString());
            m_store->appendMessage(r, this, [&acked](Result<AppendResult> result) {
                if (result)
                    ++acked;
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(acked, kMessages, kWaitMs);
        QVERIFY(m_store->backgroundCheckpoints() > 0);
        QVERIFY(m_store->backgroundSyncs() > 0);
        // 6,000 half pages are some 3,000 frames or more; started over, the
        // log holds far fewer than it would have without checkpoints.
        const qint64 walBytes = QFileInfo(dbPath() + QStringLiteral("-wal")).size();
        QVERIFY2(walBytes < qint64(kMessages) * 2048, qPrintable(QString::number(walBytes)));
        QCOMPARE(pullAllSeqs(direct).size(), kMessages);
        reopen(options);
        QCOMPARE(pullAllSeqs(direct).size(), kMessages);
        QCOMPARE(m_store->conversation(direct, alice.id)->max_seq(), quint64(kMessages));
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
        other.createGroup(bob.id, QStringLiteral("two"), {}, this,
                          [&](Result<GroupChange> r) { otherGroup.emplace(r); });
        std::optional<Result<AppendResult>> otherSend;
        other.appendMessage(AppendRequest{direct, bob.id, 9, "b1", text(QStringLiteral("b1"))},
                            this, [&](Result<AppendResult> r) { otherSend.emplace(r); });
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

    void resendIsIdempotentAcrossRestart()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, bob.id, QStringLiteral("before")).ok());

        QList<AppendResult> results;
        int failures = 0;
        AppendRequest request;
        request.conversationId = direct;
        request.senderUserId = alice.id;
        request.senderDeviceId = 3;
        request.clientMsgId = "6f1c2a4e-0000-4000-8000-000000000001";
        request.content = text(QStringLiteral("only once"));
        for (int i = 0; i < 50; ++i)
            m_store->appendMessage(request, this, [&](Result<AppendResult> r) {
                if (r.ok())
                    results.append(*r);
                else
                    ++failures;
            });
        QTRY_COMPARE_WITH_TIMEOUT(results.size() + failures, 50, kWaitMs);
        QCOMPARE(failures, 0);
        const v1::Message original = results.first().message;
        QVERIFY(!results.first().duplicate);
        QCOMPARE(original.seq(), 2u);
        for (int i = 1; i < results.size(); ++i) {
            QVERIFY(results.at(i).duplicate);
            QCOMPARE(results.at(i).message.seq(), original.seq());
            QCOMPARE(results.at(i).message.server_id(), original.server_id());
            QCOMPARE(results.at(i).message.server_time_ms(), original.server_time_ms());
        }
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));

        reopen();
        const auto again = wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
        QVERIFY(again.ok());
        QVERIFY(again->duplicate);
        QCOMPARE(again->message.seq(), original.seq());
        QCOMPARE(again->message.server_id(), original.server_id());
        QCOMPARE(again->message.content().text().body(), "only once");
        const auto stored = m_store->messageByClientId(alice.id, request.clientMsgId);
        QVERIFY(stored.ok() && stored->has_value());
        QCOMPARE((*stored)->server_id(), original.server_id());
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));
        // The same client id from another sender is another message.
        request.senderUserId = bob.id;
        const auto other = wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
        QVERIFY(other.ok());
        QVERIFY(!other->duplicate);
        QCOMPARE(other->message.seq(), 3u);
        QVERIFY(other->message.server_id() > original.server_id());
    }

    void replyMustQuoteAnEarlierSeq()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const auto firstReply =
            send(direct, alice.id, QStringLiteral("r0"), QStringLiteral("x"), 1);
        QVERIFY(!firstReply.ok());
        QCOMPARE(firstReply.error().code, v1::INVALID_ARGUMENT);
        // The failed first message did not create the conversation.
        QCOMPARE(m_store->conversationsOf(alice.id)->size(), 0);
        QVERIFY(send(direct, alice.id, QStringLiteral("m1")).ok());
        const auto reply = send(direct, bob.id, QStringLiteral("m2"), QStringLiteral("re"), 1);
        QVERIFY(reply.ok());
        QCOMPARE(reply->message.content().reply_to_seq(), 1u);
        QCOMPARE(send(direct, bob.id, QStringLiteral("m3"), QStringLiteral("re"), 3).error().code,
                 v1::INVALID_ARGUMENT);
    }

    void pullPagesBothWays()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        for (int i = 1; i <= 25; ++i)
            m_store->appendMessage(AppendRequest{direct, alice.id, 1,
                                                 QStringLiteral("p%1").arg(i).toStdString(),
                                                 text(QString::number(i))},
                                   this, [](Result<AppendResult>) {});
        QVERIFY(send(direct, alice.id, QStringLiteral("flush")).ok()); // seq 26

        auto seqsOf = [](const PullPage &page) {
            QList<quint64> seqs;
            for (const v1::Message &m : page.messages)
                seqs.append(m.seq());
            return seqs;
        };
        PullQuery q;
        q.conversationId = direct;
        q.limit = 10;
        auto page = m_store->pull(q);
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
        QVERIFY(page->hasMore);
        QCOMPARE(page->maxSeq, 26u);
        QCOMPARE(page->messages.first().content().text().body(), "1");

        q.fromSeq = 21;
        page = m_store->pull(q);
        QCOMPARE(seqsOf(*page), (QList<quint64>{21, 22, 23, 24, 25, 26}));
        QVERIFY(!page->hasMore);

        q.fromSeq = 17;
        q.toSeq = 26;
        page = m_store->pull(q);
        QCOMPARE(seqsOf(*page), (QList<quint64>{17, 18, 19, 20, 21, 22, 23, 24, 25, 26}));
        QVERIFY(!page->hasMore); // exactly filled, nothing beyond
        q.toSeq = 19;
        page = m_store->pull(q);
        QCOMPARE(seqsOf(*page), (QList<quint64>{17, 18, 19}));
        QVERIFY(!page->hasMore);

        PullQuery back;
        back.conversationId = direct;
        back.backward = true;
        back.limit = 10;
        page = m_store->pull(back);
        QCOMPARE(seqsOf(*page), (QList<quint64>{26, 25, 24, 23, 22, 21, 20, 19, 18, 17}));
        QVERIFY(page->hasMore);
        back.beforeSeq = 6;
        page = m_store->pull(back);
        QCOMPARE(seqsOf(*page), (QList<quint64>{5, 4, 3, 2, 1}));
        QVERIFY(!page->hasMore);
        back.beforeSeq = 1;
        page = m_store->pull(back);
        QVERIFY(page->messages.isEmpty());
        QVERIFY(!page->hasMore);

        back.beforeSeq = 0;
        back.limit = 1;
        page = m_store->pull(back);
        QCOMPARE(seqsOf(*page), QList<quint64>{26});
        QVERIFY(page->hasMore);
        back.limit = 5000; // clamped to kMaxPullLimit
        page = m_store->pull(back);
        QCOMPARE(page->messages.size(), 26);

        PullQuery none;
        none.conversationId = QStringLiteral("g:999");
        page = m_store->pull(none);
        QVERIFY(page.ok());
        QVERIFY(page->messages.isEmpty());
        QCOMPARE(page->maxSeq, 0u);
    }

    void pullLimitIsCapped()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const int total = int(kMaxPullLimit) + 5;
        for (int i = 1; i < total; ++i)
            m_store->appendMessage(AppendRequest{direct, bob.id, 1,
                                                 QStringLiteral("c%1").arg(i).toStdString(),
                                                 text(QStringLiteral("x"))},
                                   this, [](Result<AppendResult>) {});
        QVERIFY(send(direct, bob.id, QStringLiteral("last")).ok());
        PullQuery q;
        q.conversationId = direct;
        q.limit = 100000;
        const auto page = m_store->pull(q);
        QCOMPARE(quint32(page->messages.size()), kMaxPullLimit);
        QVERIFY(page->hasMore);
        QCOMPARE(page->maxSeq, quint64(total));
    }

    // ---- read state and views -----------------------------------------------------------

    void readMarkersAndUnreadCounts()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord eve = addUser(QStringLiteral("eve"));
        const QString direct = directConversationId(alice.id, bob.id);
        for (int i = 0; i < 3; ++i)
            QVERIFY(send(direct, alice.id, QStringLiteral("a%1").arg(i)).ok());

        auto aliceView = m_store->conversation(direct, alice.id);
        QVERIFY(aliceView.ok());
        QCOMPARE(aliceView->kind(), v1::DIRECT);
        QCOMPARE(aliceView->read_seq(), 3u); // sending moves the sender's marker
        QCOMPARE(aliceView->unread_count(), 0u);
        QCOMPARE(aliceView->peer_user_id(), bob.id);
        QCOMPARE(aliceView->peer_read_seq(), 0u);
        QCOMPARE(aliceView->max_seq(), 3u);
        QCOMPARE(aliceView->last_message().seq(), 3u);
        QCOMPARE(aliceView->last_message().content().text().body(), "hi");
        QVERIFY(aliceView->last_activity_ms() > 0);
        auto bobView = m_store->conversation(direct, bob.id);
        QCOMPARE(bobView->unread_count(), 3u);
        QCOMPARE(bobView->peer_user_id(), alice.id);
        QCOMPARE(bobView->peer_read_seq(), 3u);

        auto moved = markRead(direct, bob.id, 2);
        QVERIFY(moved.ok());
        QVERIFY(moved->moved);
        QCOMPARE(moved->readSeq, 2u);
        QCOMPARE(moved->unreadCount, 1u);
        auto back = markRead(direct, bob.id, 1);
        QVERIFY(back.ok());
        QVERIFY(!back->moved);
        QCOMPARE(back->readSeq, 2u);
        auto beyond = markRead(direct, bob.id, 99);
        QCOMPARE(beyond->readSeq, 3u); // clamped to max seq
        QCOMPARE(beyond->unreadCount, 0u);
        QCOMPARE(m_store->conversation(direct, alice.id)->peer_read_seq(), 3u);

        QVERIFY(send(direct, bob.id, QStringLiteral("b1")).ok());
        QVERIFY(send(direct, alice.id, QStringLiteral("a4")).ok());
        QVERIFY(send(direct, bob.id, QStringLiteral("b2")).ok());
        QCOMPARE(m_store->conversation(direct, alice.id)->unread_count(), 1u);
        QCOMPARE(m_store->conversation(direct, bob.id)->unread_count(), 0u);
        QCOMPARE(m_store->conversation(direct, bob.id)->read_seq(), 6u);
        QCOMPARE(markRead(direct, alice.id, 3)->readSeq, 5u); // never moves back

        // Unread counts match a direct count of others' messages after the marker.
        {
            RawDb raw(dbPath());
            for (const UserRecord &u : {alice, bob}) {
                const auto view = m_store->conversation(direct, u.id);
                const quint64 counted =
                    raw.scalar(QStringLiteral("SELECT COUNT(*) FROM messages WHERE "
                                              "conversation_id = ? AND seq > ? AND "
                                              "sender_user_id <> ?"),
                               {direct, qint64(view->read_seq()), qint64(u.id)})
                        .toULongLong();
                QCOMPARE(view->unread_count(), counted);
            }
        }

        QCOMPARE(markRead(direct, eve.id, 1).error().code, v1::NOT_FOUND);
        QCOMPARE(markRead(QStringLiteral("g:77"), alice.id, 1).error().code, v1::NOT_FOUND);

        const auto list = m_store->conversationsOf(bob.id);
        QVERIFY(list.ok());
        QCOMPARE(list->size(), 1);
        QCOMPARE(list->first().id(), direct.toStdString());
        QCOMPARE(list->first().max_seq(), 6u);
        QCOMPARE(list->first().peer_user_id(), alice.id);
        QCOMPARE(list->first().peer_read_seq(), 5u);
        QCOMPARE(list->first().last_message().seq(), 6u);
    }

    void membershipAndNotFound()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord eve = addUser(QStringLiteral("eve"));
        const QString direct = directConversationId(alice.id, bob.id);

        // Before its first message a direct chat belongs to its pair, and is not listed.
        QVERIFY(m_store->membership(direct, alice.id)->has_value());
        QVERIFY(m_store->membership(direct, bob.id)->has_value());
        QVERIFY(!m_store->membership(direct, eve.id)->has_value());
        QVERIFY(!m_store->membership(directConversationId(alice.id, 9999), alice.id)->has_value());
        QVERIFY(!m_store->membership(QStringLiteral("nonsense"), alice.id)->has_value());
        QCOMPARE(m_store->conversationsOf(alice.id)->size(), 0);
        QCOMPARE(m_store->conversation(direct, alice.id).error().code, v1::NOT_FOUND);

        QCOMPARE(
            send(directConversationId(alice.id, 9999), alice.id, QStringLiteral("x")).error().code,
            v1::NOT_FOUND);
        QCOMPARE(send(direct, eve.id, QStringLiteral("x")).error().code, v1::NOT_FOUND);
        QVERIFY(send(direct, bob.id, QStringLiteral("first")).ok());
        QCOMPARE(m_store->conversationsOf(alice.id)->size(), 1);
        QCOMPARE(m_store->members(direct)->size(), 2);
        QCOMPARE(m_store->conversation(direct, eve.id).error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->conversationsOf(eve.id)->size(), 0);

        const auto created = group(alice.id, QStringLiteral("ab"), {bob.id});
        const QString team = QString::fromStdString(created->state.id());
        QCOMPARE(m_store->membership(team, alice.id)->value().role, v1::OWNER);
        QCOMPARE(m_store->membership(team, bob.id)->value().role, v1::MEMBER);
        QVERIFY(!m_store->membership(team, eve.id)->has_value());
        QCOMPARE(m_store->conversation(team, eve.id).error().code, v1::NOT_FOUND);
        QCOMPARE(send(QStringLiteral("g:424242"), alice.id, QStringLiteral("y")).error().code,
                 v1::NOT_FOUND);

        const auto contacts = m_store->contactsOf(alice.id);
        QCOMPARE(*contacts, QList<quint64>{bob.id});
        QCOMPARE(m_store->contactsOf(eve.id)->size(), 0);
    }

    void presenceAudienceLeavesOutLargeGroups()
    {
        // u[0] owns a group of exactly kPresenceGroupLimit members and one of
        // one more; only u[limit] is in the big one alone.
        const int limit = kPresenceGroupLimit;
        QList<UserRecord> u;
        for (int i = 0; i <= limit; ++i)
            u << addUser(QStringLiteral("member%1").arg(i));
        QList<quint64> exact, big;
        for (int i = 1; i <= limit; ++i) {
            if (i < limit)
                exact << u[i].id;
            big << u[i].id;
        }
        for (const auto &[name, members] :
             {std::pair{QStringLiteral("exact"), exact}, std::pair{QStringLiteral("big"), big}}) {
            const auto made = group(u[0].id, name, members);
            QVERIFY2(made.ok(), qPrintable(made.ok() ? QString() : made.error().message));
        }

        QCOMPARE(m_store->contactsOf(u[limit].id)->size(), 0);
        const QList<quint64> ofFirst = *m_store->contactsOf(u[1].id);
        QCOMPARE(ofFirst.size(), limit - 1);
        QVERIFY(ofFirst.contains(u[0].id));
        QVERIFY(!ofFirst.contains(u[limit].id));

        // A direct chat always counts.
        QVERIFY(
            send(directConversationId(u[0].id, u[limit].id), u[0].id, QStringLiteral("hi")).ok());
        QCOMPARE(*m_store->contactsOf(u[limit].id), QList<quint64>{u[0].id});
    }

    // ---- groups ----------------------------------------------------------------------------

    void groupLifecycleAndPermissions()
    {
        const UserRecord owner = addUser(QStringLiteral("olga"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord carol = addUser(QStringLiteral("carol"));
        const UserRecord dave = addUser(QStringLiteral("dave"));

        QCOMPARE(group(owner.id, QStringLiteral("  "), {}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(group(owner.id, QStringLiteral("x"), {bob.id, 4242}).error().code,
                 v1::INVALID_ARGUMENT);

        const auto created = group(owner.id, QStringLiteral(" Team "), {bob.id, carol.id, bob.id});
        QVERIFY(created.ok());
        const QString team = QString::fromStdString(created->state.id());
        QVERIFY(parseConversationId(team) && !parseConversationId(team)->isDirect());
        QCOMPARE(created->state.kind(), v1::GROUP);
        QCOMPARE(created->state.title(), "Team");
        QCOMPARE(created->state.my_role(), v1::OWNER);
        QCOMPARE(created->state.member_count(), 3u);
        QCOMPARE(created->state.metadata_version(), 1u);
        QCOMPARE(created->state.max_seq(), 1u);
        QCOMPARE(created->state.unread_count(), 0u);
        QCOMPARE(created->event.seq(), 1u);
        QCOMPARE(created->event.sender_user_id(), owner.id);
        const v1::SystemEvent &made = created->event.content().system();
        QCOMPARE(made.kind(), v1::SystemEvent::GROUP_CREATED);
        QCOMPARE(made.name(), "Team");
        QCOMPARE(made.actor_user_id(), owner.id);
        QCOMPARE(made.user_ids_size(), 2);
        QCOMPARE(created->memberIds.size(), 3);
        QCOMPARE(created->addedIds.size(), 3);
        QCOMPARE(m_store->conversation(team, bob.id)->unread_count(), 1u);
        QCOMPARE(m_store->conversation(team, bob.id)->my_role(), v1::MEMBER);

        // Group ids come from a counter.
        const auto second = group(bob.id, QStringLiteral("other"), {});
        QVERIFY(second.ok());
        QCOMPARE(parseConversationId(QString::fromStdString(second->state.id()))->groupId,
                 parseConversationId(team)->groupId + 1);

        auto add = [&](quint64 actor, const QList<quint64> &ids) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->addMembers(team, actor, ids, ctx, done);
            });
        };
        auto remove = [&](quint64 actor, quint64 who) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->removeMember(team, actor, who, ctx, done);
            });
        };
        auto rename = [&](quint64 actor, const QString &name) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->renameGroup(team, actor, name, ctx, done);
            });
        };
        auto leave = [&](quint64 who) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->leaveGroup(team, who, ctx, done);
            });
        };

        // Plain members manage nothing; strangers learn nothing.
        QCOMPARE(add(bob.id, {dave.id}).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(remove(bob.id, carol.id).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(rename(bob.id, QStringLiteral("mine")).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(add(dave.id, {dave.id}).error().code, v1::NOT_FOUND);
        QCOMPARE(leave(dave.id).error().code, v1::NOT_FOUND);
        QCOMPARE(add(owner.id, {4242}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(add(owner.id, {bob.id}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(m_store->conversation(team, owner.id)->metadata_version(), 1u);
        QCOMPARE(m_store->conversation(team, owner.id)->max_seq(), 1u);

        const auto added = add(owner.id, {bob.id, dave.id});
        QVERIFY(added.ok());
        QCOMPARE(added->addedIds, QList<quint64>{dave.id});
        QCOMPARE(added->memberIds.size(), 4);
        QCOMPARE(added->event.seq(), 2u);
        QCOMPARE(added->event.content().system().kind(), v1::SystemEvent::MEMBERS_ADDED);
        QCOMPARE(added->event.content().system().user_ids(0), dave.id);
        QCOMPARE(added->state.metadata_version(), 2u);
        QCOMPARE(m_store->conversation(team, dave.id)->unread_count(), 1u);

        const auto renamed = rename(owner.id, QStringLiteral("Crew"));
        QVERIFY(renamed.ok());
        QCOMPARE(renamed->state.title(), "Crew");
        QCOMPARE(renamed->event.content().system().kind(), v1::SystemEvent::GROUP_RENAMED);
        QCOMPARE(renamed->event.content().system().name(), "Crew");
        QCOMPARE(m_store->conversation(team, bob.id)->title(), "Crew");

        // An admin (granted by a later feature; set directly here) manages the
        // group, but cannot remove the owner.
        {
            RawDb raw(dbPath());
            QVERIFY(raw.exec(QStringLiteral("UPDATE members SET role = ? WHERE conversation_id = "
                                            "? AND user_id = ?"),
                             {int(v1::ADMIN), team, qint64(dave.id)}));
        }
        QCOMPARE(remove(dave.id, owner.id).error().code, v1::PERMISSION_DENIED);
        const auto removed = remove(dave.id, carol.id);
        QVERIFY(removed.ok());
        QCOMPARE(removed->removedIds, QList<quint64>{carol.id});
        QCOMPARE(removed->event.content().system().kind(), v1::SystemEvent::MEMBER_REMOVED);
        QCOMPARE(removed->event.sender_user_id(), dave.id);
        QCOMPARE(m_store->conversation(team, carol.id).error().code, v1::NOT_FOUND);
        QCOMPARE(remove(dave.id, carol.id).error().code, v1::NOT_FOUND);

        // The owner leaves: the admin (dave) takes over although bob joined earlier.
        const auto left = leave(owner.id);
        QVERIFY(left.ok());
        QCOMPARE(left->event.content().system().kind(), v1::SystemEvent::MEMBER_LEFT);
        QCOMPARE(left->event.sender_user_id(), owner.id);
        QCOMPARE(left->removedIds, QList<quint64>{owner.id});
        QCOMPARE(left->state.my_role(), v1::ROLE_UNSPECIFIED);
        QCOMPARE(m_store->membership(team, dave.id)->value().role, v1::OWNER);
        QCOMPARE(m_store->membership(team, bob.id)->value().role, v1::MEMBER);
        // Without admins, the longest-standing member takes over.
        const auto daveLeft = leave(dave.id);
        QVERIFY(daveLeft.ok());
        QCOMPARE(m_store->membership(team, bob.id)->value().role, v1::OWNER);
        QCOMPARE(daveLeft->memberIds, QList<quint64>{bob.id});
        const auto lastLeft = leave(bob.id);
        QVERIFY(lastLeft.ok());
        QVERIFY(lastLeft->memberIds.isEmpty());
        QCOMPARE(m_store->members(team)->size(), 0);

        // The stream holds every event once, in order; metadata moved with each.
        QCOMPARE(pullAllSeqs(team), (QList<quint64>{1, 2, 3, 4, 5, 6, 7}));
        QCOMPARE(lastLeft->state.metadata_version(), 7u);
    }

    // ---- users and devices -------------------------------------------------------------------

    void usersAreUniqueAndSearchable()
    {
        const UserRecord alice = addUser(QStringLiteral("Alice"), QStringLiteral("Alice Liddell"));
        QCOMPARE(alice.username, QStringLiteral("alice"));
        const auto taken = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->createUser(QStringLiteral("ALICE"), {}, "h", ctx, done);
        });
        QCOMPARE(taken.error().code, v1::NAME_TAKEN);
        const auto bad = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->createUser(QStringLiteral("a b"), {}, "h", ctx, done);
        });
        QCOMPARE(bad.error().code, v1::INVALID_ARGUMENT);

        const UserRecord alfred = addUser(QStringLiteral("alfred"));
        QCOMPARE(alfred.displayName, QStringLiteral("alfred"));
        const UserRecord bob = addUser(QStringLiteral("bob"), QStringLiteral("Bob Allen"));
        const UserRecord alvin = addUser(QStringLiteral("alvin"));
        addUser(QStringLiteral("zed"));
        QVERIFY((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     m_store->setDisabled(alvin.id, true, ctx, done);
                 }).ok()));

        auto names = [](const QList<UserRecord> &users) {
            QStringList out;
            for (const UserRecord &u : users)
                out.append(u.username);
            return out;
        };
        QCOMPARE(names(*m_store->searchUsers(QStringLiteral("AL"), 10)),
                 (QStringList{QStringLiteral("alfred"), QStringLiteral("alice"),
                              QStringLiteral("bob")}));
        QCOMPARE(m_store->searchUsers(QStringLiteral("al"), 2)->size(), 2);
        QCOMPARE(names(*m_store->searchUsers(QStringLiteral("liddell"), 10)),
                 QStringList{QStringLiteral("alice")});
        const UserRecord emile = addUser(QStringLiteral("emile"), QStringLiteral("Émile Ørsted"));
        QCOMPARE(names(*m_store->searchUsers(QStringLiteral("éMILE øRS"), 10)),
                 QStringList{QStringLiteral("emile")});
        QVERIFY((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     m_store->setDisabled(emile.id, true, ctx, done);
                 }).ok()));
        QCOMPARE(m_store->searchUsers(QStringLiteral("%"), 10)->size(), 0);
        QCOMPARE(m_store->searchUsers(QStringLiteral("_"), 10)->size(), 0);
        QCOMPARE(m_store->searchUsers(QStringLiteral("al"), 0)->size(), 0);

        QCOMPARE(m_store->userByName(QStringLiteral(" ALICE "))->id, alice.id);
        QCOMPARE(m_store->userByName(QStringLiteral("nobody")).error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->userById(9999).error().code, v1::NOT_FOUND);
        QVERIFY(m_store->userById(alvin.id)->disabled);
        QCOMPARE(m_store->listUsers()->size(), 6);

        const auto renamed = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->setDisplayName(bob.id, QStringLiteral("Robert"), ctx, done);
        });
        QCOMPARE(renamed->displayName, QStringLiteral("Robert"));
        QCOMPARE(m_store->userById(bob.id)->displayName, QStringLiteral("Robert"));
        QVERIFY((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     m_store->setPasswordHash(bob.id, "new-hash", ctx, done);
                 }).ok()));
        QCOMPARE(m_store->userById(bob.id)->passwordHash, QByteArray("new-hash"));
        // Replaced only while it is still the hash expected.
        const auto replace = [&](quint64 id, const char *expected, const char *hash) {
            return wait<bool>([&](QObject *ctx, Completion<bool> done) {
                m_store->replacePasswordHash(id, expected, hash, ctx, done);
            });
        };
        QCOMPARE(*replace(bob.id, "new-hash", "upgraded"), true);
        QCOMPARE(m_store->userById(bob.id)->passwordHash, QByteArray("upgraded"));
        QCOMPARE(*replace(bob.id, "new-hash", "stale upgrade"), false);
        QCOMPARE(m_store->userById(bob.id)->passwordHash, QByteArray("upgraded"));
        QCOMPARE(replace(9999, "x", "y").error().code, v1::NOT_FOUND);
        QCOMPARE((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                      m_store->setPasswordHash(9999, "x", ctx, done);
                  })
                      .error()
                      .code),
                 v1::NOT_FOUND);
    }

    void devicesAndRevocation()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        auto device = [&](quint64 user, const QByteArray &hash) {
            return wait<DeviceRecord>([&](QObject *ctx, Completion<DeviceRecord> done) {
                m_store->createDevice(user, QStringLiteral("laptop"), hash, ctx, done);
            });
        };
        auto revoke = [&](quint64 user, quint64 id) {
            return wait<Done>([&](QObject *ctx, Completion<Done> done) {
                m_store->revokeDevice(user, id, ctx, done);
            });
        };
        const auto laptop = device(alice.id, "hash-laptop");
        const auto phone = device(alice.id, "hash-phone");
        QVERIFY(laptop.ok() && phone.ok());
        QCOMPARE(device(9999, "hash-x").error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->deviceByTokenHash("hash-laptop")->id, laptop->id);
        QCOMPARE(m_store->deviceByTokenHash("hash-laptop")->userId, alice.id);
        QCOMPARE(m_store->deviceByTokenHash("nope").error().code, v1::NOT_FOUND);

        QCOMPARE(revoke(bob.id, laptop->id).error().code, v1::NOT_FOUND); // not bob's
        QVERIFY(revoke(alice.id, laptop->id).ok());
        QCOMPARE(revoke(alice.id, laptop->id).error().code, v1::NOT_FOUND); // already
        QCOMPARE(m_store->deviceByTokenHash("hash-laptop").error().code, v1::NOT_FOUND);
        QVERIFY(m_store->deviceByTokenHash("hash-phone").ok());
        const auto devices = m_store->devicesOfUser(alice.id);
        QCOMPARE(devices->size(), 2);
        QVERIFY(devices->at(0).revoked);
        QVERIFY(!devices->at(1).revoked);

        const qint64 later = phone->lastSeenMs + 60000;
        m_store->touchDevice(phone->id, later);
        QTRY_COMPARE_WITH_TIMEOUT(m_store->devicesOfUser(alice.id)->at(1).lastSeenMs, later,
                                  kWaitMs);
        m_store->touchDevice(phone->id, later - 1000); // never moves back
        QVERIFY(revoke(alice.id, phone->id).ok());     // queued after the touch
        QCOMPARE(m_store->devicesOfUser(alice.id)->at(1).lastSeenMs, later);
    }

    // ---- completions and shutdown -----------------------------------------------------------

    void completionDroppedWhenContextDies()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        bool called = false;
        auto context = std::make_unique<QObject>();
        m_store->appendMessage(
            AppendRequest{direct, alice.id, 1, "orphan", text(QStringLiteral("x"))}, context.get(),
            [&called](Result<AppendResult>) { called = true; });
        context.reset();
        // A later write completes after the first (one writer, in order).
        QVERIFY(send(direct, alice.id, QStringLiteral("later")).ok());
        QCoreApplication::processEvents();
        QVERIFY(!called);
        // The write itself stayed.
        QVERIFY(m_store->messageByClientId(alice.id, "orphan")->has_value());
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));
    }

    void completionRunsOnTheContextThread()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        QThread worker;
        worker.start();
        QObject context;
        context.moveToThread(&worker);
        std::atomic<QThread *> ranOn{nullptr};
        m_store->setDisplayName(alice.id, QStringLiteral("A"), &context,
                                [&ranOn](Result<UserRecord>) { ranOn = QThread::currentThread(); });
        QTRY_VERIFY_WITH_TIMEOUT(ranOn.load() != nullptr, kWaitMs);
        QCOMPARE(ranOn.load(), &worker);
        worker.quit();
        worker.wait();
    }

    void contextDeletedOnItsOwnThreadMidStream()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QThread worker;
        worker.start();
        auto *context = new QObject;
        context->moveToThread(&worker);
        std::atomic<bool> deleted{false};
        std::atomic<int> calls{0};
        std::atomic<int> callsAfterDeletion{0};
        connect(
            context, &QObject::destroyed, context, [&deleted] { deleted = true; },
            Qt::DirectConnection);
        constexpr int kWrites = 300;
        constexpr int kDieAfter = 10;
        for (int i = 0; i < kWrites; ++i) {
            m_store->appendMessage(AppendRequest{direct, alice.id, 1,
                                                 QStringLiteral("w%1").arg(i).toStdString(),
                                                 text(QStringLiteral("x"))},
                                   context, [&, context](Result<AppendResult>) {
                                       if (deleted)
                                           ++callsAfterDeletion;
                                       // Dies on its own thread while later completions are queued
                                       // for it.
                                       if (++calls == kDieAfter)
                                           delete context;
                                   });
        }
        QVERIFY(send(direct, bob.id, QStringLiteral("sentinel")).ok());
        QTRY_VERIFY_WITH_TIMEOUT(deleted, kWaitMs);
        worker.quit();
        QVERIFY(worker.wait(kWaitMs));
        QCOMPARE(calls.load(), kDieAfter);
        QCOMPARE(callsAfterDeletion.load(), 0);
        QCOMPARE(pullAllSeqs(direct).size(), kWrites + 1); // every write stayed
    }

    void closeDrainsTheQueue()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        int acked = 0;
        for (int i = 0; i < 100; ++i)
            m_store->appendMessage(
                AppendRequest{direct, bob.id, 1, QStringLiteral("q%1").arg(i).toStdString(),
                              text(QStringLiteral("x"))},
                this, [&acked](Result<AppendResult> r) { acked += r.ok() ? 1 : 0; });
        m_store->close();
        std::optional<Result<AppendResult>> refused;
        m_store->appendMessage(AppendRequest{direct, bob.id, 1, "late", text(QStringLiteral("x"))},
                               this, [&refused](Result<AppendResult> r) { refused.emplace(r); });
        QTRY_COMPARE_WITH_TIMEOUT(acked, 100, kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(refused.has_value(), kWaitMs);
        QCOMPARE(refused->error().code, v1::SHUTTING_DOWN);
        QVERIFY(!m_store->userById(alice.id).ok());

        reopen();
        QCOMPARE(pullAllSeqs(direct).size(), 100);
    }

    void readConnectionsCloseWithTheirThread()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        QCOMPARE(m_store->openReadConnections(), 0);
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
        QTRY_COMPARE_WITH_TIMEOUT(m_store->openReadConnections(), 0, kWaitMs);
        QVERIFY(m_store->userById(alice.id).ok());
        QCOMPARE(m_store->openReadConnections(), 1);
        m_store->close();
        QCOMPARE(m_store->openReadConnections(), 0);
    }

    void closeFoldsTheLogIntoTheDatabase()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, bob.id, QStringLiteral("fold")).ok());
        // A read connection is open on this thread when the store closes.
        QVERIFY(m_store->userById(alice.id).ok());
        QCOMPARE(m_store->openReadConnections(), 1);
        const QString log = dbPath() + QStringLiteral("-wal");
        QVERIFY(QFile::exists(log));
        m_store->close();
        QVERIFY2(!QFile::exists(log), "the write-ahead log outlived the store");
        reopen();
        QCOMPARE(pullAllSeqs(direct), QList<quint64>{1});
    }

    void readsFromManyThreads()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, alice.id, QStringLiteral("one")).ok());
        std::atomic<int> good{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 50; ++i) {
                    const auto view = m_store->conversation(direct, bob.id);
                    const auto user = m_store->userById(alice.id);
                    if (view.ok() && view->unread_count() == 1 && user.ok())
                        ++good;
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(good.load(), 200);
    }
};

QTEST_GUILESS_MAIN(TestSqliteStore)
#include "tst_sqlite_store.moc"
