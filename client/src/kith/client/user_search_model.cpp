#include "kith/client/user_search_model.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/protocol.h"

namespace kith::client {

UserSearchModel::UserSearchModel(Connection *connection, LocalStore *store, QObject *parent)
    : QAbstractListModel(parent)
    , m_connection(connection)
    , m_store(store)
{
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(kDebounceMs);
    connect(&m_debounce, &QTimer::timeout, this, &UserSearchModel::runQuery);
}

void UserSearchModel::setQuery(const QString &query)
{
    if (m_query == query)
        return;
    m_query = query;
    emit queryChanged();
    ++m_generation;
    if (query.trimmed().isEmpty()) {
        m_debounce.stop();
        setBusy(false);
        if (!m_users.isEmpty()) {
            beginResetModel();
            m_users.clear();
            endResetModel();
            emit countChanged();
        }
        return;
    }
    setBusy(true);
    m_debounce.start();
}

void UserSearchModel::setBusy(bool busy)
{
    if (m_busy == busy)
        return;
    m_busy = busy;
    emit busyChanged();
}

void UserSearchModel::runQuery()
{
    v1::Envelope env;
    auto *search = env.mutable_search_users();
    search->set_query(toStd(m_query.trimmed()));
    search->set_limit(kMaxResults);
    const quint64 generation = m_generation;
    m_connection->request(env, [this, generation](Result<v1::Envelope> answer) {
        if (generation != m_generation)
            return;
        setBusy(false);
        if (!answer || answer->body_case() != v1::Envelope::kUserList)
            return;
        beginResetModel();
        m_users.clear();
        for (const auto &user : answer->user_list().users()) {
            m_users << user;
            if (m_store->isOpen())
                (void)m_store->upsertUser(user);
        }
        endResetModel();
        emit countChanged();
    });
}

int UserSearchModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_users.size());
}

QVariant UserSearchModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto &user = m_users.at(index.row());
    switch (role) {
    case UserIdRole:
        return qint64(user.id());
    case UsernameRole:
        return toQString(user.username());
    case Qt::DisplayRole:
    case DisplayNameRole:
        return user.display_name().empty() ? toQString(user.username())
                                           : toQString(user.display_name());
    case OnlineRole:
        return user.online();
    default:
        return {};
    }
}

QHash<int, QByteArray> UserSearchModel::roleNames() const
{
    return {{UserIdRole, "userId"},
            {UsernameRole, "username"},
            {DisplayNameRole, "displayName"},
            {OnlineRole, "online"}};
}

} // namespace kith::client
