#pragma once
// MessageListModel: the messages of one conversation for a chat view — a
// bounded window of rows read from LocalStore, oldest at row 0, with the
// outbox's pending and failed messages after the newest stored one. Older
// pages come with canFetchOlder/fetchOlder (from disk, or pulled from the
// server when not on disk yet); a window that grew past kMaxWindowRows drops
// rows at the far end and canFetchNewer/fetchNewer bring them back. The view
// asks for both as the reader nears either end: canFetchMore stays false,
// since QML's delegate model calls fetchMore whenever rows change and it may,
// wherever the reader is (after a page of older rows pushed the newest out,
// it pulled them straight back and the page out again: scrolling back
// stopped at the window's size). Created by QML
// (MessageListModel { client: KithClient; conversationId: … }) or by C++.

#include "kith/client/local_store.h"

#include <QAbstractListModel>
#include <QDateTime>
#include <QPointer>
#include <QSize>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

namespace kith::client {

class KithClient;

class MessageListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(kith::client::KithClient *client READ client WRITE setClient NOTIFY clientChanged)
    Q_PROPERTY(QString conversationId READ conversationId WRITE setConversationId NOTIFY
                   conversationIdChanged)
    Q_PROPERTY(bool atLatest READ atLatest NOTIFY atLatestChanged)
    // Older messages were asked of the server and have not come yet.
    Q_PROPERTY(bool loadingOlder READ isLoadingOlder NOTIFY loadingOlderChanged)
    Q_PROPERTY(qint64 readSeq READ readSeq NOTIFY readSeqChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    // Images up to this size are fetched as soon as a view shows them.
    Q_PROPERTY(qint64 autoDownloadBytes READ autoDownloadBytes CONSTANT)
public:
    enum Roles {
        SeqRole = Qt::UserRole + 1, // qint64: 0 for messages not yet acked
        ServerIdRole,               // qint64
        ClientMsgIdRole,            // QString
        SenderIdRole,               // qint64: 0 for system events
        SenderNameRole,             // QString
        IsOwnRole,                  // bool: sent by this account (any device)
        TextRole,                   // QString: the text, or a sentence for a system event
        IsSystemRole,               // bool: a group event (created, member added, …)
        TimestampRole,              // QDateTime: server time (local time while pending)
        DayBoundaryRole,            // bool: first row of its calendar day in the window
        ShowSenderRole,             // bool: first of a run of rows by the same sender
        SendStatusRole,             // SendStatus
        ErrorRole,                  // QString: why a failed message was refused
        ReplyToSeqRole,             // qint64: quoted seq, 0 for none
        ReplyPreviewRole,           // QString: one line of the quoted message, when on disk
        ReplySenderNameRole,        // QString: who wrote the quoted message, when on disk
        EditedRole,                 // bool: edited since it was sent ("edited" mark)
        DeletedRole,                // bool: deleted for everyone (a placeholder)
        // QVariantList of {emoji, count, mine, names}: reactions in order of first use
        ReactionsRole,
        PinnedRole, // bool: pinned in the conversation (the pinned bar)
        // Files (an upload under way shows as an own pending row).
        IsFileRole,          // bool
        FileNameRole,        // QString: the sender's name, safe to show (displayFileName)
        FileSizeRole,        // qint64: bytes
        FileMimeRole,        // QString
        IsImageRole,         // bool: an image type the app shows inline
        ImageWidthRole,      // int: the sender's reading, clamped (see clampImageSize); 0 unknown
        ImageHeightRole,     // int
        ThumbnailRole,       // QByteArray: the sender's small preview, not decoded; may be empty
        CaptionRole,         // QString: text sent with the file
        FileUrlRole,         // QUrl: the file on this device once it is there, else empty
        FileStateRole,       // FileState
        FileProgressRole,    // qreal: 0..1 of the transfer under way
        IsVoiceNoteRole,     // bool: recorded in a chat, played inline
        DurationMsRole,      // int: audio, the sender's word (0 unknown)
        MentionsMeRole,      // bool: the message (as edited) mentions this user
        MentionsRole,        // QVariantList of {userId, start, length}: where the text (or caption)
                             // names members, in QString positions, for highlighting; mentions
                             // sent without a place are left out (find "@name" instead)
        SenderAvatarUrlRole, // QUrl: the sender's picture as a local file (empty: none, or
                             // not fetched yet; asking fetches it)
        SenderAvatarColorRole, // int: the sender's avatar colour (0: from the id)
        LastRole
    };
    Q_ENUM(Roles)

    enum SendStatus {
        Received, // someone else's message
        Pending,  // in the outbox, not acked yet
        Sent,     // stored by the server
        Read,     // direct chats: the peer has read up to here
        Failed    // refused by the server: retry or discard
    };
    Q_ENUM(SendStatus)

    enum FileState {
        NoFile,      // not a file message
        Remote,      // on the server only (fetchFile brings it)
        Queued,      // waiting for its turn or for the server
        Uploading,   // own file going up (FileProgressRole)
        Downloading, // coming down into the cache (FileProgressRole)
        Paused,
        TransferFailed, // retryFile or cancelFile
        Ready           // on this device: FileUrlRole
    };
    Q_ENUM(FileState)

    static constexpr qint64 kAutoDownloadBytes = 10 * 1024 * 1024;
    // What a sender claims of an image is only a hint: each side kept to
    // 1..kMaxImageSide and the shape to at most kMaxImageAspect:1, so a bubble
    // sized from it stays sane; {0, 0} when nothing is claimed.
    static constexpr int kMaxImageSide = 16384;
    static constexpr int kMaxImageAspect = 8;
    [[nodiscard]] static QSize clampImageSize(quint32 width, quint32 height);

    // Rows read from disk per page, and the most kept in memory at once.
    static constexpr int kPageRows = 50;
    static constexpr int kMaxWindowRows = 500;

    explicit MessageListModel(QObject *parent = nullptr);
    MessageListModel(KithClient *client, const QString &conversationId, QObject *parent = nullptr);

    [[nodiscard]] KithClient *client() const { return m_client; }
    void setClient(KithClient *client);
    [[nodiscard]] QString conversationId() const { return m_conversationId; }
    void setConversationId(const QString &conversationId);
    [[nodiscard]] bool atLatest() const { return m_atLatest; }
    [[nodiscard]] bool isLoadingOlder() const { return m_wantOlder; }
    [[nodiscard]] qint64 readSeq() const { return qint64(m_readSeq); }
    [[nodiscard]] qint64 autoDownloadBytes() const { return kAutoDownloadBytes; }

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role) const override;
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    // Scroll-back: whether there is anything older than the window, and a
    // page of it (from disk at once, else asked of the server).
    Q_INVOKABLE bool canFetchOlder() const;
    Q_INVOKABLE void fetchOlder();
    // After older pages pushed the newest rows out of the window: whether
    // there are newer rows than the window's, and a page of them.
    Q_INVOKABLE bool canFetchNewer() const;
    Q_INVOKABLE void fetchNewer();
    Q_INVOKABLE void jumpToLatest();
    // Row of a seq in the window, -1 when absent.
    Q_INVOKABLE int rowOfSeq(qint64 seq) const;
    // Re-centres the window on seq (a search result, a quote older than the
    // window): from disk when held, else once the server's pages bring it.
    // loadedAround tells the view where the row is.
    Q_INVOKABLE void loadAround(qint64 seq);

    // The file of a row: fetch it into the cache (or go on with a paused or
    // failed fetch), try a failed upload again, or drop the transfer (an
    // upload's row goes; a fetch leaves the file on the server). fetchFile
    // is true when the file is here or on its way.
    Q_INVOKABLE bool fetchFile(int row);
    Q_INVOKABLE bool retryFile(int row);
    Q_INVOKABLE bool cancelFile(int row);

signals:
    void clientChanged();
    void conversationIdChanged();
    void atLatestChanged();
    void loadingOlderChanged();
    void readSeqChanged();
    void countChanged();
    void loadedAround(qint64 seq, int row);

private:
    struct FileStatus
    {
        FileState state = NoFile;
        QString path;        // where the file is or goes on this device
        qint64 transfer = 0; // its transfer, if any
    };

    struct Row
    {
        StoredMessage message;
        bool outgoing = false; // an outbox row, or an upload's (transferId)
        OutboxStatus outboxStatus = OutboxStatus::Pending;
        QString error;
        qint64 uploadId = 0; // an upload under way, not in the outbox yet
        // Worked out when first asked, again when transfers change.
        mutable std::optional<FileStatus> file;
    };

    [[nodiscard]] static Row storedRow(const StoredMessage &message);
    [[nodiscard]] QString rowKey(const Row &row) const;
    [[nodiscard]] FileStatus fileStatus(const Row &row) const;
    [[nodiscard]] const FileStatus &cachedFileStatus(const Row &row) const;
    void onTransfersChanged();
    void onTransferProgress(qint64 id, qint64 done, qint64 total);

    void reload();
    void centreOn(quint64 seq);
    void onMessagesStored(const QString &conversationId, const QList<quint64> &seqs);
    void onOutboxChanged(const QString &conversationId);
    void onConversationChanged(const QString &conversationId);
    void onUserChanged(quint64 userId);
    void removeStored(quint64 seq);
    void insertStored(const StoredMessage &message);
    void trimOldest();
    void setOutboxRows();
    void emitNeighbourChanged(int row);
    void setAtLatest(bool atLatest);
    void setWantOlder(bool want);
    [[nodiscard]] QList<Row> outboxRows() const;
    [[nodiscard]] int storedCount() const { return m_stored; }
    [[nodiscard]] LocalStore *store() const;
    [[nodiscard]] QString senderName(quint64 userId) const;
    [[nodiscard]] QString systemSentence(const StoredMessage &message) const;

    QPointer<KithClient> m_client;
    QString m_conversationId;
    QList<Row> m_rows; // stored rows [0, m_stored), then outbox rows
    int m_stored = 0;
    bool m_atLatest = true;
    bool m_wantOlder = false; // fetchOlder found nothing on disk and asked the server
    // The window starts at the oldest message on disk: one older than it,
    // arriving later (a gap pulled), belongs at its top.
    bool m_holdsOldest = false;
    quint64 m_wantAround = 0; // loadAround's seq, until the server's pages bring it
    bool m_changing = false;  // inside fetchOlder/fetchNewer
    quint64 m_readSeq = 0;
    quint64 m_peerReadSeq = 0;
    bool m_direct = true;
    QHash<qint64, qreal> m_progress; // running transfers' share done
    QList<QMetaObject::Connection> m_connections;
};

} // namespace kith::client
