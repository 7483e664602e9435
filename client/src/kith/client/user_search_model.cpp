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
    // A name or avatar changed (a profile push): the rows showing that user follow.
    connect(m_store, &LocalStore::userChanged, this, &UserSearchModel::onUserChanged);
}

void UserSearchModel::onUserChanged(quint64 userId)
{
    if (m_filling || !m_store->isOpen())
        return;
    for (int i = 0; i < m_users.size(); ++i) {
        if (m_users.at(i).id() != userId)
            continue;
        const auto row = m_store->user(userId);
        if (!row)
            return;
        v1::User &user = m_users[i];
        user.set_display_name(toStd(row->displayName));
        user.set_avatar_file_id(toStd(row->avatarFileId));
        user.set_avatar_color(row->avatarColor);
        emit dataChanged(index(i), index(i),
                         {Qt::DisplayRole, DisplayNameRole, AvatarUrlRole, AvatarColorRole});
    }
}

void UserSearchModel::setQuery(const QString &query)
{
    // An empty query again still re-reads the people known (a picker opening).
    if (m_query == query && !query.trimmed().isEmpty())
        return;
    const bool changed = m_query != query;
    m_query = query;
    if (changed)
        emit queryChanged();
    ++m_generation;
    setNextPage({});
    if (query.trimmed().isEmpty()) {
        m_debounce.stop();
        setBusy(false);
        showKnownUsers();
        return;
    }
    setBusy(true);
    m_debounce.start();
}

void UserSearchModel::showDirectory()
{
    if (!m_query.isEmpty()) {
        m_query.clear();
        emit queryChanged();
    }
    ++m_generation;
    m_debounce.stop();
    setNextPage({});
    setBusy(true);
    runQuery();
}

void UserSearchModel::setNextPage(const std::string &next)
{
    if (m_nextPage == next)
        return;
    m_nextPage = next;
    emit hasMoreChanged();
}

bool UserSearchModel::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && m_serverList && !m_nextPage.empty() && !m_busy;
}

void UserSearchModel::fetchMore(const QModelIndex &parent)
{
    if (!canFetchMore(parent))
        return;
    setBusy(true);
    requestPage(m_nextPage);
}

void UserSearchModel::showKnownUsers()
{
    beginResetModel();
    m_users.clear();
    m_serverList = false;
    if (m_store->isOpen()) {
        for (const UserRow &row : m_store->knownUsers(kMaxResults)) {
            v1::User user;
            user.set_id(row.id);
            user.set_username(toStd(row.username));
            user.set_display_name(toStd(row.displayName));
            user.set_online(row.online);
            user.set_last_seen_ms(row.lastSeenMs);
            user.set_avatar_file_id(toStd(row.avatarFileId));
            user.set_avatar_color(row.avatarColor);
            m_users << user;
        }
    }
    endResetModel();
    emit countChanged();
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
    requestPage({});
}

void UserSearchModel::requestPage(const std::string &after)
{
    v1::Envelope env;
    auto *search = env.mutable_search_users();
    search->set_query(toStd(m_query.trimmed()));
    search->set_limit(kMaxResults);
    search->set_page_after(after);
    const quint64 generation = m_generation;
    const bool first = after.empty();
    m_connection->request(env, [this, generation, first](Result<v1::Envelope> answer) {
        if (generation != m_generation)
            return;
        setBusy(false);
        if (!answer || answer->body_case() != v1::Envelope::kUserList)
            return;
        const auto &list = answer->user_list();
        if (first) {
            beginResetModel();
            m_users.clear();
            m_serverList = true;
        } else if (list.users_size() > 0) {
            beginInsertRows({}, int(m_users.size()), int(m_users.size()) + list.users_size() - 1);
        }
        m_filling = true; // the store tells of each user stored: they are rows already
        for (const auto &user : list.users()) {
            m_users << user;
            if (m_store->isOpen())
                (void)m_store->upsertUser(user);
        }
        m_filling = false;
        if (first)
            endResetModel();
        else if (list.users_size() > 0)
            endInsertRows();
        setNextPage(list.has_more() ? list.next_page() : std::string());
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
    case AvatarUrlRole:
        return user.avatar_file_id().empty() || !m_avatarUrlOf
                   ? QUrl()
                   : m_avatarUrlOf(toQString(user.avatar_file_id()));
    case AvatarColorRole:
        return int(user.avatar_color());
    default:
        return {};
    }
}

QHash<int, QByteArray> UserSearchModel::roleNames() const
{
    return {{UserIdRole, "userId"}, {UsernameRole, "username"},   {DisplayNameRole, "displayName"},
            {OnlineRole, "online"}, {AvatarUrlRole, "avatarUrl"}, {AvatarColorRole, "avatarColor"}};
}

void UserSearchModel::refreshAvatars()
{
    if (!m_users.isEmpty())
        emit dataChanged(index(0), index(int(m_users.size()) - 1), {AvatarUrlRole});
}

} // namespace kith::client
