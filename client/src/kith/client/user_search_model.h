#pragma once
// UserSearchModel: the server's user directory filtered by a query, for "new
// chat" and "add member" pickers. Setting `query` asks the server after a short
// pause in typing; with no query it lists the people this account already
// knows (from the local store), the most recent chat first, and
// showDirectory() lists everyone in the server's directory by user name. The
// server answers a page at a time: fetchMore (which a ListView calls at its
// end) appends the next while hasMore. Owned by KithClient
// (KithClient.userSearch in QML).

#include <QAbstractListModel>
#include <QTimer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include "kith/v1/envelope.pb.h"

#include <functional>

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
    Q_PROPERTY(bool hasMore READ hasMore NOTIFY hasMoreChanged)
public:
    enum Roles {
        UserIdRole = Qt::UserRole + 1, // qint64
        UsernameRole,                  // QString
        DisplayNameRole,               // QString: falls back to the user name
        OnlineRole,                    // bool
        AvatarUrlRole,                 // QUrl: the picture as a local file (empty: none or not yet)
        AvatarColorRole,               // int: 0 from the id, n: palette entry n - 1
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
    [[nodiscard]] bool hasMore() const { return !m_nextPage.empty(); }
    // Everyone in the server's directory (hidden accounts aside), by user name.
    Q_INVOKABLE void showDirectory();
    // The next page of the server's answer, appended (nothing while one is on its way).
    Q_INVOKABLE void loadMore() { fetchMore({}); }
    [[nodiscard]] bool canFetchMore(const QModelIndex &parent) const override;
    void fetchMore(const QModelIndex &parent) override;

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role) const override;
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    // Where a picture's local file is (see KithClient::avatarUrlForFile).
    void setAvatarUrls(std::function<QUrl(const QString &fileId)> urlOf)
    {
        m_avatarUrlOf = std::move(urlOf);
    }
    // A picture was fetched: rows showing one ask again.
    void refreshAvatars();

signals:
    void queryChanged();
    void busyChanged();
    void countChanged();
    void hasMoreChanged();

private:
    void onUserChanged(quint64 userId);
    void runQuery();
    void requestPage(const std::string &after);
    void setNextPage(const std::string &next);
    void showKnownUsers();
    void setBusy(bool busy);

    Connection *m_connection;
    LocalStore *m_store;
    QString m_query;
    QList<v1::User> m_users;
    std::function<QUrl(const QString &fileId)> m_avatarUrlOf;
    bool m_filling = false; // rows being added from an answer
    QTimer m_debounce;
    std::string m_nextPage;    // the server's cursor of the next page; empty: none
    bool m_serverList = false; // the rows are the server's answer (pages may follow)
    quint64 m_generation = 0;  // answers to superseded queries are dropped
    bool m_busy = false;
};

} // namespace kith::client
