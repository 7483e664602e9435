// PostgresStore against a real PostgreSQL started by the test: migrations and
// their version table, seqs from two stores (two nodes) writing one
// conversation at once, the bounded read pool, group commit, nothing
// acknowledged or visible before the commit, a batch whose commit fails, and
// the database restarting under load. (What every backend promises is the
// store contract suite's; these are the PostgreSQL backend's own promises.)
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "pg_connection.h"
#include "postgres_store.h"
#include "test_postgres.h"

#include <QScopeGuard>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

using namespace kith;
using namespace kith::server;
using kith::test::TestPostgres;

namespace {

constexpr int kWaitMs = 30000; // generous: the box is shared

v1::Content text(const QString &body, quint64 replyTo = 0)
{
    v1::Content content;
    content.mutable_text()->set_body(body.toStdString());
    content.set_reply_to_seq(replyTo);
    return content;
}

AppendRequest appendRequest(const QString &conversation, quint64 sender, const QString &clientId,
                            quint64 replyTo = 0)
{
    AppendRequest r;
    r.conversationId = conversation;
    r.senderUserId = sender;
    r.senderDeviceId = 1;
    r.clientMsgId = clientId.toStdString();
    r.content = text(clientId, replyTo);
    return r;
}

} // namespace

class TestPostgresStore : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<TestPostgres> m_postgres;
    QString m_database;
    int m_databases = 0;

    QString url() const { return m_postgres->url(m_database); }

    std::unique_ptr<PostgresStore> openStore(PostgresStore::Options options = {})
    {
        auto store = std::make_unique<PostgresStore>(url(), options);
        const Status opened = store->open();
        if (!opened.ok()) {
            qWarning() << "open failed:" << opened.error().message;
            return nullptr;
        }
        return store;
    }

    // Runs one asynchronous write and waits for its completion.
    template<class T, class Call> Result<T> wait(Call call)
    {
        std::optional<Result<T>> out;
        // Goes before `out`: a completion that comes after the wait gave up is dropped.
        QObject receiver;
        call(&receiver, [&out](Result<T> r) { out.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&out] { return out.has_value(); }, kWaitMs))
            return makeError(v1::INTERNAL, QStringLiteral("no completion"));
        return std::move(*out);
    }

    UserRecord addUser(Store &store, const QString &name)
    {
        auto r = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            store.createUser(name, {}, "hash", ctx, done);
        });
        if (!r.ok())
            qWarning() << "createUser failed" << r.error().message;
        return r.ok() ? *r : UserRecord{};
    }

    Result<AppendResult> send(Store &store, const AppendRequest &request)
    {
        return wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            store.appendMessage(request, ctx, done);
        });
    }

    QString makeGroup(Store &store, quint64 owner, const QList<quint64> &members)
    {
        auto r = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            store.createGroup(owner, QStringLiteral("team"), members, ctx, done);
        });
        return r.ok() ? QString::fromStdString(r->state.id()) : QString();
    }

    QList<v1::Message> pullAll(Store &store, const QString &conversation)
    {
        QList<v1::Message> all;
        PullQuery query;
        query.conversationId = conversation;
        query.limit = kMaxPullLimit;
        for (;;) {
            const auto page = store.pull(query);
            if (!page.ok())
                return {};
            all += page->messages;
            if (!page->hasMore || page->messages.isEmpty())
                return all;
            query.fromSeq = page->messages.last().seq() + 1;
        }
    }

    static QList<quint64> seqsOf(const QList<v1::Message> &messages)
    {
        QList<quint64> seqs;
        for (const v1::Message &m : messages)
            seqs.append(m.seq());
        return seqs;
    }

    static QList<quint64> oneTo(quint64 n)
    {
        QList<quint64> seqs;
        for (quint64 s = 1; s <= n; ++s)
            seqs.append(s);
        return seqs;
    }

    QByteArray sql(const QString &statement) { return m_postgres->psql(m_database, statement); }

private slots:
    void initTestCase()
    {
        KITH_REQUIRE_POSTGRES();
        m_postgres = std::make_unique<TestPostgres>();
        QVERIFY2(m_postgres->start(), m_postgres->log().right(3000).constData());
    }

    // Each test on a database of its own.
    void init()
    {
        if (!m_postgres->isRunning())
            QVERIFY(m_postgres->start());
        m_database = QStringLiteral("kith_test_%1").arg(++m_databases);
        QVERIFY(m_postgres->createDatabase(m_database));
    }

    // ---- migrations --------------------------------------------------------------------------

    void freshDatabaseRecordsEachVersion()
    {
        auto store = openStore();
        QVERIFY(store);
        QCOMPARE(store->schemaVersion(), PostgresStore::latestSchemaVersion());
        QVERIFY(PostgresStore::latestSchemaVersion() >= 2);
        QList<QByteArray> expected;
        for (int v = 1; v <= PostgresStore::latestSchemaVersion(); ++v)
            expected.append(QByteArray::number(v));
        QCOMPARE(sql(QStringLiteral("SELECT version FROM kith_schema_version ORDER BY version"))
                     .split('\n'),
                 expected);
        // Opening again changes nothing.
        store.reset();
        store = openStore();
        QVERIFY(store);
        QCOMPARE(sql(QStringLiteral("SELECT COUNT(*) FROM kith_schema_version")),
                 QByteArray::number(PostgresStore::latestSchemaVersion()));
    }

    void upgradesAnOlderSchemaKeepingItsData()
    {
        PostgresStore::Options v1Only;
        v1Only.migrateUpTo = 1;
        auto store = openStore(v1Only);
        QVERIFY(store);
        QCOMPARE(store->schemaVersion(), 1);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));
        const UserRecord bob = addUser(*store, QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(*store, appendRequest(direct, alice.id, QStringLiteral("c1"))).ok());
        store.reset();
        QCOMPARE(sql(QStringLiteral("SELECT COUNT(*) FROM pg_indexes WHERE indexname ="
                                    " 'members_by_user'")),
                 QByteArray("0"));

        store = openStore();
        QVERIFY(store);
        QCOMPARE(store->schemaVersion(), PostgresStore::latestSchemaVersion());
        QCOMPARE(sql(QStringLiteral("SELECT COUNT(*) FROM pg_indexes WHERE indexname ="
                                    " 'members_by_user'")),
                 QByteArray("1"));
        QCOMPARE(store->conversation(direct, bob.id)->unread_count(), 1u);
        const auto next = send(*store, appendRequest(direct, bob.id, QStringLiteral("c2")));
        QVERIFY(next.ok());
        QCOMPARE(next->message.seq(), 2u);
        const auto resend = send(*store, appendRequest(direct, alice.id, QStringLiteral("c1")));
        QVERIFY(resend.ok() && resend->duplicate);
        QCOMPARE(resend->message.seq(), 1u);
    }

    void refusesNewerSchema()
    {
        QVERIFY(openStore());
        QVERIFY(!sql(QStringLiteral("INSERT INTO kith_schema_version VALUES (%1, 'future', 0)")
                         .arg(PostgresStore::latestSchemaVersion() + 1))
                     .isNull());
        PostgresStore newer(url());
        const Status opened = newer.open();
        QVERIFY(!opened.ok());
        QVERIFY2(opened.error().message.contains(QStringLiteral("newer")),
                 qPrintable(opened.error().message));
        QVERIFY(!newer.userById(1).ok());
    }

    void nodesStartingTogetherMigrateOnce()
    {
        constexpr int kNodes = 4;
        std::vector<std::unique_ptr<PostgresStore>> stores;
        for (int i = 0; i < kNodes; ++i)
            stores.push_back(std::make_unique<PostgresStore>(url()));
        std::vector<std::thread> threads;
        std::atomic<int> opened{0};
        for (auto &store : stores)
            threads.emplace_back([&store, &opened] {
                if (store->open().ok())
                    ++opened;
            });
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(opened.load(), kNodes);
        QCOMPARE(sql(QStringLiteral("SELECT COUNT(*) FROM kith_schema_version")),
                 QByteArray::number(PostgresStore::latestSchemaVersion()));
    }

    // ---- several nodes ------------------------------------------------------------------------

    // Two stores on one database, as two kithd nodes: their writers append to
    // the same conversations at once, and resend the same client ids at once.
    void twoNodesWritingOneConversationKeepSeqsContiguous()
    {
        auto nodeA = openStore();
        auto nodeB = openStore();
        QVERIFY(nodeA && nodeB);
        const UserRecord alice = addUser(*nodeA, QStringLiteral("alice"));
        const UserRecord bob = addUser(*nodeB, QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const QString team = makeGroup(*nodeA, alice.id, {bob.id});
        QVERIFY(!team.isEmpty());

        constexpr int kThreadsPerNode = 2;
        constexpr int kPerThread = 150;
        constexpr int kShared = 100; // client ids both nodes send
        struct Ack
        {
            AppendResult result;
            quint64 sender;
        };
        QList<Ack> acks;
        QList<QString> failures;
        QObject receiver; // after what its completions use: it goes first, and they with it
        std::vector<std::thread> threads;
        for (PostgresStore *node : {nodeA.get(), nodeB.get()}) {
            for (int t = 0; t < kThreadsPerNode; ++t) {
                threads.emplace_back([&, node, t] {
                    const int n = node == nodeA.get() ? t : kThreadsPerNode + t;
                    for (int i = 0; i < kPerThread; ++i) {
                        const quint64 sender = (i % 3) ? alice.id : bob.id;
                        AppendRequest r = appendRequest((i % 2) ? direct : team, sender,
                                                        QStringLiteral("n%1-%2").arg(n).arg(i));
                        node->appendMessage(r, &receiver, [&, sender](Result<AppendResult> result) {
                            if (result.ok())
                                acks.append({*result, sender});
                            else
                                failures.append(result.error().message);
                        });
                    }
                });
            }
            // The same resends through both nodes at the same moment.
            threads.emplace_back([&, node] {
                for (int i = 0; i < kShared; ++i) {
                    AppendRequest r = appendRequest((i % 2) ? direct : team, alice.id,
                                                    QStringLiteral("shared-%1").arg(i));
                    node->appendMessage(r, &receiver, [&](Result<AppendResult> result) {
                        if (result.ok())
                            acks.append({*result, alice.id});
                        else
                            failures.append(result.error().message);
                    });
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        const int total = 2 * (kThreadsPerNode * kPerThread + kShared);
        QTRY_COMPARE_WITH_TIMEOUT(acks.size() + failures.size(), total, kWaitMs);
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join(QStringLiteral("; "))));

        // Each (sender, client id) is stored once, every ack names the stored copy.
        std::map<std::pair<quint64, std::string>, std::pair<quint64, quint64>> acked;
        int originals = 0;
        for (const Ack &ack : std::as_const(acks)) {
            const v1::Message &m = ack.result.message;
            const auto key = std::make_pair(ack.sender, m.client_msg_id());
            const auto value = std::pair<quint64, quint64>(m.seq(), m.server_id());
            const auto [it, fresh] = acked.emplace(key, value);
            if (!fresh)
                QCOMPARE(it->second, value);
            originals += ack.result.duplicate ? 0 : 1;
        }
        const int distinct = 2 * kThreadsPerNode * kPerThread + kShared;
        QCOMPARE(int(acked.size()), distinct);
        QCOMPARE(originals, distinct);

        // Storage agrees: 1..N in each conversation, each message once.
        const QList<v1::Message> directMessages = pullAll(*nodeB, direct);
        const QList<v1::Message> teamMessages = pullAll(*nodeA, team);
        QCOMPARE(seqsOf(directMessages), oneTo(quint64(directMessages.size())));
        QCOMPARE(seqsOf(teamMessages), oneTo(quint64(teamMessages.size())));
        QCOMPARE(directMessages.size() + teamMessages.size(), distinct + 1); // + GROUP_CREATED
        for (const QList<v1::Message> *messages : {&directMessages, &teamMessages}) {
            for (const v1::Message &m : *messages) {
                if (m.content().has_system())
                    continue;
                const auto it = acked.find({quint64(m.sender_user_id()), m.client_msg_id()});
                QVERIFY(it != acked.end());
                QCOMPARE(it->second, (std::pair<quint64, quint64>(m.seq(), m.server_id())));
            }
        }
        QCOMPARE(nodeA->conversation(direct, bob.id)->max_seq(), quint64(directMessages.size()));
    }

    // Two nodes sending to one group and to direct chats, and moving read
    // markers, from several users at once: each run takes its member and
    // conversation locks in one global order, so no batch ever meets a
    // deadlock (which would cost a second's wait and a run again).
    void nodesWritingTheSameConversationsNeverDeadlock()
    {
        auto nodeA = openStore();
        auto nodeB = openStore();
        QVERIFY(nodeA && nodeB);
        QList<UserRecord> users;
        for (const char *name : {"alice", "bob", "carol", "dave"})
            users.append(addUser(*nodeA, QString::fromLatin1(name)));
        const QString team =
            makeGroup(*nodeA, users[0].id, {users[1].id, users[2].id, users[3].id});
        QVERIFY(!team.isEmpty());
        const QString direct1 = directConversationId(users[0].id, users[1].id);
        const QString direct2 = directConversationId(users[2].id, users[3].id);

        constexpr int kPerThread = 200;
        std::atomic<int> done{0};
        std::atomic<int> failed{0};
        QObject receiver; // after what its completions use: it goes first, and they with it
        std::vector<std::thread> threads;
        for (int n = 0; n < 4; ++n) {
            PostgresStore *node = (n % 2) ? nodeB.get() : nodeA.get();
            threads.emplace_back([&, node, n] {
                for (int i = 0; i < kPerThread; ++i) {
                    const UserRecord &user = users[size_t((n + i) % users.size())];
                    const auto count = [&](bool ok) {
                        ++done;
                        if (!ok)
                            ++failed;
                    };
                    if (i % 4 == 3) {
                        node->markRead(team, user.id, quint64(i), &receiver,
                                       [count](Result<ReadResult> r) { count(r.ok()); });
                        continue;
                    }
                    QString conversation = team;
                    if (i % 4 == 1)
                        conversation = user.id <= users[1].id ? direct1 : direct2;
                    node->appendMessage(appendRequest(conversation, user.id,
                                                      QStringLiteral("n%1-%2").arg(n).arg(i)),
                                        &receiver,
                                        [count](Result<AppendResult> r) { count(r.ok()); });
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        QTRY_COMPARE_WITH_TIMEOUT(done.load(), 4 * kPerThread, kWaitMs);
        QCOMPARE(failed.load(), 0);
        QCOMPARE(nodeA->batchRetries() + nodeB->batchRetries(), 0u);
        for (const QString &conversation : {team, direct1, direct2}) {
            const QList<v1::Message> messages = pullAll(*nodeA, conversation);
            QCOMPARE(seqsOf(messages), oneTo(quint64(messages.size())));
        }
    }

    // A sender's writes to one conversation are ordered by its member row,
    // which every append locks first; the unique (sender, client_msg_id) key
    // is what keeps one client id once across conversations. Here the same
    // client ids reach two nodes for two conversations while both writers
    // wait for the conversations' row locks. A statement that waits for a row
    // keeps the snapshot it started with (a table lock would be taken before
    // the snapshot, and the second writer could then see the first one's
    // commit), so both read "not stored yet" and both insert: the
    // key refuses the second, whose batch runs again and answers with the
    // original. Nothing is doubled, no seq is skipped.
    void clientIdsRacingOnTwoNodesAreStoredOnce()
    {
        PostgresStore::Options a;
        a.name = QStringLiteral("node-a");
        PostgresStore::Options b;
        b.name = QStringLiteral("node-b");
        auto nodeA = openStore(a);
        auto nodeB = openStore(b);
        QVERIFY(nodeA && nodeB);
        const UserRecord alice = addUser(*nodeA, QStringLiteral("alice"));
        const UserRecord bob = addUser(*nodeA, QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const QString team = makeGroup(*nodeA, alice.id, {bob.id});
        QVERIFY(!team.isEmpty());
        // Node A has seen the direct chat (so it does not first create it).
        QVERIFY(send(*nodeA, appendRequest(direct, bob.id, QStringLiteral("b1"))).ok());

        auto blocker = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("blocker"));
        QVERIFY(blocker);
        QVERIFY((*blocker)->command(QStringLiteral("BEGIN"), "begin").ok());
        QVERIFY((*blocker)
                    ->command(QStringLiteral("SELECT 1 FROM conversations FOR UPDATE"), "lock")
                    .ok());
        constexpr int kResends = 20;
        QList<AppendResult> results;
        QList<QString> failures;
        QObject receiver; // after what its completions use: it goes first, and they with it
        for (PostgresStore *node : {nodeA.get(), nodeB.get()}) {
            const QString conversation = node == nodeA.get() ? direct : team;
            for (int i = 0; i < kResends; ++i)
                node->appendMessage(
                    appendRequest(conversation, alice.id, QStringLiteral("same-%1").arg(i)),
                    &receiver, [&](Result<AppendResult> r) {
                        if (r.ok())
                            results.append(*r);
                        else
                            failures.append(r.error().message);
                    });
        }
        // Both writers wait for the lock with their batch.
        QTRY_COMPARE_WITH_TIMEOUT(
            sql(QStringLiteral(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name"
                " IN ('node-a writer', 'node-b writer') AND wait_event_type = 'Lock'")),
            QByteArray("2"), kWaitMs);
        QVERIFY(results.isEmpty()); // nothing is acknowledged before it is committed
        QVERIFY((*blocker)->command(QStringLiteral("COMMIT"), "commit").ok());

        QTRY_COMPARE_WITH_TIMEOUT(results.size() + failures.size(), 2 * kResends, kWaitMs);
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join(QStringLiteral("; "))));
        // Every answer for a client id names one stored message.
        std::map<std::string, std::pair<std::string, quint64>> storedAs;
        int originals = 0;
        for (const AppendResult &r : std::as_const(results)) {
            const auto where =
                std::make_pair(r.message.conversation_id(), quint64(r.message.seq()));
            const auto [it, fresh] = storedAs.emplace(r.message.client_msg_id(), where);
            if (!fresh)
                QCOMPARE(it->second, where);
            originals += r.duplicate ? 0 : 1;
        }
        QCOMPARE(originals, kResends);
        QCOMPARE(int(storedAs.size()), kResends);
        int stored = 0;
        for (const QString &conversation : {direct, team}) {
            const QList<v1::Message> messages = pullAll(*nodeB, conversation);
            QCOMPARE(seqsOf(messages), oneTo(quint64(messages.size())));
            for (const v1::Message &m : messages) {
                if (!QString::fromStdString(m.client_msg_id()).startsWith(u"same-"))
                    continue;
                ++stored;
                QCOMPARE(storedAs[m.client_msg_id()],
                         std::make_pair(m.conversation_id(), quint64(m.seq())));
            }
        }
        QCOMPARE(stored, kResends);
        // The race did happen: one writer's batch was refused and ran again.
        QVERIFY(nodeA->batchRetries() + nodeB->batchRetries() >= 1);
    }

    // ---- the read pool and group commit -------------------------------------------------------

    // Reads lease from a pool of at most readConnections; past that a read
    // waits for one to come back and, when none does in time, fails with
    // UNAVAILABLE instead of opening another connection.
    void readPoolIsBounded()
    {
        PostgresStore::Options options;
        options.name = QStringLiteral("pooled");
        options.readConnections = 2;
        options.acquireTimeoutMs = 300;
        auto store = openStore(options);
        QVERIFY(store);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));

        // Reads of users wait behind this lock, holding their connections.
        auto blocker = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("blocker"));
        QVERIFY(blocker);
        QVERIFY((*blocker)->command(QStringLiteral("BEGIN"), "begin").ok());
        QVERIFY((*blocker)
                    ->command(QStringLiteral("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"), "lock")
                    .ok());
        constexpr int kReaders = 3;
        std::vector<std::optional<Result<UserRecord>>> reads(kReaders);
        std::atomic<int> finished{0};
        std::vector<std::thread> readers;
        // Whatever happens below, the lock goes and the readers are joined.
        const auto joinReaders = qScopeGuard([&] {
            blocker->reset();
            for (auto &reader : readers)
                if (reader.joinable())
                    reader.join();
        });
        for (int i = 0; i < kReaders; ++i)
            readers.emplace_back([&, i] {
                reads[size_t(i)].emplace(store->userById(alice.id));
                ++finished;
            });
        // Two readers wait in the database (once connected, which takes its
        // time on a busy machine); the third gives up on the pool.
        QTRY_COMPARE_WITH_TIMEOUT(
            sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ="
                               " 'pooled reader' AND wait_event_type = 'Lock'")),
            QByteArray("2"), kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(finished.load(), 1, kWaitMs);
        QCOMPARE(sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity"
                                    " WHERE application_name = 'pooled reader'")),
                 QByteArray("2"));
        QCOMPARE(store->openReadConnections(), 2);
        QVERIFY((*blocker)->command(QStringLiteral("COMMIT"), "commit").ok());
        for (auto &reader : readers)
            reader.join();
        int unavailable = 0;
        for (const auto &read : reads) {
            if (read->ok())
                QCOMPARE((*read)->id, alice.id);
            else
                unavailable += read->error().code == v1::UNAVAILABLE ? 1 : 0;
        }
        QCOMPARE(unavailable, 1);

        // Under a burst the readers take turns on the two connections.
        std::atomic<int> failed{0};
        readers.clear();
        for (int t = 0; t < 6; ++t)
            readers.emplace_back([&] {
                for (int i = 0; i < 50; ++i)
                    if (!store->userById(alice.id).ok())
                        ++failed;
            });
        for (auto &reader : readers)
            reader.join();
        QCOMPARE(failed.load(), 0);
        QCOMPARE(store->peakReadConnections(), 2);
    }

    // Writes queued while the writer waits are committed together, and none
    // is acknowledged before its transaction commits.
    void groupCommitBatchesQueuedWrites()
    {
        PostgresStore::Options options;
        options.name = QStringLiteral("batching");
        auto store = openStore(options);
        QVERIFY(store);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));
        const UserRecord bob = addUser(*store, QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(*store, appendRequest(direct, alice.id, QStringLiteral("first"))).ok());
        const auto before = store->stats();

        auto blocker = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("blocker"));
        QVERIFY(blocker);
        QVERIFY((*blocker)->command(QStringLiteral("BEGIN"), "begin").ok());
        QVERIFY((*blocker)
                    ->command(QStringLiteral("SELECT 1 FROM conversations FOR UPDATE"), "lock")
                    .ok());
        constexpr int kWrites = 200;
        int done = 0;
        QObject receiver; // after what its completions use: it goes first, and they with it
        for (int i = 0; i < kWrites; ++i)
            store->appendMessage(appendRequest(direct, alice.id, QStringLiteral("b%1").arg(i)),
                                 &receiver, [&done](Result<AppendResult> r) {
                                     if (r.ok())
                                         ++done;
                                 });
        QTRY_COMPARE_WITH_TIMEOUT(
            sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ="
                               " 'batching writer' AND wait_event_type = 'Lock'")),
            QByteArray("1"), kWaitMs);
        QCOMPARE(done, 0);
        QVERIFY((*blocker)->command(QStringLiteral("COMMIT"), "commit").ok());
        QTRY_COMPARE_WITH_TIMEOUT(done, kWrites, kWaitMs);
        const auto after = store->stats();
        QCOMPARE(after.writesCommitted - before.writesCommitted, quint64(kWrites));
        QVERIFY2(after.commits - before.commits < quint64(kWrites) / 2,
                 qPrintable(QString::number(after.commits - before.commits)));
        QCOMPARE(after.messagesStored - before.messagesStored, quint64(kWrites));
        QCOMPARE(seqsOf(pullAll(*store, direct)), oneTo(kWrites + 1));
    }

    // The writer is held inside its COMMIT (a deferred trigger that waits
    // for a lock the test holds): no completion has run, and other
    // connections do not see the rows. Once it commits, the acks come.
    void nothingIsAcknowledgedOrVisibleBeforeCommit()
    {
        PostgresStore::Options options;
        options.name = QStringLiteral("holding");
        auto store = openStore(options);
        QVERIFY(store);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));
        const UserRecord bob = addUser(*store, QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(*store, appendRequest(direct, alice.id, QStringLiteral("first"))).ok());
        QVERIFY(
            !sql(QStringLiteral(
                     "CREATE FUNCTION kith_test_hold() RETURNS trigger LANGUAGE plpgsql AS"
                     " $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NULL; END $$;"
                     " CREATE CONSTRAINT TRIGGER kith_test_hold AFTER INSERT ON messages"
                     " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                     " EXECUTE FUNCTION kith_test_hold()"))
                 .isNull());
        auto holder = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("holder"));
        QVERIFY(holder);
        QVERIFY((*holder)->command(QStringLiteral("SELECT pg_advisory_lock(4242)"), "hold").ok());

        QList<AppendResult> acked;
        QObject receiver; // after what its completions use: it goes first, and they with it
        for (const QString &id : {QStringLiteral("second"), QStringLiteral("third")}) {
            store->appendMessage(appendRequest(direct, alice.id, id), &receiver,
                                 [&acked](Result<AppendResult> r) {
                                     QVERIFY(r.ok());
                                     acked.append(*r);
                                 });
        }
        // The writer waits for the lock inside COMMIT, its writes made.
        QTRY_COMPARE_WITH_TIMEOUT(
            sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ="
                               " 'holding writer' AND wait_event_type = 'Lock'"
                               " AND wait_event = 'advisory'")),
            QByteArray("1"), kWaitMs);
        QCoreApplication::sendPostedEvents();
        QCOMPARE(acked.size(), 0);
        QCOMPARE(sql(QStringLiteral("SELECT COUNT(*) FROM messages")), QByteArray("1"));
        QCOMPARE(seqsOf(pullAll(*store, direct)), QList<quint64>{1});

        QVERIFY(
            (*holder)->command(QStringLiteral("SELECT pg_advisory_unlock(4242)"), "release").ok());
        QTRY_COMPARE_WITH_TIMEOUT(acked.size(), 2, kWaitMs);
        QCOMPARE(acked.at(0).message.seq(), 2u);
        QCOMPARE(acked.at(1).message.seq(), 3u);
        QCOMPARE(seqsOf(pullAll(*store, direct)), oneTo(3));
    }

    // ---- a batch that does not commit ------------------------------------------------------

    // The writer keeps what it learns from the database in caches (the direct
    // conversations that exist, each group's members at a metadata version).
    // A batch whose COMMIT fails must leave none of its own work in them:
    // a direct conversation it created would be taken as existing (the next
    // send to it skips the creation and is refused), and the members it read
    // after adding one would be handed out again as the recipients of a later
    // change that reached the same metadata version without that member.
    void failedCommitLeavesNothingInTheWritersCaches()
    {
        PostgresStore::Options options;
        options.name = QStringLiteral("refused");
        auto store = openStore(options);
        QVERIFY(store);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));
        const UserRecord bob = addUser(*store, QStringLiteral("bob"));
        const UserRecord carol = addUser(*store, QStringLiteral("carol"));
        const UserRecord dave = addUser(*store, QStringLiteral("dave"));
        const UserRecord erin = addUser(*store, QStringLiteral("erin"));
        const QString team = makeGroup(*store, alice.id, {bob.id});
        QVERIFY(!team.isEmpty());
        const auto first = send(*store, appendRequest(team, alice.id, QStringLiteral("g0")));
        QVERIFY(first.ok());
        const QList<quint64> members = {alice.id, bob.id};
        QCOMPARE(first->recipients, members);

        // Every COMMIT that stores a message fails while this trigger exists
        // (deferred: the statements themselves go through).
        QVERIFY(!sql(QStringLiteral(
                         "CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS"
                         " $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"))
                     .isNull());
        QVERIFY(!sql(QStringLiteral("CREATE CONSTRAINT TRIGGER refuse_message AFTER INSERT ON"
                                    " messages DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                                    " EXECUTE FUNCTION refuse_message()"))
                     .isNull());

        // The writer waits on erin's row, so the writes below make one batch.
        auto blocker = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("blocker"));
        QVERIFY(blocker);
        QVERIFY((*blocker)->command(QStringLiteral("BEGIN"), "begin").ok());
        QVERIFY((*blocker)
                    ->command(
                        QStringLiteral("SELECT 1 FROM users WHERE id = %1 FOR UPDATE").arg(erin.id),
                        "lock")
                    .ok());
        std::optional<Result<UserRecord>> renamed;
        store->setDisplayName(erin.id, QStringLiteral("Erin"), this,
                              [&renamed](Result<UserRecord> r) { renamed.emplace(std::move(r)); });
        QTRY_COMPARE_WITH_TIMEOUT(
            sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ="
                               " 'refused writer' AND wait_event_type = 'Lock'")),
            QByteArray("1"), kWaitMs);

        std::optional<Result<GroupChange>> added;
        store->addMembers(team, alice.id, {carol.id}, this,
                          [&added](Result<GroupChange> r) { added.emplace(std::move(r)); });
        std::optional<Result<AppendResult>> toGroup;
        store->appendMessage(appendRequest(team, alice.id, QStringLiteral("g1")), this,
                             [&toGroup](Result<AppendResult> r) { toGroup.emplace(std::move(r)); });
        const QString direct = directConversationId(alice.id, dave.id);
        std::optional<Result<AppendResult>> toDirect;
        store->appendMessage(
            appendRequest(direct, alice.id, QStringLiteral("d1")), this,
            [&toDirect](Result<AppendResult> r) { toDirect.emplace(std::move(r)); });
        QVERIFY((*blocker)->command(QStringLiteral("COMMIT"), "commit").ok());

        QTRY_VERIFY_WITH_TIMEOUT(renamed && added && toGroup && toDirect, kWaitMs);
        QVERIFY(renamed->ok());
        // Each answered with the batch's failure, so the callers resend.
        QVERIFY(!added->ok());
        QCOMPARE(added->error().code, v1::INTERNAL);
        QVERIFY(!toGroup->ok());
        QCOMPARE(toGroup->error().code, v1::INTERNAL);
        QVERIFY(!toDirect->ok());
        QCOMPARE(toDirect->error().code, v1::INTERNAL);
        QCOMPARE(
            sql(QStringLiteral("SELECT COUNT(*) FROM conversations WHERE id = '%1'").arg(direct)),
            QByteArray("0"));

        QVERIFY(!sql(QStringLiteral("DROP TRIGGER refuse_message ON messages")).isNull());
        // The group reaches the next metadata version without carol.
        const auto renaming = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            store->renameGroup(team, alice.id, QStringLiteral("crew"), ctx, done);
        });
        QVERIFY(renaming.ok());
        QList<quint64> after = renaming->memberIds;
        std::sort(after.begin(), after.end());
        QCOMPARE(after, members);

        const auto again = send(*store, appendRequest(team, alice.id, QStringLiteral("g1")));
        QVERIFY2(again.ok(), again.ok() ? "" : qPrintable(again.error().message));
        QVERIFY(!again->duplicate);
        QCOMPARE(again->recipients, members);
        const auto directAgain =
            send(*store, appendRequest(direct, alice.id, QStringLiteral("d1")));
        QVERIFY2(directAgain.ok(), directAgain.ok() ? "" : qPrintable(directAgain.error().message));
        QVERIFY(!directAgain->duplicate);
        QCOMPARE(directAgain->message.seq(), quint64(1));
        QCOMPARE(directAgain->recipients, QList<quint64>({alice.id, dave.id}));
    }

    // ---- the database going away -------------------------------------------------------------

    // Senders keep sending while PostgreSQL stops (fast shutdown) and later
    // crashes (immediate shutdown) and comes back each time: what is in
    // flight fails with UNAVAILABLE, the senders retry with the same client
    // ids, and afterwards every acked message is stored exactly once at the
    // seq its ack named, with no gap. The senders go in steps (a quota each),
    // so that each outage finds them sending whatever the machine's speed,
    // and each one hits a batch that is inside its transaction: it waits for
    // a row lock the test holds when the database goes.
    void restartUnderLoadLosesAndDoublesNothing()
    {
        PostgresStore::Options options;
        options.name = QStringLiteral("restarting");
        auto store = openStore(options);
        QVERIFY(store);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));
        const UserRecord bob = addUser(*store, QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const QString team = makeGroup(*store, alice.id, {bob.id});
        QVERIFY(!team.isEmpty());

        constexpr int kEach = 80;
        constexpr int kStep = kEach / 4; // each sender's quota grows by this much per phase
        struct Sender
        {
            QString conversation;
            quint64 user;
            int acked = 0;
            bool idle = true; // waiting for its quota to grow
        };
        std::vector<Sender> senders = {
            {direct, alice.id}, {direct, bob.id}, {team, alice.id}, {team, bob.id}};
        const int kSenders = int(senders.size());
        std::map<std::string, quint64> ackedSeq; // client id -> the seq its ack named
        int unavailable = 0;
        QStringList unexpected;
        int acked = 0;
        int quota = 0;
        std::function<void(size_t)> sendNext;
        // Goes first when the test returns, taking the completions and
        // retries still to come with it: they use the state above.
        QObject receiver;
        sendNext = [&](size_t i) {
            Sender &s = senders[i];
            if (s.acked >= quota) {
                s.idle = true;
                return;
            }
            const QString id = QStringLiteral("s%1-%2").arg(i).arg(s.acked);
            store->appendMessage(appendRequest(s.conversation, s.user, id), &receiver,
                                 [&, i, id](Result<AppendResult> r) {
                                     if (r.ok()) {
                                         const auto [it, fresh] =
                                             ackedSeq.emplace(id.toStdString(), r->message.seq());
                                         if (!fresh)
                                             unexpected << QStringLiteral("%1 acked twice").arg(id);
                                         ++senders[i].acked;
                                         ++acked;
                                         sendNext(i);
                                         return;
                                     }
                                     if (r.error().code == v1::UNAVAILABLE)
                                         ++unavailable;
                                     else
                                         unexpected << r.error().message;
                                     // Again with the same client id, as a client's outbox does.
                                     QTimer::singleShot(20, &receiver,
                                                        [&sendNext, i] { sendNext(i); });
                                 });
        };
        const auto allowMore = [&] {
            quota += kStep;
            for (size_t i = 0; i < senders.size(); ++i) {
                if (senders[i].idle) {
                    senders[i].idle = false;
                    sendNext(i);
                }
            }
        };
        // Holds the conversations' rows, then lets the senders go on: their
        // next batch waits inside its transaction.
        std::unique_ptr<pg::PgConnection> blocker;
        const auto sendIntoALock = [&] {
            auto connected = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("blocker"));
            QVERIFY(connected);
            blocker = std::move(*connected);
            QVERIFY(blocker->command(QStringLiteral("BEGIN"), "begin").ok());
            QVERIFY(
                blocker->command(QStringLiteral("SELECT 1 FROM conversations FOR UPDATE"), "lock")
                    .ok());
            allowMore();
            QTRY_COMPARE_WITH_TIMEOUT(
                sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ="
                                   " 'restarting writer' AND wait_event_type = 'Lock'")),
                QByteArray("1"), kWaitMs);
            QCOMPARE(acked, quota * kSenders - kStep * kSenders); // nothing of it acked
        };

        allowMore();
        QTRY_COMPARE_WITH_TIMEOUT(acked, quota * kSenders, kWaitMs);

        // Stopped with a batch in flight.
        sendIntoALock();
        if (QTest::currentTestFailed())
            return;
        QVERIFY(m_postgres->stop());
        QTRY_VERIFY_WITH_TIMEOUT(unavailable >= 1, kWaitMs);
        const auto read = store->userById(alice.id);
        QVERIFY(!read.ok());
        QCOMPARE(read.error().code, v1::UNAVAILABLE);
        QVERIFY(m_postgres->start());
        QTRY_COMPARE_WITH_TIMEOUT(acked, quota * kSenders, kWaitMs);

        // Crashed with a batch in flight.
        const int unavailableBefore = unavailable;
        sendIntoALock();
        if (QTest::currentTestFailed())
            return;
        QVERIFY(m_postgres->crash());
        QTRY_VERIFY_WITH_TIMEOUT(unavailable > unavailableBefore, kWaitMs);
        QVERIFY(m_postgres->start());
        QTRY_COMPARE_WITH_TIMEOUT(acked, quota * kSenders, kWaitMs);

        // And on to the end after both.
        allowMore();
        QCOMPARE(quota, kEach);
        QTRY_COMPARE_WITH_TIMEOUT(acked, kSenders * kEach, kWaitMs);
        QVERIFY2(unexpected.isEmpty(), qPrintable(unexpected.join(QStringLiteral("; "))));
        QVERIFY(store->writerReconnects() >= 2);

        int stored = 0;
        for (const QString &conversation : {direct, team}) {
            const QList<v1::Message> messages = pullAll(*store, conversation);
            QCOMPARE(seqsOf(messages), oneTo(quint64(messages.size())));
            for (const v1::Message &m : messages) {
                if (m.content().has_system())
                    continue;
                ++stored;
                const auto it = ackedSeq.find(m.client_msg_id());
                QVERIFY2(it != ackedSeq.end(), m.client_msg_id().c_str());
                QCOMPARE(it->second, quint64(m.seq()));
            }
        }
        QCOMPARE(stored, kSenders * kEach);
    }

    // A read connection left idle across a restart of the database is dead;
    // the first read afterwards runs again on a new one instead of failing.
    void readsRecoverAfterRestart()
    {
        PostgresStore::Options options;
        options.name = QStringLiteral("recovering");
        auto store = openStore(options);
        QVERIFY(store);
        const UserRecord alice = addUser(*store, QStringLiteral("alice"));
        // Two idle read connections: two reads held at once behind a lock.
        {
            auto blocker = pg::PgConnection::connect(url().toUtf8(), QStringLiteral("blocker"));
            QVERIFY(blocker);
            QVERIFY((*blocker)->command(QStringLiteral("BEGIN"), "begin").ok());
            QVERIFY(
                (*blocker)
                    ->command(QStringLiteral("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"), "lock")
                    .ok());
            std::atomic<int> ok{0};
            std::vector<std::thread> readers;
            const auto joinReaders = qScopeGuard([&] {
                blocker->reset();
                for (auto &reader : readers)
                    reader.join();
            });
            for (int i = 0; i < 2; ++i)
                readers.emplace_back([&] { ok += store->userById(alice.id).ok() ? 1 : 0; });
            QTRY_COMPARE_WITH_TIMEOUT(
                sql(QStringLiteral("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name ="
                                   " 'recovering reader' AND wait_event_type = 'Lock'")),
                QByteArray("2"), kWaitMs);
        }
        QCOMPARE(store->openReadConnections(), 2);
        QVERIFY(m_postgres->stop());
        QVERIFY(m_postgres->start());
        const auto again = store->userById(alice.id);
        QVERIFY2(again.ok(), again.ok() ? "" : qPrintable(again.error().message));
        QCOMPARE(again->username, QStringLiteral("alice"));
        // Writes too: the first batch after the restart finds its connection dead
        // before sending anything and runs on a new one.
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    store->setDisabled(alice.id, true, ctx, done);
                }).ok());
    }

    // ---- accounts disabled elsewhere ------------------------------------------------------------

    // An account disabled through one store (an admin command, another node)
    // reaches every store that watches, once committed; after the watcher
    // lost the database it says that it may have missed some (0).
    void disabledAccountsReachOtherNodes()
    {
        auto watching = openStore();
        auto admin = openStore();
        QVERIFY(watching && admin);
        const UserRecord alice = addUser(*admin, QStringLiteral("alice"));
        const UserRecord bob = addUser(*admin, QStringLiteral("bob"));
        QList<quint64> told;
        QObject listener; // goes before `told`: nothing is delivered after
        QVERIFY(watching->watchDisabledAccounts(&listener,
                                                [&told](quint64 userId) { told.append(userId); }));

        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    admin->setDisabled(bob.id, true, ctx, done);
                }).ok());
        QTRY_COMPARE_WITH_TIMEOUT(told, QList<quint64>{bob.id}, kWaitMs);
        // Enabling tells nobody; a refused write tells nobody either.
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    admin->setDisabled(bob.id, false, ctx, done);
                }).ok());
        QCOMPARE(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     admin->setDisabled(4242, true, ctx, done);
                 })
                     .error()
                     .code,
                 v1::NOT_FOUND);
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    admin->setDisabled(alice.id, true, ctx, done);
                }).ok());
        QTRY_COMPARE_WITH_TIMEOUT(told, (QList<quint64>{bob.id, alice.id}), kWaitMs);

        QVERIFY(m_postgres->stop());
        QVERIFY(m_postgres->start());
        QTRY_COMPARE_WITH_TIMEOUT(told.size(), 3, kWaitMs);
        QCOMPARE(told.last(), 0u);
        // And it listens again.
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    admin->setDisabled(bob.id, true, ctx, done);
                }).ok());
        QTRY_COMPARE_WITH_TIMEOUT(told.size(), 4, kWaitMs);
        QCOMPARE(told.last(), bob.id);
    }

    void cannotOpenWithoutTheDatabase()
    {
        PostgresStore missing(m_postgres->url(QStringLiteral("no_such_database")));
        const Status opened = missing.open();
        QVERIFY(!opened.ok());
        QCOMPARE(opened.error().code, v1::UNAVAILABLE);
    }
};

QTEST_GUILESS_MAIN(TestPostgresStore)
#include "tst_postgres_store.moc"
