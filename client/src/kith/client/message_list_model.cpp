#include "kith/client/message_list_model.h"

#include "kith/client/kith_client.h"
#include "kith/client/sync_engine.h"
#include "kith/client/transfer_queue.h"
#include "kith/content.h"
#include "kith/protocol.h"

#include <QDir>
#include <QFileInfo>
#include <QScopedValueRollback>

#include <algorithm>

namespace kith::client {

namespace {
// Image types the app shows inline (GIFs by their first frame).
bool isInlineImage(const std::string &mime)
{
    return mime == "image/png" || mime == "image/jpeg" || mime == "image/gif" ||
           mime == "image/webp" || mime == "image/bmp";
}

const QList<int> kFileRoles = {MessageListModel::FileUrlRole, MessageListModel::FileStateRole,
                               MessageListModel::FileProgressRole, MessageListModel::SendStatusRole,
                               MessageListModel::ErrorRole};
} // namespace

QSize MessageListModel::clampImageSize(quint32 width, quint32 height)
{
    if (width == 0 || height == 0)
        return {0, 0};
    double w = width;
    double h = height;
    // The shape first (widening the narrow side), then the size.
    if (w > h * kMaxImageAspect)
        h = w / kMaxImageAspect;
    else if (h > w * kMaxImageAspect)
        w = h / kMaxImageAspect;
    const double scale = std::min(1.0, double(kMaxImageSide) / std::max(w, h));
    return {std::max(1, int(w * scale)), std::max(1, int(h * scale))};
}

MessageListModel::Row MessageListModel::storedRow(const StoredMessage &message)
{
    Row row;
    row.message = message;
    return row;
}

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
            << connect(s, &LocalStore::userChanged, this, &MessageListModel::onUserChanged)
            << connect(client, &KithClient::avatarsChanged, this,
                       [this] {
                           if (!m_rows.isEmpty())
                               emit dataChanged(index(0), index(int(m_rows.size()) - 1),
                                                {SenderAvatarUrlRole});
                       })
            << connect(s, &LocalStore::transfersChanged, this,
                       &MessageListModel::onTransfersChanged);
        TransferQueue *q = client->transfers();
        m_connections
            << connect(q, &TransferQueue::progress, this, &MessageListModel::onTransferProgress)
            << connect(q, &TransferQueue::finished, this, &MessageListModel::onTransfersChanged)
            << connect(q, &TransferQueue::failed, this, &MessageListModel::onTransfersChanged);
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
    for (const TransferEntry &entry : s->transfers()) {
        if (entry.kind != TransferKind::Upload || entry.conversationId != m_conversationId)
            continue;
        Row row;
        row.outgoing = true;
        row.uploadId = entry.id;
        row.message.conversationId = entry.conversationId;
        *row.message.content.mutable_file() = entry.file;
        row.message.serverTimeMs = entry.createdMs;
        row.message.senderUserId = s->myUserId();
        row.outboxStatus =
            entry.state == TransferState::Failed ? OutboxStatus::Failed : OutboxStatus::Pending;
        row.error = entry.lastError;
        rows << row;
    }
    // Texts and files in the order they were written.
    std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
        return a.message.serverTimeMs < b.message.serverTimeMs;
    });
    return rows;
}

QString MessageListModel::rowKey(const Row &row) const
{
    return row.uploadId ? QStringLiteral("upload:%1").arg(row.uploadId) : row.message.clientMsgId;
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
            m_rows << storedRow(m);
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

bool MessageListModel::canFetchNewer() const
{
    return store() && !m_atLatest && !m_changing;
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
        m_rows.prepend(storedRow(older.at(i)));
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
            m_rows.insert(m_stored++, storedRow(m));
        endInsertRows();
    }
    if (newer.size() < kPageRows) {
        setAtLatest(true);
        setOutboxRows();
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
        m_rows << storedRow(m);
    for (const auto &m : newer)
        m_rows << storedRow(m);
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
        it->file.reset();
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
    m_rows.insert(pos, storedRow(message));
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
    setOutboxRows();
}

void MessageListModel::setOutboxRows()
{
    const int current = int(m_rows.size()) - m_stored;
    const QList<Row> entries = outboxRows();
    bool sameIds = current == entries.size();
    for (int i = 0; sameIds && i < current; ++i)
        sameIds = rowKey(m_rows.at(m_stored + i)) == rowKey(entries.at(i));
    if (sameIds) {
        for (int i = 0; i < current; ++i) {
            Row &row = m_rows[m_stored + i];
            if (row.outboxStatus != entries.at(i).outboxStatus ||
                row.error != entries.at(i).error) {
                row.outboxStatus = entries.at(i).outboxStatus;
                row.error = entries.at(i).error;
                row.file.reset();
                emit dataChanged(index(m_stored + i), index(m_stored + i), kFileRoles);
            }
        }
        return;
    }
    if (current > 0) {
        beginRemoveRows({}, m_stored, m_stored + current - 1);
        m_rows.resize(m_stored);
        endRemoveRows();
    }
    if (!entries.isEmpty()) {
        beginInsertRows({}, m_stored, m_stored + int(entries.size()) - 1);
        m_rows << entries;
        endInsertRows();
    }
    emitNeighbourChanged(m_stored);
    emit countChanged();
}

MessageListModel::FileStatus MessageListModel::fileStatus(const Row &row) const
{
    FileStatus status;
    if (row.message.content.kind_case() != v1::Content::kFile || !m_client)
        return status;
    TransferQueue *q = m_client->transfers();
    const auto stateOf = [q](const TransferEntry &entry, FileState running) {
        if (entry.state == TransferState::Failed)
            return TransferFailed;
        if (entry.state == TransferState::Paused)
            return Paused;
        return q->isRunning(entry.id) ? running : Queued;
    };
    if (row.uploadId) {
        status.transfer = row.uploadId;
        const auto entry = store() ? store()->transfer(row.uploadId) : std::nullopt;
        status.path = entry ? entry->path : QString();
        status.state = entry ? stateOf(*entry, Uploading) : Queued;
        return status;
    }
    status.path = q->cachedPath(row.message.content.file());
    if (status.path.isEmpty()) {
        status.state = Remote; // an id the server would not have made
        return status;
    }
    if (QFileInfo(status.path).isFile()) {
        status.state = Ready;
    } else if (const auto entry = q->downloadTo(status.path)) {
        status.transfer = entry->id;
        status.state = stateOf(*entry, Downloading);
    } else {
        status.state = Remote;
    }
    return status;
}

const MessageListModel::FileStatus &MessageListModel::cachedFileStatus(const Row &row) const
{
    if (!row.file) {
        row.file = fileStatus(row);
        // Shown: the cache keeps it longer than what nobody looked at.
        if (row.file->state == Ready && !row.uploadId)
            TransferQueue::markUsed(row.file->path);
    }
    return *row.file;
}

void MessageListModel::onTransfersChanged()
{
    if (m_client)
        m_progress.removeIf(
            [q = m_client->transfers()](const auto &it) { return !q->isRunning(it.key()); });
    // Uploads come and go as rows; the rest change state in place.
    if (m_atLatest && store()) {
        const QScopedValueRollback guard(m_changing, true);
        setOutboxRows();
    }
    for (int r = 0; r < m_rows.size(); ++r) {
        const Row &row = m_rows.at(r);
        if (!row.file)
            continue; // never shown: worked out when asked
        const FileStatus now = fileStatus(row);
        if (now.state != row.file->state || now.transfer != row.file->transfer ||
            now.path != row.file->path) {
            row.file = now;
            emit dataChanged(index(r), index(r), kFileRoles);
        }
    }
}

void MessageListModel::onTransferProgress(qint64 id, qint64 done, qint64 total)
{
    m_progress.insert(id, total > 0 ? std::clamp(qreal(done) / qreal(total), 0.0, 1.0) : 0.0);
    for (int r = 0; r < m_rows.size(); ++r) {
        const Row &row = m_rows.at(r);
        if (!row.file || row.file->transfer != id)
            continue;
        // Running now: Queued becomes Uploading or Downloading.
        row.file = fileStatus(row);
        emit dataChanged(index(r), index(r), {FileProgressRole, FileStateRole});
    }
}

bool MessageListModel::fetchFile(int r)
{
    if (r < 0 || r >= m_rows.size() || !m_client)
        return false;
    const Row &row = m_rows.at(r);
    const FileStatus status = fileStatus(row);
    if (row.uploadId || status.state == NoFile || status.path.isEmpty())
        return false;
    TransferQueue *q = m_client->transfers();
    switch (status.state) {
    case Remote: {
        QDir().mkpath(QFileInfo(status.path).absolutePath());
        if (!q->download(row.message.content.file(), status.path))
            return false;
        break;
    }
    case Paused:
    case TransferFailed:
        if (!q->resume(status.transfer))
            return false;
        break;
    default:
        return status.state != NoFile;
    }
    onTransfersChanged();
    return true;
}

bool MessageListModel::retryFile(int r)
{
    if (r < 0 || r >= m_rows.size() || !m_client)
        return false;
    const FileStatus status = fileStatus(m_rows.at(r));
    if (status.transfer == 0 || (status.state != TransferFailed && status.state != Paused))
        return false;
    return bool(m_client->transfers()->resume(status.transfer));
}

bool MessageListModel::cancelFile(int r)
{
    if (r < 0 || r >= m_rows.size() || !m_client)
        return false;
    const FileStatus status = fileStatus(m_rows.at(r));
    if (status.transfer == 0)
        return false;
    m_progress.remove(status.transfer);
    return bool(m_client->transfers()->cancel(status.transfer));
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
        emit dataChanged(
            index(0), index(int(m_rows.size()) - 1),
            {SenderNameRole, ReplySenderNameRole, SenderAvatarUrlRole, SenderAvatarColorRole});
    // Group events name people in their text; a message's text stays as it is.
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).message.content.kind_case() == v1::Content::kSystem)
            emit dataChanged(index(i), index(i), {TextRole});
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

// A group event as a sentence with the people in it, as other chat apps
// write it: "alice added bob and carol", "You renamed the group to …".
QString MessageListModel::systemSentence(const StoredMessage &message) const
{
    const v1::SystemEvent &event = message.content.system();
    const quint64 me = store() ? store()->myUserId() : 0;
    const quint64 actorId =
        event.actor_user_id() != 0 ? event.actor_user_id() : message.senderUserId;
    const auto name = [&](quint64 userId, bool first) {
        if (me != 0 && userId == me)
            return first ? QStringLiteral("You") : QStringLiteral("you");
        return senderName(userId);
    };
    const QString actor = actorId != 0 ? name(actorId, true) : QString();
    // "bob", "bob and carol", "bob, carol and dave", "bob, carol, dave and 3 others".
    const auto people = [&]() {
        constexpr int kNamed = 3;
        const int count = event.user_ids_size();
        // Four names are read as easily as "three and 1 other".
        const bool cut = count > kNamed + 1;
        QStringList names;
        for (int i = 0; i < (cut ? kNamed : count); ++i)
            names << name(event.user_ids(i), false);
        if (cut)
            return names.join(QStringLiteral(", ")) +
                   QStringLiteral(" and %1 others").arg(count - kNamed);
        if (names.size() <= 1)
            return names.value(0);
        const QString last = names.takeLast();
        return names.join(QStringLiteral(", ")) + QStringLiteral(" and ") + last;
    };
    const QString groupName = toQString(event.name()).simplified();
    const auto quoted = [](const QString &text) { return QChar(0x201C) + text + QChar(0x201D); };
    if (actor.isEmpty())
        return previewText(message.content);
    switch (event.kind()) {
    case v1::SystemEvent::GROUP_CREATED:
        return groupName.isEmpty()
                   ? actor + QStringLiteral(" created the group")
                   : actor + QStringLiteral(" created the group ") + quoted(groupName);
    case v1::SystemEvent::MEMBERS_ADDED:
        return event.user_ids_size() == 0 ? previewText(message.content)
                                          : actor + QStringLiteral(" added ") + people();
    case v1::SystemEvent::MEMBER_REMOVED:
        return event.user_ids_size() == 0 ? previewText(message.content)
                                          : actor + QStringLiteral(" removed ") + people();
    case v1::SystemEvent::MEMBER_LEFT:
        return actor + QStringLiteral(" left");
    case v1::SystemEvent::GROUP_RENAMED:
        return actor + QStringLiteral(" renamed the group to ") + quoted(groupName);
    case v1::SystemEvent::GROUP_AVATAR_CHANGED:
        if (event.color_only())
            return actor + QStringLiteral(" changed the group's colour");
        return event.avatar_file_id().empty()
                   ? actor + QStringLiteral(" removed the group picture")
                   : actor + QStringLiteral(" changed the group picture");
    default:
        return previewText(message.content);
    }
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
    const bool isFile = m.content.kind_case() == v1::Content::kFile;
    const v1::FileRef &file = m.content.file();
    switch (role) {
    case IsFileRole:
        return isFile;
    case FileNameRole:
        return isFile ? displayFileName(toQString(file.name())) : QString();
    case FileSizeRole:
        return qint64(file.size());
    case FileMimeRole:
        return toQString(file.mime_type());
    case IsImageRole:
        return isFile && isInlineImage(file.mime_type());
    case ImageWidthRole:
        return clampImageSize(file.width(), file.height()).width();
    case ImageHeightRole:
        return clampImageSize(file.width(), file.height()).height();
    case ThumbnailRole:
        return file.thumbnail().size() <= size_t(kMaxThumbnailBytes)
                   ? QByteArray::fromStdString(file.thumbnail())
                   : QByteArray();
    case CaptionRole:
        return toQString(file.caption());
    case FileUrlRole: {
        if (!isFile)
            return QUrl();
        const FileStatus &status = cachedFileStatus(row);
        // An upload's own file is on this device from the start.
        const bool here = status.state == Ready || (row.uploadId && !status.path.isEmpty());
        return here ? QUrl::fromLocalFile(status.path) : QUrl();
    }
    case FileStateRole:
        return isFile ? cachedFileStatus(row).state : NoFile;
    case IsVoiceNoteRole:
        return isFile && file.voice_note();
    case DurationMsRole:
        return int(std::min<quint32>(file.duration_ms(), 24u * 3600 * 1000));
    case FileProgressRole: {
        if (!isFile)
            return 0.0;
        const FileStatus &status = cachedFileStatus(row);
        if (status.state == Ready)
            return 1.0;
        if (const auto it = m_progress.find(status.transfer); it != m_progress.end())
            return *it;
        if (!m_client)
            return 0.0;
        // Under way since before this model: what the transfer has done.
        const auto [done, total] = m_client->transfers()->progressOf(status.transfer);
        return total > 0 ? std::clamp(qreal(done) / qreal(total), 0.0, 1.0) : 0.0;
    }
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
    case SenderAvatarUrlRole:
        return m.senderUserId == 0 || !m_client ? QUrl()
                                                : m_client->avatarUrl(qint64(m.senderUserId));
    case SenderAvatarColorRole:
        return m.senderUserId == 0 || !m_client ? 0 : m_client->avatarColor(qint64(m.senderUserId));
    case IsOwnRole:
        return row.outgoing || (me != 0 && m.senderUserId == me);
    case Qt::DisplayRole:
    case TextRole:
        return isSystem ? systemSentence(m) : m.text();
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
    case MentionsMeRole:
        return mentionsUser(m.content, me);
    case MentionsRole: {
        const std::string &text = m.content.kind_case() == v1::Content::kFile
                                      ? m.content.file().caption()
                                      : m.content.text().body();
        QVariantList list;
        for (const v1::Mention &mention : m.content.mentions()) {
            const size_t end = size_t(mention.offset()) + mention.length();
            if (mention.length() == 0 || end > text.size())
                continue;
            // UTF-8 byte positions (whole characters, as the server checked) to QString ones.
            const qsizetype start =
                QString::fromUtf8(text.data(), qsizetype(mention.offset())).size();
            const qsizetype length =
                QString::fromUtf8(text.data() + mention.offset(), qsizetype(mention.length()))
                    .size();
            list.append(QVariantMap{{QStringLiteral("userId"), qint64(mention.user_id())},
                                    {QStringLiteral("start"), start},
                                    {QStringLiteral("length"), length}});
        }
        return list;
    }
    case DeletedRole:
        return m.content.kind_case() == v1::Content::kDeleted;
    case PinnedRole:
        return m.content.pinned_ms() != 0;
    case ReactionsRole: {
        QVariantList list;
        for (const v1::ReactionCount &reaction : m.content.reactions()) {
            QStringList names;
            bool mine = false;
            for (quint64 user : reaction.user_ids()) {
                names << senderName(user);
                mine = mine || (me != 0 && user == me);
            }
            list << QVariantMap{{QStringLiteral("emoji"), toQString(reaction.emoji())},
                                {QStringLiteral("count"), int(reaction.user_ids_size())},
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
        {SenderAvatarUrlRole, "senderAvatarUrl"},
        {SenderAvatarColorRole, "senderAvatarColor"},
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
        {PinnedRole, "pinned"},
        {DeletedRole, "deleted"},
        {ReactionsRole, "reactions"},
        {IsFileRole, "isFile"},
        {FileNameRole, "fileName"},
        {FileSizeRole, "fileSize"},
        {FileMimeRole, "fileMime"},
        {IsImageRole, "isImage"},
        {ImageWidthRole, "imageWidth"},
        {ImageHeightRole, "imageHeight"},
        {ThumbnailRole, "thumbnail"},
        {CaptionRole, "caption"},
        {FileUrlRole, "fileUrl"},
        {FileStateRole, "fileState"},
        {FileProgressRole, "fileProgress"},
        {IsVoiceNoteRole, "isVoiceNote"},
        {DurationMsRole, "durationMs"},
        {MentionsMeRole, "mentionsMe"},
        {MentionsRole, "mentions"},
    };
}

} // namespace kith::client
