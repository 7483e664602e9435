// PostgresStore against a real PostgreSQL started by the test: migrations and
// their version table, seqs from two stores (two nodes) writing one
// conversation at once, the bounded read pool, group commit, and the
// database restarting under load. (What every backend promises is the store
// contract suite's; these are the PostgreSQL backend's own promises.)
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "pg_connection.h"
#include "postgres_store.h"
#include "test_postgres.h"

#include <QTest>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

using namespace kith;
using namespace kith::server;
using kith::test::TestPostgres;

namespace {

constexpr int kWaitMs = 60000; // generous: the box is shared

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
        call(this, [&out](Result<T> r) { out.emplace(std::move(r)); });
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
