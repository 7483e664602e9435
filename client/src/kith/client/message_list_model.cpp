#include "kith/client/message_list_model.h"

#include "kith/client/kith_client.h"
#include "kith/client/sync_engine.h"
#include "kith/content.h"
#include "kith/protocol.h"

#include <QScopedValueRollback>

#include <algorithm>

namespace kith::client {

MessageListModel::MessageListModel(QObject *parent)
    : QAbstractListModel(parent)
{}

MessageListModel::MessageListModel(KithClient *client, const QString &conversationId,
                                   QObject *parent)
    : QAbstractListModel(parent)
    , m_conversationId(conversationId)
{
    setClient(client);
}

LocalStore *MessageListModel::store() const
{
    return m_client && m_client->store()->isOpen() ? m_client->store() : nullptr;
}

void MessageListModel::setClient(KithClient *client)
{
    if (m_client == client)
        return;
    for (const auto &c : std::as_const(m_connections))
        disconnect(c);
    m_connections.clear();
    m_client = client;
    if (client) {
        LocalStore *s = client->store();
        m_connections
            << connect(s, &LocalStore::reset, this, &MessageListModel::reload)
            << connect(s, &LocalStore::messagesStored, this, &MessageListModel::onMessagesStored)
            << connect(s, &LocalStore::outboxChanged, this, &MessageListModel::onOutboxChanged)
            << connect(s, &LocalStore::conversationChanged, this,
                       &MessageListModel::onConversationChanged)
            << connect(s, &LocalStore::userChanged, this, &MessageListModel::onUserChanged);
    }
    emit clientChanged();
    reload();
}

void MessageListModel::setConversationId(const QString &conversationId)
{
    if (m_conversationId == conversationId)
        return;
    m_conversationId = conversationId;
    emit conversationIdChanged();
    reload();
}

void MessageListModel::setAtLatest(bool atLatest)
{
    if (m_atLatest == atLatest)
        return;
    m_atLatest = atLatest;
    emit atLatestChanged();
}

QList<MessageListModel::Row> MessageListModel::outboxRows() const
{
    QList<Row> rows;
    LocalStore *s = store();
    if (!s)
        return rows;
    for (const auto &entry : s->outbox(m_conversationId)) {
        if (isOperation(entry.content))
            continue; // shown once folded into its message
        Row row;
        row.outgoing = true;
        row.message.conversationId = entry.conversationId;
        row.message.clientMsgId = entry.clientMsgId;
        row.message.content = entry.content;
        row.message.serverTimeMs = entry.createdMs;
        row.message.senderUserId = s->myUserId();
        row.outboxStatus = entry.status;
        row.error = entry.lastError;
        rows << row;
    }
    return rows;
}

void MessageListModel::reload()
{
    beginResetModel();
    m_rows.clear();
    m_stored = 0;
    m_holdsOldest = false;
    setWantOlder(false);
    m_wantAround = 0;
    m_readSeq = 0;
    m_peerReadSeq = 0;
    LocalStore *s = store();
    if (s && !m_conversationId.isEmpty()) {
        if (const auto c = s->conversation(m_conversationId)) {
            m_readSeq = c->readSeq;
            m_peerReadSeq = c->peerReadSeq;
            m_direct = c->kind != v1::GROUP;
        }
        for (const auto &m : s->messagesBefore(m_conversationId, 0, kPageRows))
            m_rows << Row{m, false, OutboxStatus::Pending, {}};
        m_stored = int(m_rows.size());
        m_holdsOldest = m_stored < kPageRows;
        m_rows << outboxRows();
    }
    endResetModel();
    setAtLatest(true);
    emit readSeqChanged();
    emit countChanged();
}

void MessageListModel::setWantOlder(bool want)
{
    if (m_wantOlder == want)
        return;
    m_wantOlder = want;
    emit loadingOlderChanged();
}

bool MessageListModel::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && store() && !m_atLatest && !m_changing;
}

void MessageListModel::fetchMore(const QModelIndex &parent)
{
    if (canFetchMore(parent))
        fetchNewer();
}

bool MessageListModel::canFetchOlder() const
{
    if (!store() || m_conversationId.isEmpty() || m_wantOlder || m_changing)
        return false;
    if (m_stored > 0)
        return m_rows.first().message.seq > 1;
    const auto c = store()->conversation(m_conversationId);
    return c && c->maxSeq > 0;
}

void MessageListModel::fetchOlder()
{
    if (!canFetchOlder())
        return;
    // Views and testers may call back into the model from rowsInserted.
    const QScopedValueRollback guard(m_changing, true);
    const quint64 oldest = m_stored > 0 ? m_rows.first().message.seq : 0;
    const auto older = store()->messagesBefore(m_conversationId, oldest, kPageRows);
    if (older.isEmpty()) {
        setWantOlder(true);
        if (m_client)
            m_client->syncEngine()->requestOlder(m_conversationId, oldest);
        return;
    }
    m_holdsOldest = older.size() < kPageRows;
    beginInsertRows({}, 0, int(older.size()) - 1);
    for (qsizetype i = older.size() - 1; i >= 0; --i)
        m_rows.prepend(Row{older.at(i), false, OutboxStatus::Pending, {}});
    m_stored += int(older.size());
    endInsertRows();
    emitNeighbourChanged(int(older.size()));
    if (m_stored > kMaxWindowRows) {
        // Keep the window bounded: drop the newest rows (and the outbox rows after them).
        const int keep = kMaxWindowRows;
        beginRemoveRows({}, keep, int(m_rows.size()) - 1);
        m_rows.resize(keep);
        m_stored = keep;
        endRemoveRows();
        setAtLatest(false);
    }
    emit countChanged();
}

void MessageListModel::fetchNewer()
{
    LocalStore *s = store();
    if (!s || m_atLatest || m_changing)
        return;
    const QScopedValueRollback guard(m_changing, true);
    const quint64 newest = m_stored > 0 ? m_rows.at(m_stored - 1).message.seq : 0;
    const auto newer = s->messagesAfter(m_conversationId, newest, kPageRows);
    if (!newer.isEmpty()) {
        beginInsertRows({}, m_stored, m_stored + int(newer.size()) - 1);
        for (const auto &m : newer)
            m_rows.insert(m_stored++, Row{m, false, OutboxStatus::Pending, {}});
        endInsertRows();
    }
    if (newer.size() < kPageRows) {
        setAtLatest(true);
        setOutboxRows(s->outbox(m_conversationId));
    }
    trimOldest();
    emit countChanged();
}

void MessageListModel::jumpToLatest()
{
    if (!m_atLatest)
        reload();
}

void MessageListModel::loadAround(qint64 seq)
{
    LocalStore *s = store();
    if (!s || seq <= 0)
        return;
    if (const int row = rowOfSeq(seq); row >= 0) {
        emit loadedAround(seq, row);
        return;
    }
    if (s->message(m_conversationId, quint64(seq))) {
        centreOn(quint64(seq));
        return;
    }
    m_wantAround = quint64(seq);
    if (m_client)
        m_client->syncEngine()->requestOlder(m_conversationId, quint64(seq) + 1);
}

void MessageListModel::centreOn(quint64 seq)
{
    LocalStore *s = store();
    const QScopedValueRollback guard(m_changing, true);
    m_wantAround = 0;
    // Half a page either side: the view can scroll both ways before paging.
    const auto older = s->messagesBefore(m_conversationId, seq + 1, kPageRows / 2 + 1);
    const auto newer = s->messagesAfter(m_conversationId, seq, kPageRows / 2);
    const bool latest = newer.size() < kPageRows / 2;
    m_holdsOldest = older.size() < kPageRows / 2 + 1;
    beginResetModel();
    m_rows.clear();
    setWantOlder(false);
    for (const auto &m : older)
        m_rows << Row{m, false, OutboxStatus::Pending, {}};
    for (const auto &m : newer)
        m_rows << Row{m, false, OutboxStatus::Pending, {}};
    m_stored = int(m_rows.size());
    if (latest)
        m_rows << outboxRows();
    endResetModel();
    setAtLatest(latest);
    emit countChanged();
    emit loadedAround(qint64(seq), rowOfSeq(qint64(seq)));
}

int MessageListModel::rowOfSeq(qint64 seq) const
{
    const auto end = m_rows.begin() + m_stored;
    const auto it = std::lower_bound(m_rows.begin(), end, quint64(seq),
                                     [](const Row &r, quint64 s) { return r.message.seq < s; });
    return it != end && it->message.seq == quint64(seq) ? int(it - m_rows.begin()) : -1;
}

void MessageListModel::onMessagesStored(const QString &conversationId, const QList<quint64> &seqs)
{
    LocalStore *s = store();
    if (!s || conversationId != m_conversationId)
        return;
    if (m_wantAround != 0 && seqs.contains(m_wantAround))
        return centreOn(m_wantAround);
    const QScopedValueRollback guard(m_changing, true);
    const int before = int(m_rows.size());
    const bool wantedOlder = m_wantOlder;
    for (quint64 seq : seqs) {
        const auto m = s->message(conversationId, seq);
        if (!m || isOperation(m->content))
            continue;
        if (m->hidden) {
            removeStored(seq); // deleted for me, here or on another device
            continue;
        }
        insertStored(*m);
    }
    if (wantedOlder && int(m_rows.size()) > before)
        setWantOlder(false);
    if (m_atLatest)
        trimOldest();
    if (int(m_rows.size()) != before)
        emit countChanged();
}

void MessageListModel::removeStored(quint64 seq)
{
    const int row = rowOfSeq(qint64(seq));
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    --m_stored;
    endRemoveRows();
}

void MessageListModel::insertStored(const StoredMessage &message)
{
    const auto end = m_rows.begin() + m_stored;
    const auto it = std::lower_bound(m_rows.begin(), end, message.seq,
                                     [](const Row &r, quint64 s) { return r.message.seq < s; });
    if (it != end && it->message.seq == message.seq) {
        // Replaced: an edit, a deletion or a reaction was folded into it.
        it->message = message;
        const QModelIndex changed = index(int(it - m_rows.begin()));
        emit dataChanged(changed, changed);
        return;
    }
    const int pos = int(it - m_rows.begin());
    bool accept = false;
    if (m_stored == 0 || pos == m_stored)
        accept = m_atLatest; // newer than the window: only when showing the newest
    else if (pos == 0)
        accept = m_wantOlder || m_holdsOldest; // older: when asked for, or the window starts there
    else
        accept = true; // fills a hole inside the window
    if (!accept)
        return;
    beginInsertRows({}, pos, pos);
    m_rows.insert(pos, Row{message, false, OutboxStatus::Pending, {}});
    ++m_stored;
    endInsertRows();
    emitNeighbourChanged(pos + 1);
}

void MessageListModel::trimOldest()
{
    if (m_stored <= kMaxWindowRows)
        return;
    const int drop = m_stored - kMaxWindowRows;
    m_holdsOldest = false;
    beginRemoveRows({}, 0, drop - 1);
    m_rows.remove(0, drop);
    m_stored -= drop;
    endRemoveRows();
    emitNeighbourChanged(0);
}

void MessageListModel::onOutboxChanged(const QString &conversationId)
{
    LocalStore *s = store();
    if (!s || conversationId != m_conversationId || !m_atLatest)
        return;
    const QScopedValueRollback guard(m_changing, true);
    setOutboxRows(s->outbox(conversationId));
}

void MessageListModel::setOutboxRows(const QList<OutboxEntry> &entries)
{
    const int current = int(m_rows.size()) - m_stored;
    bool sameIds = current == entries.size();
    for (int i = 0; sameIds && i < current; ++i)
        sameIds = m_rows.at(m_stored + i).message.clientMsgId == entries.at(i).clientMsgId;
    if (sameIds) {
        for (int i = 0; i < current; ++i) {
            Row &row = m_rows[m_stored + i];
            if (row.outboxStatus != entries.at(i).status || row.error != entries.at(i).lastError) {
                row.outboxStatus = entries.at(i).status;
                row.error = entries.at(i).lastError;
                emit dataChanged(index(m_stored + i), index(m_stored + i),
                                 {SendStatusRole, ErrorRole});
            }
        }
        return;
    }
    if (current > 0) {
        beginRemoveRows({}, m_stored, m_stored + current - 1);
        m_rows.resize(m_stored);
        endRemoveRows();
    }
    const auto rows = outboxRows();
    if (!rows.isEmpty()) {
        beginInsertRows({}, m_stored, m_stored + int(rows.size()) - 1);
        m_rows << rows;
        endInsertRows();
    }
    emitNeighbourChanged(m_stored);
    emit countChanged();
}

void MessageListModel::onConversationChanged(const QString &conversationId)
{
    LocalStore *s = store();
    if (!s || conversationId != m_conversationId)
        return;
    const auto c = s->conversation(conversationId);
    if (!c)
        return;
    if (c->readSeq != m_readSeq) {
        m_readSeq = c->readSeq;
        emit readSeqChanged();
    }
    if (c->peerReadSeq != m_peerReadSeq) {
        m_peerReadSeq = c->peerReadSeq;
        if (m_stored > 0)
            emit dataChanged(index(0), index(m_stored - 1), {SendStatusRole});
    }
}

void MessageListModel::onUserChanged(quint64)
{
    if (!m_rows.isEmpty())
        emit dataChanged(index(0), index(int(m_rows.size()) - 1),
                         {SenderNameRole, ReplySenderNameRole});
}

void MessageListModel::emitNeighbourChanged(int row)
{
    if (row >= 0 && row < m_rows.size())
        emit dataChanged(index(row), index(row), {DayBoundaryRole, ShowSenderRole});
}

QString MessageListModel::senderName(quint64 userId) const
{
    return userId == 0 || !m_client ? QString() : m_client->displayName(qint64(userId));
}

int MessageListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant MessageListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const int r = index.row();
    const Row &row = m_rows.at(r);
    const StoredMessage &m = row.message;
    const quint64 me = store() ? store()->myUserId() : 0;
    const auto day = [this](int i) {
        return QDateTime::fromMSecsSinceEpoch(m_rows.at(i).message.serverTimeMs).date();
    };
    const bool isSystem = m.content.kind_case() == v1::Content::kSystem;
    switch (role) {
    case SeqRole:
        return row.outgoing ? qint64(0) : qint64(m.seq);
    case ServerIdRole:
        return qint64(m.serverId);
    case ClientMsgIdRole:
        return m.clientMsgId;
    case SenderIdRole:
        return qint64(m.senderUserId);
    case SenderNameRole:
        return senderName(m.senderUserId);
    case IsOwnRole:
        return row.outgoing || (me != 0 && m.senderUserId == me);
    case Qt::DisplayRole:
    case TextRole:
        return m.text();
    case IsSystemRole:
        return isSystem;
    case TimestampRole:
        return QDateTime::fromMSecsSinceEpoch(m.serverTimeMs);
    case DayBoundaryRole:
        return r == 0 || day(r) != day(r - 1);
    case ShowSenderRole: {
        if (r == 0 || day(r) != day(r - 1))
            return true;
        const StoredMessage &prev = m_rows.at(r - 1).message;
        return prev.senderUserId != m.senderUserId ||
               prev.content.kind_case() == v1::Content::kSystem;
    }
    case SendStatusRole:
        if (row.outgoing)
            return row.outboxStatus == OutboxStatus::Failed ? Failed : Pending;
        if (me == 0 || m.senderUserId != me)
            return Received;
        return m_direct && m.seq <= m_peerReadSeq ? Read : Sent;
    case ErrorRole:
        return row.error;
    case ReplyToSeqRole:
        return qint64(m.content.reply_to_seq());
    case EditedRole:
        return m.content.edited_ms() != 0;
    case DeletedRole:
        return m.content.kind_case() == v1::Content::kDeleted;
    case ReactionsRole: {
        QVariantList list;
        for (const v1::ReactionCount &r : m.content.reactions()) {
            QStringList names;
            bool mine = false;
            for (quint64 user : r.user_ids()) {
                names << senderName(user);
                mine = mine || (me != 0 && user == me);
            }
            list << QVariantMap{{QStringLiteral("emoji"), toQString(r.emoji())},
                                {QStringLiteral("count"), int(r.user_ids_size())},
                                {QStringLiteral("mine"), mine},
                                {QStringLiteral("names"), names.join(QStringLiteral(", "))}};
        }
        return list;
    }
    case ReplyPreviewRole: {
        if (m.content.reply_to_seq() == 0 || !store())
            return QString();
        const auto quoted = store()->message(m_conversationId, m.content.reply_to_seq());
        return quoted ? previewText(quoted->content) : QString();
    }
    case ReplySenderNameRole: {
        if (m.content.reply_to_seq() == 0 || !store())
            return QString();
        const auto quoted = store()->message(m_conversationId, m.content.reply_to_seq());
        return quoted ? senderName(quoted->senderUserId) : QString();
    }
    default:
        return {};
    }
}

QHash<int, QByteArray> MessageListModel::roleNames() const
{
    return {
        {SeqRole, "seq"},
        {ServerIdRole, "serverId"},
        {ClientMsgIdRole, "clientMsgId"},
        {SenderIdRole, "senderId"},
        {SenderNameRole, "senderName"},
        {IsOwnRole, "isOwn"},
        {TextRole, "text"},
        {IsSystemRole, "isSystem"},
        {TimestampRole, "timestamp"},
        {DayBoundaryRole, "dayBoundary"},
        {ShowSenderRole, "showSender"},
        {SendStatusRole, "sendStatus"},
        {ErrorRole, "error"},
        {ReplyToSeqRole, "replyToSeq"},
        {ReplyPreviewRole, "replyPreview"},
        {ReplySenderNameRole, "replySenderName"},
        {EditedRole, "edited"},
        {DeletedRole, "deleted"},
        {ReactionsRole, "reactions"},
    };
}

} // namespace kith::client
