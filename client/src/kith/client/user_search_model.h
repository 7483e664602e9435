#pragma once
// UserSearchModel: the server's user directory filtered by a query, for "new
// chat" and "add member" pickers. Setting `query` asks the server after a short
// pause in typing; with no query it lists the people this account already
// knows (from the local store), the most recent chat first. Owned by KithClient
// (KithClient.userSearch in QML).

#include <QAbstractListModel>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include "kith/v1/envelope.pb.h"

namespace kith::client {

class Connection;
class LocalStore;

class UserSearchModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Use KithClient.userSearch")
    Q_PROPERTY(QString query READ query WRITE setQuery NOTIFY queryChanged)
    Q_PROPERTY(bool busy READ isBusy NOTIFY busyChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Roles {
        UserIdRole = Qt::UserRole + 1, // qint64
        UsernameRole,                  // QString
        DisplayNameRole,               // QString: falls back to the user name
        OnlineRole,                    // bool
        LastRole
    };
    Q_ENUM(Roles)

    // Wait for a pause in typing before asking the server.
    static constexpr int kDebounceMs = 250;
    static constexpr int kMaxResults = 50;

    UserSearchModel(Connection *connection, LocalStore *store, QObject *parent = nullptr);

    [[nodiscard]] QString query() const { return m_query; }
    void setQuery(const QString &query);
    [[nodiscard]] bool isBusy() const { return m_busy; }

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role) const override;
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

signals:
    void queryChanged();
    void busyChanged();
    void countChanged();

private:
    void runQuery();
    void showKnownUsers();
    void setBusy(bool busy);

    Connection *m_connection;
    LocalStore *m_store;
    QString m_query;
    QList<v1::User> m_users;
    QTimer m_debounce;
    quint64 m_generation = 0; // answers to superseded queries are dropped
    bool m_busy = false;
};

} // namespace kith::client
