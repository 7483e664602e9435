#pragma once
// ConversationListModel: every conversation of the signed-in account, newest
// activity first, kept in step with LocalStore's change signals (row moves,
// inserts and removals, never a reset after the first load). Owned by KithClient
// and exposed to QML as KithClient.conversations.

#include <QAbstractListModel>
#include <QDateTime>
#include <QTimer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <functional>

namespace kith::client {

class LocalStore;

class ConversationListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Use KithClient.conversations")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(int totalUnread READ totalUnread NOTIFY totalUnreadChanged)
public:
    enum Roles {
        ConversationIdRole = Qt::UserRole + 1, // QString: "d:…" or "g:…"
        TitleRole,                             // QString: group name, or the peer's display name
        IsGroupRole,                           // bool
        PeerUserIdRole,                        // qint64: direct chats, else 0
        PeerOnlineRole,                        // bool: direct chats, the peer's presence (false
                                               // for a peer this user blocked)
        LastMessageRole,                       // QString: one-line preview of the newest message
        LastSenderNameRole,                    // QString: who wrote it ("" for system events)
        LastActivityRole,                      // QDateTime: newest message or pending send
        UnreadCountRole,                       // int
        MemberCountRole,                       // int: groups
        MyRoleRole,                            // int: kith::v1::Role in a group
        PendingCountRole,                      // int: outgoing messages not yet acked
        FailedCountRole,                       // int: outgoing messages the server refused
        HasDraftRole,                          // bool
        PeerLastSeenRole,   // QDateTime: direct chats, when the peer was last online (invalid:
                            // unknown, or a peer this user blocked)
        LastStatusRole,     // int: the newest message is one's own: MessageListModel::SendStatus
                            // (Pending, Sent, Read, Failed); Received (0) when it is someone else's
        MutedRole,          // bool: this user muted it (forever, or until a time still to come)
        ArchivedRole,       // bool: this user archived it
        PeerBlockedRole,    // bool: direct chats, this user blocked the peer
        UnreadMentionsRole, // int: unread messages that mention this user (the "@" badge)
        AvatarUrlRole,      // QUrl: the picture as a local file, a direct chat's peer's or a
                            // group's (empty: none, or not fetched yet; asking fetches it)
        AvatarColorRole,    // int: the peer's or the group's avatar colour (0: from the id,
                            // n: palette entry n - 1)
        LastRole
    };
    Q_ENUM(Roles)

    explicit ConversationListModel(LocalStore *store, QObject *parent = nullptr);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role) const override;
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    [[nodiscard]] int totalUnread() const;
    // Row of a conversation, -1 when absent.
    Q_INVOKABLE int indexOf(const QString &conversationId) const;

    // Where a picture's local file is (see KithClient::avatarUrlForFile).
    void setAvatarUrls(std::function<QUrl(const QString &fileId)> urlOf)
    {
        m_avatarUrlOf = std::move(urlOf);
    }
    // A picture was fetched: rows showing one ask again.
    void refreshAvatars();

signals:
    void countChanged();
    void totalUnreadChanged();

private:
    struct Row
    {
        QString id;
        QString title;
        bool isGroup = false;
        quint64 peerUserId = 0;
        bool peerOnline = false;
        qint64 peerLastSeenMs = 0;
        QString lastMessage;
        QString lastSenderName;
        qint64 lastActivityMs = 0;
        int unread = 0;
        int unreadMentions = 0;
        int memberCount = 0;
        int myRole = 0;
        int pending = 0;
        int failed = 0;
        bool hasDraft = false;
        int lastStatus = 0;
        qint64 mutedUntilMs = 0;
        bool archived = false;
        bool peerBlocked = false;
        QString avatarFileId; // the peer's, or the group's
        quint32 avatarColor = 0;
    };

    void reload();
    [[nodiscard]] std::optional<Row> readRow(const QString &conversationId) const;
    void onConversationChanged(const QString &conversationId);
    void onConversationRemoved(const QString &conversationId);
    void onUserChanged(quint64 userId);
    [[nodiscard]] static bool before(const Row &a, const Row &b);
    // Arms m_muteEnds for the soonest timed mute still to end.
    void watchMuteEnds();
    void onMuteEnds();

    LocalStore *m_store;
    std::function<QUrl(const QString &fileId)> m_avatarUrlOf;
    QList<Row> m_rows;
    // A timed mute ends without any change in the store: the rows whose mute
    // ran out are announced when it does, so the badge and the bell follow.
    QTimer m_muteEnds;
};

} // namespace kith::client
