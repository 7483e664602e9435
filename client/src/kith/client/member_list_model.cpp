#include "kith/client/member_list_model.h"

#include "kith/client/kith_client.h"
#include "kith/client/sync_engine.h"

#include <QDateTime>

namespace kith::client {

MemberListModel::MemberListModel(QObject *parent)
    : QAbstractListModel(parent)
{}

MemberListModel::MemberListModel(KithClient *client, const QString &conversationId, QObject *parent)
    : QAbstractListModel(parent)
    , m_conversationId(conversationId)
{
    setClient(client);
}

void MemberListModel::setClient(KithClient *client)
{
    if (m_client == client)
        return;
    for (const auto &c : std::as_const(m_connections))
        disconnect(c);
    m_connections.clear();
    m_client = client;
    if (client) {
        LocalStore *s = client->store();
        m_connections << connect(s, &LocalStore::reset, this, &MemberListModel::reload)
                      << connect(s, &LocalStore::membersChanged, this,
                                 [this](const QString &id) {
                                     if (id == m_conversationId)
                                         reload();
                                 })
                      << connect(s, &LocalStore::userChanged, this,
                                 [this](quint64 userId) {
                                     for (int i = 0; i < m_members.size(); ++i)
                                         if (m_members.at(i).userId == userId)
                                             emit dataChanged(index(i), index(i));
                                 })
                      << connect(client, &KithClient::avatarsChanged, this, [this] {
                             if (!m_members.isEmpty())
                                 emit dataChanged(index(0), index(int(m_members.size()) - 1),
                                                  {AvatarUrlRole});
                         });
    }
    emit clientChanged();
    refresh();
}

void MemberListModel::setConversationId(const QString &conversationId)
{
    if (m_conversationId == conversationId)
        return;
    m_conversationId = conversationId;
    emit conversationIdChanged();
    refresh();
}

void MemberListModel::refresh()
{
    reload();
    if (m_client && !m_conversationId.isEmpty() && m_conversationId.startsWith(u'g'))
        m_client->syncEngine()->refreshMembers(m_conversationId);
}

void MemberListModel::reload()
{
    beginResetModel();
    m_members.clear();
    if (m_client && m_client->store()->isOpen() && !m_conversationId.isEmpty())
        m_members = m_client->store()->members(m_conversationId);
    endResetModel();
    emit countChanged();
}

int MemberListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_members.size());
}

QVariant MemberListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid) ||
        !m_client)
        return {};
    const MemberRow &member = m_members.at(index.row());
    LocalStore *s = m_client->store();
    const auto user = s->isOpen() ? s->user(member.userId) : std::nullopt;
    switch (role) {
    case UserIdRole:
        return qint64(member.userId);
    case UsernameRole:
        return user ? user->username : QString();
    case Qt::DisplayRole:
    case DisplayNameRole:
        return user ? user->shownName() : QStringLiteral("user %1").arg(member.userId);
    case RoleRole:
        return int(member.role);
    case RoleNameRole:
        switch (member.role) {
        case v1::OWNER:
            return QStringLiteral("owner");
        case v1::ADMIN:
            return QStringLiteral("admin");
        default:
            return QStringLiteral("member");
        }
    case OnlineRole:
        return user && user->online;
    case JoinedRole:
        return QDateTime::fromMSecsSinceEpoch(member.joinedMs);
    case IsMeRole:
        return member.userId == s->myUserId();
    case AvatarUrlRole:
        return user ? m_client->avatarUrlForFile(user->avatarFileId) : QUrl();
    case AvatarColorRole:
        return user ? int(user->avatarColor) : 0;
    default:
        return {};
    }
}

QHash<int, QByteArray> MemberListModel::roleNames() const
{
    return {{UserIdRole, "userId"},           {UsernameRole, "username"},
            {DisplayNameRole, "displayName"}, {RoleRole, "role"},
            {RoleNameRole, "roleName"},       {OnlineRole, "online"},
            {JoinedRole, "joined"},           {IsMeRole, "isMe"},
            {AvatarUrlRole, "avatarUrl"},     {AvatarColorRole, "avatarColor"}};
}

} // namespace kith::client
