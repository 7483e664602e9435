#pragma once
// KithClient: the one object an app or a tool talks to. It owns the
// connection, the local store of the signed-in account, the sync engine, the
// outbox and the conversation list, and offers login/register/logout, send,
// read markers, typing and group operations. The QML app uses it as the
// singleton `KithClient` of module Kith.Client; kith-cli and the tests make
// their own instance.

#include "kith/client/conversation_list_model.h"
#include "kith/client/user_search_model.h"
#include "kith/result.h"
#include "kith/v1/envelope.pb.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>
#include <QUrl>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <functional>
#include <memory>
#include <optional>

namespace kith::client {

class Connection;
class LocalStore;
class Outbox;
class SyncEngine;
class TokenVault;
class TransferQueue;

class KithClient : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
    Q_PROPERTY(ConnectionState connectionState READ connectionState NOTIFY connectionStateChanged)
    Q_PROPERTY(bool online READ isOnline NOTIFY onlineChanged)
    Q_PROPERTY(int nextRetryIn READ nextRetryIn NOTIFY nextRetryInChanged)
    Q_PROPERTY(QString lastError READ lastError NOTIFY lastErrorChanged)
    Q_PROPERTY(bool syncing READ isSyncing NOTIFY syncingChanged)
    // Why the local store cannot save right now (a full disk), for the app to
    // show; empty while it can. Unsent messages wait in the outbox meanwhile.
    Q_PROPERTY(QString storageError READ storageError NOTIFY storageErrorChanged)
    Q_PROPERTY(bool hasSession READ hasSession NOTIFY sessionChanged)
    Q_PROPERTY(QString username READ username NOTIFY sessionChanged)
    Q_PROPERTY(qint64 userId READ userId NOTIFY sessionChanged)
    Q_PROPERTY(QUrl serverUrl READ serverUrl NOTIFY sessionChanged)
    // The signed-in user's display name (the user name when none is set).
    Q_PROPERTY(QString displayName READ ownDisplayName NOTIFY profileChanged)
    // The signed-in user's picture as a local file (empty: none, or not
    // fetched yet) and avatar colour (0: from the id, n: palette entry n - 1).
    Q_PROPERTY(QUrl avatarUrl READ ownAvatarUrl NOTIFY avatarsChanged)
    Q_PROPERTY(int avatarColor READ ownAvatarColor NOTIFY profileChanged)
    // Whether the server keeps avatars (protocol 1.4); false before a login.
    Q_PROPERTY(bool avatarsSupported READ avatarsSupported NOTIFY profileChanged)
    // Whether the server keeps group avatars (protocol 1.5); false before a login.
    Q_PROPERTY(bool groupAvatarsSupported READ groupAvatarsSupported NOTIFY profileChanged)
    // This account's devices after refreshDevices(): a list of {id, name,
    // createdMs, lastSeenMs, current, online}.
    Q_PROPERTY(QVariantList devices READ devices NOTIFY devicesChanged)
    // In TrustRequired: the fingerprint the server showed (hex groups and its
    // words), and whether it replaces the one trusted before (the key changed).
    Q_PROPERTY(QString trustFingerprint READ trustFingerprint NOTIFY trustChanged)
    Q_PROPERTY(QString trustWords READ trustWords NOTIFY trustChanged)
    Q_PROPERTY(bool trustKeyChanged READ trustKeyChanged NOTIFY trustChanged)
    Q_PROPERTY(kith::client::ConversationListModel *conversations READ conversations CONSTANT)
    Q_PROPERTY(kith::client::UserSearchModel *userSearch READ userSearch CONSTANT)
public:
    enum ConnectionState {
        SignedOut,  // no account open
        Connecting, // connecting or authenticating
        Online,
        Reconnecting,  // waiting nextRetryIn seconds; cached data stays usable
        LoginRequired, // the password or the stored session was refused
        // The server's certificate needs the user's trust (first use) or
        // changed since it was trusted: see trustFingerprint, trustServer().
        TrustRequired
    };
    Q_ENUM(ConnectionState)

    static inline const QUrl kDefaultServer{QStringLiteral("wss://127.0.0.1:7400/")};

    explicit KithClient(QObject *parent = nullptr);
    ~KithClient() override;

    // Where account caches and the session index live (default: AppDataLocation).
    void setDataDirectory(const QString &dir) { m_dataDir = dir; }
    [[nodiscard]] QString dataDirectory() const;
    // A store file of one's own instead of the per-account default (two
    // devices of one user in one test process).
    void setStorePathOverride(const QString &path) { m_storePathOverride = path; }
    // Where fetched files are kept, one folder per account under it (default:
    // CacheLocation, or the data directory's "cache" when one was set).
    void setFileCacheDirectory(const QString &dir) { m_fileCacheDir = dir; }
    void setClientName(const QString &name);

    // Opens the cache of (server, username) and looks the stored session up:
    // with one it connects and resumes, without one it reports
    // operationFailed. False when the cache cannot be opened.
    Q_INVOKABLE bool openAccount(const QUrl &server, const QString &username);
    // The account used last (from the session index), if any.
    Q_INVOKABLE bool restoreSession();
    Q_INVOKABLE void login(const QUrl &server, const QString &username, const QString &password);
    Q_INVOKABLE void registerAccount(const QUrl &server, const QString &username,
                                     const QString &password);
    // Revokes this device's token (when online), forgets it and disconnects.
    Q_INVOKABLE void logout();
    // While waiting to reconnect: try now instead of when the backoff says.
    Q_INVOKABLE void retryNow();
    // In TrustRequired: pins the fingerprint in the account's local store and
    // connects with it. It must be the one the server showed (as shown or
    // typed, spaces and case aside); false (and operationFailed) otherwise.
    Q_INVOKABLE bool trustServer(const QString &fingerprint);
    // Profile and devices (answers come as profileChanged / devicesChanged,
    // refusals as operationFailed).
    Q_INVOKABLE void setDisplayName(const QString &name);
    // One's picture from an image file (a path or a file URL): made a
    // 256 px square (see setAvatarEncoder), uploaded, then set. Answers as
    // profileChanged, refusals and failures as operationFailed.
    Q_INVOKABLE void setAvatarPicture(const QString &path);
    Q_INVOKABLE void removeAvatarPicture();
    // 0: the colour from the id; 1..16: a palette entry (n - 1).
    Q_INVOKABLE void setAvatarColor(int color);
    // A user's picture as a local file URL; empty without one or until it is
    // fetched (asking starts the fetch; avatarsChanged tells when it is there).
    Q_INVOKABLE QUrl avatarUrl(qint64 userId);
    Q_INVOKABLE int avatarColor(qint64 userId);
    // A group's picture from an image file, made as one's own (admins and
    // owners; refusals and failures as operationFailed). The group's rows
    // change when the server tells its members (conversationChanged).
    Q_INVOKABLE void setGroupPicture(const QString &conversationId, const QString &path);
    Q_INVOKABLE void removeGroupPicture(const QString &conversationId);
    // 0: the colour from the id; 1..16: a palette entry (n - 1).
    Q_INVOKABLE void setGroupColor(const QString &conversationId, int color);
    // A group's picture as a local file URL (empty: none, or until fetched)
    // and colour, as for users.
    Q_INVOKABLE QUrl groupAvatarUrl(const QString &conversationId);
    Q_INVOKABLE int groupAvatarColor(const QString &conversationId);
    Q_INVOKABLE void refreshDevices();
    // Logs another device of this account out (its token is revoked).
    Q_INVOKABLE void revokeDevice(qint64 deviceId);

    // Writes text to the outbox and sends it; returns its client message id
    // (empty with operationFailed when the text is refused).
    Q_INVOKABLE QString sendMessage(const QString &conversationId, const QString &text,
                                    qint64 replyToSeq = 0);
    [[nodiscard]] QString sendContent(const QString &conversationId, const v1::Content &content);
    // The members named "@username" in text, as mentions with their place
    // (UTF-8 positions). sendMessage and editMessage attach them on their
    // own; names that are not members of the conversation (as this device
    // knows its members) are plain text.
    [[nodiscard]] QList<v1::Mention> mentionsIn(const QString &conversationId, const QString &text);
    // Edit (the author, within the server's window), delete for everyone (the
    // author, or a group admin) and react (toggle one emoji) to the message at
    // seq: each goes through the outbox as an operation and is folded into the
    // message once acked (or pushed). Returns the op's client message id
    // (empty with operationFailed when refused here); a refusal by the server
    // comes as operationFailed and drops the op.
    Q_INVOKABLE QString editMessage(const QString &conversationId, qint64 seq, const QString &text);
    Q_INVOKABLE QString deleteMessage(const QString &conversationId, qint64 seq);
    Q_INVOKABLE QString react(const QString &conversationId, qint64 seq, const QString &emoji,
                              bool remove = false);
    // Adds the emoji when this user has not put it on the message, else removes it.
    Q_INVOKABLE QString toggleReaction(const QString &conversationId, qint64 seq,
                                       const QString &emoji);
    // Queues a file (a path or a file: URL) to be sent with an optional
    // caption; its row shows in the chat at once with the upload's progress.
    // Returns the transfer's id, 0 (with operationFailed) when refused.
    Q_INVOKABLE qint64 sendFile(const QString &conversationId, const QString &path,
                                const QString &caption = {});
    // Queues a recorded voice note (a path or a file: URL) of durationMs, as
    // sendFile does; the bubble plays it with a seek bar.
    Q_INVOKABLE qint64 sendVoiceNote(const QString &conversationId, const QString &path,
                                     qint64 durationMs);
    // Pins (or unpins) the message for every member: an operation like a reaction.
    Q_INVOKABLE QString pinMessage(const QString &conversationId, qint64 seq, bool pin = true);
    // The pinned messages held, newest pin first: a list of {seq, text,
    // senderName, senderId, pinnedBy, pinnedMs}.
    Q_INVOKABLE QVariantList pinnedMessages(const QString &conversationId);
    // This user's own chat state, synced to their other devices (online
    // only; a refusal or being offline comes as operationFailed). Mute until
    // untilMs (server time), -1 until unmuted, 0 to unmute.
    Q_INVOKABLE void muteConversation(const QString &conversationId, qint64 untilMs);
    Q_INVOKABLE void archiveConversation(const QString &conversationId, bool archived);
    // Whether this user muted the conversation (on any device) and it is muted now.
    Q_INVOKABLE bool isMuted(const QString &conversationId);
    // Delete for me: hides the message on all of this user's devices.
    Q_INVOKABLE void hideMessage(const QString &conversationId, qint64 seq);
    // Blocks (or unblocks) a user on all of this user's devices: they cannot
    // start or write to a direct chat with this user, and their presence and
    // typing stop coming.
    Q_INVOKABLE void blockUser(qint64 userId, bool blocked = true);
    Q_INVOKABLE bool isBlocked(qint64 userId);
    Q_INVOKABLE bool retryMessage(const QString &clientMsgId);
    // Checks at once whether the local store can write again (it also does
    // so every few seconds while it cannot).
    Q_INVOKABLE void retryStorage();
    Q_INVOKABLE bool discardMessage(const QString &clientMsgId);
    // Moves the read marker to seq (0: the newest message) on every device.
    Q_INVOKABLE void markRead(const QString &conversationId, qint64 seq = 0);
    Q_INVOKABLE void setTyping(const QString &conversationId, bool typing);
    // Display names of who is typing in a conversation right now.
    Q_INVOKABLE QStringList typingUsers(const QString &conversationId) const;
    Q_INVOKABLE QString draft(const QString &conversationId);
    Q_INVOKABLE void setDraft(const QString &conversationId, const QString &text);

    Q_INVOKABLE QString directConversationId(qint64 peerUserId) const;
    // Looks the user up; directChatReady(conversationId) when found.
    Q_INVOKABLE void openDirectChat(const QString &username);
    // groupCreated(conversationId) when done.
    Q_INVOKABLE void createGroup(const QString &name, const QStringList &usernames);
    Q_INVOKABLE void addMembers(const QString &conversationId, const QStringList &usernames);
    Q_INVOKABLE void removeMember(const QString &conversationId, qint64 userId);
    Q_INVOKABLE void leaveGroup(const QString &conversationId);
    Q_INVOKABLE void renameGroup(const QString &conversationId, const QString &name);
    // Local full-text search, newest first, in one conversation when
    // conversationId is given: a list of {conversationId, seq, text,
    // senderName, senderId, isOwn, isGroup, time}.
    Q_INVOKABLE QVariantList searchMessages(const QString &query, int limit = 50,
                                            const QString &conversationId = {});
    Q_INVOKABLE QString displayName(qint64 userId);

    [[nodiscard]] ConnectionState connectionState() const;
    [[nodiscard]] bool isOnline() const;
    [[nodiscard]] int nextRetryIn() const;
    [[nodiscard]] QString lastError() const;
    [[nodiscard]] bool isSyncing() const;
    [[nodiscard]] QString storageError() const;
    [[nodiscard]] QString trustFingerprint() const;
    [[nodiscard]] QString trustWords() const;
    [[nodiscard]] bool trustKeyChanged() const;
    [[nodiscard]] bool hasSession() const;
    [[nodiscard]] QString username() const { return m_username; }
    [[nodiscard]] qint64 userId() const;
    [[nodiscard]] QUrl serverUrl() const { return m_server; }
    [[nodiscard]] QString ownDisplayName();
    [[nodiscard]] QUrl ownAvatarUrl();
    [[nodiscard]] int ownAvatarColor();
    [[nodiscard]] bool avatarsSupported() const;
    [[nodiscard]] bool groupAvatarsSupported() const;
    // The picture of that file id in the cache, as a file URL; empty until
    // fetched (the fetch is queued once per id, capped at 1 MiB).
    [[nodiscard]] QUrl avatarUrlForFile(const QString &fileId);
    // Makes a picture's bytes from an image file: `format` gets "png" or
    // "jpeg". The library decodes no images itself (it links no Qt Gui): the
    // app installs kith::images::avatarImage at start.
    using AvatarEncoder =
        std::function<QByteArray(const QString &path, QString *format, QString *error)>;
    static void setAvatarEncoder(AvatarEncoder encoder);
    [[nodiscard]] QVariantList devices() const { return m_devices; }
    [[nodiscard]] ConversationListModel *conversations() const { return m_conversations.get(); }
    [[nodiscard]] UserSearchModel *userSearch() const { return m_userSearch.get(); }

    // The engine parts, for kith-cli, the models and the tests.
    [[nodiscard]] TokenVault *tokenVault() const { return m_vault.get(); }
    [[nodiscard]] Connection *connection() const { return m_connection.get(); }
    // This device's token, for the file transfers' HTTP requests; empty before a login.
    [[nodiscard]] QString sessionToken() const { return m_token; }
    [[nodiscard]] LocalStore *store() const { return m_store.get(); }
    [[nodiscard]] SyncEngine *syncEngine() const { return m_sync.get(); }
    [[nodiscard]] Outbox *outbox() const { return m_outbox.get(); }
    // Files sent and fetched, resumed after a restart.
    [[nodiscard]] TransferQueue *transfers() const { return m_transfers.get(); }

    // Callback forms of the operations above.
    void lookupUser(const QString &username, std::function<void(Result<v1::User>)> done);
    void lookupUsers(const QStringList &usernames,
                     std::function<void(Result<QList<quint64>>)> done);
    void createGroup(const QString &name, const QList<quint64> &memberIds,
                     std::function<void(Result<QString>)> done);
    // Sends a request that is answered with Ok (group changes, mark_read, logout).
    void requestOk(v1::Envelope request, std::function<void(Status)> done);
    // Sends a chat state change; the row it answers is applied before `done`.
    void setChatState(const QString &conversationId, v1::SetChatStateRequest change,
                      std::function<void(Status)> done);
    void setBlocked(quint64 userId, bool blocked, std::function<void(Status)> done);

signals:
    void connectionStateChanged();
    void onlineChanged();
    void nextRetryInChanged();
    void lastErrorChanged();
    void syncingChanged();
    void storageErrorChanged();
    void sessionChanged();
    void profileChanged();
    // A picture was fetched, or someone's picture changed.
    void avatarsChanged();
    // The server took a change of this group's avatar (setGroupPicture,
    // removeGroupPicture, setGroupColor); its members are told.
    void groupAvatarSet(const QString &conversationId);
    void devicesChanged();
    void trustChanged();
    // The server refused the login or the registration, or the stored session.
    void authFailed(const QString &message);
    void loggedOut();
    // mentionsMe: the message names this user; notify for it even in a muted chat.
    void messageReceived(const QString &conversationId, qint64 seq, const QString &senderName,
                         const QString &preview, qint64 senderId, bool mentionsMe);
    void typingChanged(const QString &conversationId);
    void directChatReady(const QString &conversationId);
    void groupCreated(const QString &conversationId);
    void operationFailed(const QString &message);

private:
    [[nodiscard]] bool openStore(const QUrl &server, const QString &username);
    void startConnection(int mode, const QString &password);
    void onAuthenticated(const v1::AuthOk &authOk);
    void onAuthRejected(const Error &error);
    void resumeWith(const QString &token);
    void forgetSession();
    void rememberLastAccount();
    void sendReadMarker(const QString &conversationId, quint64 seq);
    // A request answered with a ChatState row, applied before `done`.
    void requestChatState(v1::Envelope request, std::function<void(Status)> done);
    void sendPendingReadMarkers();
    void expireTyping();
    [[nodiscard]] qint64 queueUpload(const QString &conversationId, const QString &path,
                                     const QString &caption, std::optional<quint32> voiceNoteMs);
    void requestAvatar(const QString &fileId, quint32 color);
    void requestGroupAvatar(const QString &conversationId, const QString &fileId, quint32 color);
    // Makes a picture of the image file, uploads it (kept in the cache as
    // its download would be) and hands on its file id.
    void uploadAvatarImage(const QString &path, std::function<void(const QString &fileId)> then);
    void fetchAvatar(const QString &fileId);

    QString m_dataDir;
    QString m_storePathOverride;
    QString m_fileCacheDir;
    QUrl m_server;
    QString m_username;
    std::unique_ptr<Connection> m_connection;
    std::unique_ptr<LocalStore> m_store;
    std::unique_ptr<SyncEngine> m_sync;
    std::unique_ptr<Outbox> m_outbox;
    std::unique_ptr<TransferQueue> m_transfers; // uses the outbox and the store
    std::unique_ptr<ConversationListModel> m_conversations;
    std::unique_ptr<UserSearchModel> m_userSearch;

    struct TypingEntry
    {
        quint64 userId = 0;
        qint64 untilMs = 0;
    };
    QHash<QString, QList<TypingEntry>> m_typing;
    QVariantList m_devices;
    QSet<QString> m_avatarFetches; // picture fetches asked for, queued once each
    std::shared_ptr<class FileTransfer> m_avatarUpload;
    QTimer m_typingTimer;
    QString m_token;
    // Bumped per opened account: a late keychain answer for an account no
    // longer open is dropped.
    quint64 m_accountGeneration = 0;
    // Last member: destroyed first, waiting for its keychain writes while the
    // rest of the client is still whole.
    std::unique_ptr<TokenVault> m_vault;
};

} // namespace kith::client
