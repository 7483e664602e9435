#include "store_backends.h"

#include "pg_connection.h"
#include "postgres_store.h"
#include "sqlite_store.h"
#include "test_postgres.h"

#include <QCoreApplication>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>

namespace kith::server::test {

namespace {

class SqliteUnderTest final : public BackendUnderTest
{
public:
    [[nodiscard]] bool valid() const { return m_dir.isValid(); }

    std::unique_ptr<Store> open() override
    {
        return std::make_unique<SqliteStore>(m_dir.filePath(QStringLiteral("kith.db")));
    }

    bool setMemberRole(const QString &conversationId, quint64 userId, v1::Role role) override
    {
        const QString name = QStringLiteral("contract-role");
        bool ok = false;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
            db.setDatabaseName(m_dir.filePath(QStringLiteral("kith.db")));
            db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=10000"));
            if (db.open()) {
                QSqlQuery q(db);
                ok = q.prepare(QStringLiteral("UPDATE members SET role = ?"
                                              " WHERE conversation_id = ? AND user_id = ?"));
                q.addBindValue(int(role));
                q.addBindValue(conversationId);
                q.addBindValue(qint64(userId));
                ok = ok && q.exec() && q.numRowsAffected() == 1;
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
        return ok;
    }

private:
    QTemporaryDir m_dir;
};

// A database of its own per test, on one PostgreSQL server per test process
// (started by the first test that needs it, stopped when the process ends).
class PostgresUnderTest final : public BackendUnderTest
{
public:
    explicit PostgresUnderTest(QString url)
        : m_url(std::move(url))
    {}

    std::unique_ptr<Store> open() override { return std::make_unique<PostgresStore>(m_url); }

    bool setMemberRole(const QString &conversationId, quint64 userId, v1::Role role) override
    {
        auto c = pg::PgConnection::connect(m_url.toUtf8(), QStringLiteral("contract-role"));
        if (!c)
            return false;
        auto r = (*c)->query(QStringLiteral("UPDATE members SET role = $1"
                                            " WHERE conversation_id = $2 AND user_id = $3"),
                             {int(role), conversationId, userId}, "set role");
        return r && r->affected() == 1;
    }

private:
    QString m_url;
};

std::unique_ptr<BackendUnderTest> makePostgres(QString *whyNot)
{
    QString missing;
    if (!kith::test::TestPostgres::available(&missing)) {
        *whyNot = kith::test::skipMessage(missing);
        return nullptr;
    }
    static std::unique_ptr<kith::test::TestPostgres> server;
    static int databases = 0;
    if (!server) {
        server = std::make_unique<kith::test::TestPostgres>();
        // Stopped while the application still runs, not at static destruction.
        qAddPostRoutine([] { server.reset(); });
        if (!server->start())
            qWarning("PostgreSQL did not start:\n%s", server->log().right(3000).constData());
    }
    // A server that did not start, or a database that cannot be made, fails
    // the test when the store opens; it is not a reason to skip.
    const QString database = QStringLiteral("contract_%1").arg(++databases);
    if (!server->isRunning() || !server->createDatabase(database))
        return std::make_unique<PostgresUnderTest>(QStringLiteral("postgresql://no-server/none"));
    return std::make_unique<PostgresUnderTest>(server->url(database));
}

} // namespace

const std::vector<StoreBackend> &storeBackends()
{
    static const std::vector<StoreBackend> backends = {
        {"sqlite",
         [](QString *whyNot) -> std::unique_ptr<BackendUnderTest> {
             auto backend = std::make_unique<SqliteUnderTest>();
             if (!backend->valid()) {
                 *whyNot = QStringLiteral("no temporary folder");
                 return nullptr;
             }
             return backend;
         }},
        {"postgres", makePostgres},
    };
    return backends;
}

} // namespace kith::server::test
