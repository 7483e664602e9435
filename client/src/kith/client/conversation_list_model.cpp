#include "kith/client/conversation_list_model.h"

#include "kith/client/kith_client.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/content.h"
#include "kith/protocol.h"

#include <algorithm>

namespace kith::client {

ConversationListModel::ConversationListModel(LocalStore *store, QObject *parent)
    : QAbstractListModel(parent)
    , m_store(store)
{
    connect(m_store, &LocalStore::reset, this, &ConversationListModel::reload);
    connect(m_store, &LocalStore::conversationChanged, this,
            &ConversationListModel::onConversationChanged);
    connect(m_store, &LocalStore::conversationRemoved, this,
            &ConversationListModel::onConversationRemoved);
    connect(m_store, &LocalStore::userChanged, this, &ConversationListModel::onUserChanged);
    m_muteEnds.setSingleShot(true);
    connect(&m_muteEnds, &QTimer::timeout, this, &ConversationListModel::onMuteEnds);
    reload();
}

void ConversationListModel::watchMuteEnds()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    qint64 soonest = 0;
    for (const auto &row : m_rows)
        if (row.mutedUntilMs > now && (soonest == 0 || row.mutedUntilMs < soonest))
            soonest = row.mutedUntilMs;
    if (soonest == 0) {
        m_muteEnds.stop();
        return;
    }
    // A day at most: a timer's interval is an int, and the clock may be set.
    constexpr qint64 kLongestWaitMs = 24 * 3600 * 1000;
    m_muteEnds.start(int(std::min(soonest - now + 1, kLongestWaitMs)));
}

void ConversationListModel::onMuteEnds()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (int i = 0; i < m_rows.size(); ++i) {
        Row &row = m_rows[i];
        if (row.mutedUntilMs > 0 && row.mutedUntilMs <= now) {
            row.mutedUntilMs = 0;
            emit dataChanged(index(i), index(i), {MutedRole});
        }
    }
    watchMuteEnds();
}

bool ConversationListModel::before(const Row &a, const Row &b)
{
    if (a.lastActivityMs != b.lastActivityMs)
        return a.lastActivityMs > b.lastActivityMs;
    return a.id < b.id;
}

std::optional<ConversationListModel::Row>
ConversationListModel::readRow(const QString &conversationId) const
{
    const auto c = m_store->conversation(conversationId);
    if (!c)
        return std::nullopt;
    Row row;
    row.id = c->id;
    row.isGroup = c->kind == v1::GROUP;
    row.peerUserId = c->peerUserId;
    row.title = c->title;
    if (!row.isGroup) {
        const auto peer = m_store->user(c->peerUserId);
        row.title = peer ? peer->shownName() : QStringLiteral("user %1").arg(c->peerUserId);
        row.peerOnline = peer && peer->online;
        row.peerLastSeenMs = peer ? peer->lastSeenMs : 0;
        row.peerBlocked = m_store->isBlocked(c->peerUserId);
        row.avatarFileId = peer ? peer->avatarFileId : QString();
        row.avatarColor = peer ? peer->avatarColor : 0;
    } else {
        row.avatarFileId = c->avatarFileId;
        row.avatarColor = c->avatarColor;
    }
    row.lastMessage = c->lastPreview;
    if (c->lastSenderUserId != 0) {
        const auto sender = m_store->user(c->lastSenderUserId);
        row.lastSenderName = sender ? sender->shownName() : QString();
    }
    row.lastActivityMs = c->lastActivityMs;
    if (c->lastSenderUserId != 0 && c->lastSenderUserId == m_store->myUserId())
        row.lastStatus = !row.isGroup && c->peerReadSeq >= c->maxSeq ? MessageListModel::Read
                                                                     : MessageListModel::Sent;
    row.unread = int(c->unreadCount);
    row.unreadMentions = int(c->unreadMentions);
    row.memberCount = int(c->memberCount);
    row.myRole = int(c->myRole);
    row.mutedUntilMs = c->mutedUntilMs;
    row.archived = c->archived;
    // One summary, not the whole queue: a long outbox made every change quadratic.
    const OutboxSummary outbox = m_store->outboxSummary(conversationId);
    row.pending = outbox.pending;
    row.failed = outbox.failed;
    if (outbox.newest && outbox.newest->createdMs > row.lastActivityMs) {
        const OutboxEntry &entry = *outbox.newest;
        row.lastStatus = entry.status == OutboxStatus::Pending ? MessageListModel::Pending
                                                               : MessageListModel::Failed;
        row.lastActivityMs = entry.createdMs;
        row.lastMessage = StoredMessage{{}, 0, 0, 0, 0, {}, 0, entry.content}.text();
        const auto me = m_store->user(m_store->myUserId());
        row.lastSenderName = me ? me->shownName() : QString();
    }
    row.hasDraft = !m_store->draft(conversationId).isEmpty();
    return row;
}

void ConversationListModel::reload()
{
    beginResetModel();
    m_rows.clear();
    if (m_store->isOpen()) {
        for (const auto &id : m_store->conversationIds())
            if (auto row = readRow(id))
                m_rows << *row;
        std::sort(m_rows.begin(), m_rows.end(), &ConversationListModel::before);
    }
    endResetModel();
    emit countChanged();
    emit totalUnreadChanged();
    watchMuteEnds();
}

int ConversationListModel::indexOf(const QString &conversationId) const
{
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).id == conversationId)
            return i;
    return -1;
}

void ConversationListModel::onConversationChanged(const QString &conversationId)
{
    auto row = readRow(conversationId);
    if (!row) {
        onConversationRemoved(conversationId);
        return;
    }
    const int from = indexOf(conversationId);
    if (from < 0) {
        const auto pos =
            std::lower_bound(m_rows.begin(), m_rows.end(), *row, &ConversationListModel::before);
        const int at = int(pos - m_rows.begin());
        beginInsertRows({}, at, at);
        m_rows.insert(at, *row);
        endInsertRows();
        emit countChanged();
        emit totalUnreadChanged();
        watchMuteEnds();
        return;
    }
    const int oldUnread = m_rows.at(from).unread;
    QList<Row> without = m_rows;
    without.removeAt(from);
    const int to =
        int(std::lower_bound(without.begin(), without.end(), *row, &ConversationListModel::before) -
            without.begin());
    if (to != from) {
        beginMoveRows({}, from, from, {}, to > from ? to + 1 : to);
        m_rows.move(from, to);
        endMoveRows();
    }
    const bool muteChanged = m_rows.at(to).mutedUntilMs != row->mutedUntilMs;
    m_rows[to] = *row;
    emit dataChanged(index(to), index(to));
    if (oldUnread != row->unread)
        emit totalUnreadChanged();
    if (muteChanged)
        watchMuteEnds();
}

void ConversationListModel::onConversationRemoved(const QString &conversationId)
{
    const int at = indexOf(conversationId);
    if (at < 0)
        return;
    beginRemoveRows({}, at, at);
    m_rows.removeAt(at);
    endRemoveRows();
    emit countChanged();
    emit totalUnreadChanged();
}

void ConversationListModel::onUserChanged(quint64 userId)
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).peerUserId != userId)
            continue;
        if (auto row = readRow(m_rows.at(i).id)) {
            m_rows[i].title = row->title;
            m_rows[i].peerOnline = row->peerOnline;
            m_rows[i].peerLastSeenMs = row->peerLastSeenMs;
            m_rows[i].peerBlocked = row->peerBlocked;
            m_rows[i].avatarFileId = row->avatarFileId;
            m_rows[i].avatarColor = row->avatarColor;
            emit dataChanged(index(i), index(i),
                             {TitleRole, PeerOnlineRole, PeerLastSeenRole, PeerBlockedRole,
                              AvatarUrlRole, AvatarColorRole});
        }
    }
}

void ConversationListModel::refreshAvatars()
{
    for (int i = 0; i < m_rows.size(); ++i)
        if (!m_rows.at(i).avatarFileId.isEmpty())
            emit dataChanged(index(i), index(i), {AvatarUrlRole});
}

int ConversationListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant ConversationListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole:
        return row.title;
    case ConversationIdRole:
        return row.id;
    case IsGroupRole:
        return row.isGroup;
    case PeerUserIdRole:
        return qint64(row.peerUserId);
    case PeerOnlineRole:
        return row.peerOnline && !row.peerBlocked;
    case LastMessageRole:
        return row.lastMessage;
    case LastSenderNameRole:
        return row.lastSenderName;
    case LastActivityRole:
        return row.lastActivityMs > 0 ? QDateTime::fromMSecsSinceEpoch(row.lastActivityMs)
                                      : QDateTime();
    case UnreadCountRole:
        return row.unread;
    case MemberCountRole:
        return row.memberCount;
    case MyRoleRole:
        return row.myRole;
    case PendingCountRole:
        return row.pending;
    case FailedCountRole:
        return row.failed;
    case HasDraftRole:
        return row.hasDraft;
    case LastStatusRole:
        return row.lastStatus;
    case MutedRole:
        return row.mutedUntilMs == kMutedForever ||
               row.mutedUntilMs > QDateTime::currentMSecsSinceEpoch();
    case ArchivedRole:
        return row.archived;
    case PeerBlockedRole:
        return row.peerBlocked;
    case UnreadMentionsRole:
        return row.unreadMentions;
    case AvatarUrlRole:
        return row.avatarFileId.isEmpty() || !m_avatarUrlOf ? QUrl()
                                                            : m_avatarUrlOf(row.avatarFileId);
    case AvatarColorRole:
        return int(row.avatarColor);
    case PeerLastSeenRole:
        return row.peerLastSeenMs > 0 && !row.peerBlocked
                   ? QDateTime::fromMSecsSinceEpoch(row.peerLastSeenMs)
                   : QDateTime();
    default:
        return {};
    }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const
{
    return {
        {ConversationIdRole, "conversationId"},
        {TitleRole, "title"},
        {IsGroupRole, "isGroup"},
        {PeerUserIdRole, "peerUserId"},
        {PeerOnlineRole, "peerOnline"},
        {PeerLastSeenRole, "peerLastSeen"},
        {LastMessageRole, "lastMessage"},
        {LastSenderNameRole, "lastSenderName"},
        {LastActivityRole, "lastActivity"},
        {UnreadCountRole, "unreadCount"},
        {MemberCountRole, "memberCount"},
        {MyRoleRole, "myRole"},
        {PendingCountRole, "pendingCount"},
        {FailedCountRole, "failedCount"},
        {HasDraftRole, "hasDraft"},
        {LastStatusRole, "lastStatus"},
        {MutedRole, "muted"},
        {ArchivedRole, "archived"},
        {PeerBlockedRole, "peerBlocked"},
        {UnreadMentionsRole, "unreadMentions"},
        {AvatarUrlRole, "avatarUrl"},
        {AvatarColorRole, "avatarColor"},
    };
}

int ConversationListModel::totalUnread() const
{
    int total = 0;
    for (const auto &row : m_rows)
        total += row.unread;
    return total;
}

} // namespace kith::client
