#include "store_backends.h"

#include "sqlite_store.h"

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
    };
    return backends;
}

} // namespace kith::server::test
