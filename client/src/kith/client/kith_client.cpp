#include "kith/client/kith_client.h"

#include "kith/client/connection.h"
#include "kith/client/conversation_list_model.h"
#include "kith/client/file_transfer.h"
#include "kith/client/local_store.h"
#include "kith/client/logging.h"
#include "kith/client/outbox.h"
#include "kith/client/sync_engine.h"
#include "kith/client/token_vault.h"
#include "kith/client/transfer_queue.h"
#include "kith/client/user_search_model.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/fingerprint.h"
#include "kith/protocol.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QSysInfo>

#include <algorithm>
#include <memory>

namespace kith::client {

namespace {
// A typing signal is repeated by a typing client; without a repeat it lapses.
constexpr qint64 kTypingLapseMs = 6'000;
// sync_state keys of read markers set offline, sent after the next sign-in.
const QString kPendingReadPrefix = QStringLiteral("pending_read:");

KithClient::AvatarEncoder &avatarEncoder()
{
    static KithClient::AvatarEncoder encoder;
    return encoder;
}

// The cache's name for a picture of that id (the name a download gets).
v1::FileRef avatarRef(const QString &fileId)
{
    v1::FileRef ref;
    ref.set_file_id(toStd(fileId));
    ref.set_name("avatar");
    return ref;
}

QString sessionIndexPath(const QString &dataDir)
{
    return dataDir + QStringLiteral("/session.ini");
}
} // namespace

KithClient::KithClient(QObject *parent)
    : QObject(parent)
    , m_connection(std::make_unique<Connection>())
    , m_store(std::make_unique<LocalStore>())
    , m_vault(std::make_unique<TokenVault>())
{
    // The facade learns the account first, so that the sync engine and the
    // outbox (connected after it) see the user id in the store.
    connect(m_connection.get(), &Connection::authenticated, this, &KithClient::onAuthenticated);
    connect(m_connection.get(), &Connection::authRejected, this, &KithClient::onAuthRejected);
    m_sync = std::make_unique<SyncEngine>(m_connection.get(), m_store.get());
    m_outbox = std::make_unique<Outbox>(m_connection.get(), m_store.get());
    connect(m_connection.get(), &Connection::authenticated, m_outbox.get(), &Outbox::flush);
    m_transfers = std::make_unique<TransferQueue>(m_connection.get(), m_store.get(), m_outbox.get(),
                                                  [this] { return m_token; });
    // After onAuthenticated (connected first), which keeps the token.
    connect(m_connection.get(), &Connection::authenticated, m_transfers.get(),
            &TransferQueue::start);
    // Another account's file, or none: what runs belonged to the one before.
    connect(m_store.get(), &LocalStore::reset, m_transfers.get(), &TransferQueue::stop);
    m_conversations = std::make_unique<ConversationListModel>(m_store.get());
    m_userSearch = std::make_unique<UserSearchModel>(m_connection.get(), m_store.get());
    const auto urlOf = [this](const QString &fileId) { return avatarUrlForFile(fileId); };
    m_conversations->setAvatarUrls(urlOf);
    m_userSearch->setAvatarUrls(urlOf);
    // A fetched picture shows wherever it is asked for.
    connect(m_transfers.get(), &TransferQueue::finished, this, &KithClient::avatarsChanged);
    connect(this, &KithClient::avatarsChanged, m_conversations.get(),
            &ConversationListModel::refreshAvatars);
    connect(this, &KithClient::avatarsChanged, m_userSearch.get(),
            &UserSearchModel::refreshAvatars);
    connect(m_store.get(), &LocalStore::reset, this, [this] { m_avatarFetches.clear(); });
    // One's own profile changed (from this device, or told of another's change).
    connect(m_store.get(), &LocalStore::userChanged, this, [this](quint64 userId) {
        if (userId != 0 && userId == m_store->myUserId()) {
            emit profileChanged();
            emit avatarsChanged();
        }
    });

    connect(m_connection.get(), &Connection::stateChanged, this,
            &KithClient::connectionStateChanged);
    connect(m_connection.get(), &Connection::onlineChanged, this, &KithClient::onlineChanged);
    connect(m_connection.get(), &Connection::nextRetryInChanged, this,
            &KithClient::nextRetryInChanged);
    connect(m_connection.get(), &Connection::lastErrorChanged, this, &KithClient::lastErrorChanged);
    connect(m_connection.get(), &Connection::trustRequired, this, &KithClient::trustChanged);
    connect(m_sync.get(), &SyncEngine::syncingChanged, this, &KithClient::syncingChanged);
    connect(m_store.get(), &LocalStore::storageErrorChanged, this,
            &KithClient::storageErrorChanged);
    connect(m_sync.get(), &SyncEngine::messageArrived, this,
            [this](const QString &conversationId, quint64 seq) {
                const auto m = m_store->message(conversationId, seq);
                // An edit, deletion or reaction changes a message; it is not one to announce.
                if (!m || isOperation(m->content))
                    return;
                emit messageReceived(conversationId, qint64(seq),
                                     displayName(qint64(m->senderUserId)), previewText(m->content),
                                     qint64(m->senderUserId),
                                     mentionsUser(m->content, m_store->myUserId()));
            });
    connect(m_sync.get(), &SyncEngine::typingChanged, this,
            [this](const QString &conversationId, quint64 userId, bool typing) {
                auto &list = m_typing[conversationId];
                list.removeIf([userId](const TypingEntry &e) { return e.userId == userId; });
                if (typing)
                    list.append({userId, nowMs() + kTypingLapseMs});
                if (!m_typingTimer.isActive())
                    m_typingTimer.start();
                emit typingChanged(conversationId);
            });
    connect(m_outbox.get(), &Outbox::sendFailed, this,
            [this](const QString &, const QString &, const QString &error) {
                emit operationFailed(error);
            });
    m_typingTimer.setInterval(1'000);
    connect(&m_typingTimer, &QTimer::timeout, this, &KithClient::expireTyping);
}

KithClient::~KithClient()
{
    // The store closes after this object's other members are gone: what it
    // tells on the way must not reach them.
    disconnect(m_store.get(), nullptr, this, nullptr);
    m_transfers->stop();
    m_connection->stop();
}

QString KithClient::dataDirectory() const
{
    return m_dataDir.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)
                               : m_dataDir;
}

void KithClient::setClientName(const QString &name)
{
    m_connection->setClientName(name);
}

bool KithClient::openStore(const QUrl &server, const QString &username)
{
    const QString name = normalizeUsername(username);
    if (!isValidUsername(name)) {
        emit operationFailed(QStringLiteral("Not a valid user name: %1").arg(username));
        return false;
    }
    if (server.scheme() != QLatin1String("ws") && server.scheme() != QLatin1String("wss")) {
        emit operationFailed(
            QStringLiteral("The server address must start with ws:// or wss://: %1")
                .arg(server.toString()));
        return false;
    }
    m_connection->stop();
    m_typing.clear();
    const QString path = m_storePathOverride.isEmpty()
                             ? LocalStore::defaultPath(server, name, dataDirectory())
                             : m_storePathOverride;
    if (auto opened = m_store->open(path); !opened) {
        emit operationFailed(opened.error().message);
        return false;
    }
    m_server = server;
    m_username = name;
    ++m_accountGeneration;
    {
        QString cache = m_fileCacheDir;
        if (cache.isEmpty())
            cache = m_dataDir.isEmpty()
                        ? QStandardPaths::writableLocation(QStandardPaths::CacheLocation)
                        : m_dataDir + QStringLiteral("/cache");
        m_transfers->setCacheDirectory(cache + QStringLiteral("/files/") +
                                       QFileInfo(path).completeBaseName());
    }
    m_vault->setAccount(name + u'@' + server.toString(QUrl::RemoveUserInfo) + u' ' + path,
                        QFileInfo(path).absolutePath() + u'/' + QFileInfo(path).completeBaseName() +
                            QStringLiteral(".token"));
    // Earlier versions kept the token in sync_state: move it to the vault.
    m_token = m_store->value(QString::fromLatin1(LocalStore::kKeyLegacyToken));
    if (!m_token.isEmpty()) {
        m_vault->write(m_token);
        (void)m_store->removeValue(QString::fromLatin1(LocalStore::kKeyLegacyToken));
    }
    (void)m_store->setValue(QString::fromLatin1(LocalStore::kKeyServerUrl), server.toString());
    (void)m_store->setValue(QString::fromLatin1(LocalStore::kKeyUsername), name);
    m_connection->setServerUrl(server);
    m_connection->setPinnedFingerprint(QByteArray::fromHex(
        m_store->value(QString::fromLatin1(LocalStore::kKeyPinnedFingerprint)).toLatin1()));
    emit sessionChanged();
    emit trustChanged();
    return true;
}

void KithClient::startConnection(int mode, const QString &password)
{
    Connection::Credentials credentials;
    credentials.mode = Connection::Credentials::Mode(mode);
    credentials.username = m_username;
    credentials.password = password;
    credentials.token = m_token;
    credentials.deviceName = QSysInfo::machineHostName();
    m_connection->start(credentials);
}

bool KithClient::openAccount(const QUrl &server, const QString &username)
{
    if (!openStore(server, username))
        return false;
    if (!m_token.isEmpty()) {
        resumeWith(m_token);
        return true;
    }
    m_vault->read([this, generation = m_accountGeneration](const QString &token) {
        if (generation == m_accountGeneration && m_store->isOpen())
            resumeWith(token);
    });
    return true;
}

void KithClient::resumeWith(const QString &token)
{
    if (token.isEmpty()) {
        emit operationFailed(QStringLiteral("No saved session for %1: log in").arg(m_username));
        return;
    }
    m_token = token;
    emit sessionChanged();
    startConnection(int(Connection::Credentials::Mode::Resume), {});
}

bool KithClient::restoreSession()
{
    QSettings index(sessionIndexPath(dataDirectory()), QSettings::IniFormat);
    const QUrl server(index.value(QStringLiteral("last/server")).toString());
    const QString user = index.value(QStringLiteral("last/username")).toString();
    if (!server.isValid() || user.isEmpty())
        return false;
    return openAccount(server, user);
}

void KithClient::login(const QUrl &server, const QString &username, const QString &password)
{
    if (openStore(server, username))
        startConnection(int(Connection::Credentials::Mode::Login), password);
}

void KithClient::registerAccount(const QUrl &server, const QString &username,
                                 const QString &password)
{
    if (openStore(server, username))
        startConnection(int(Connection::Credentials::Mode::Register), password);
}

void KithClient::onAuthenticated(const v1::AuthOk &authOk)
{
    if (!authOk.token().empty()) {
        m_token = toQString(authOk.token());
        m_vault->write(m_token);
        (void)m_store->setValue(QString::fromLatin1(LocalStore::kKeyDeviceId),
                                QString::number(authOk.device_id()));
    }
    (void)m_store->setValue(QString::fromLatin1(LocalStore::kKeyUserId),
                            QString::number(authOk.user().id()));
    (void)m_store->upsertUser(authOk.user());
    emit profileChanged();
    rememberLastAccount();
    sendPendingReadMarkers();
    emit sessionChanged();
}

void KithClient::onAuthRejected(const Error &error)
{
    qCInfo(lcClient) << "authentication refused:" << error.message;
    if (error.code == v1::TOKEN_INVALID || error.code == v1::ACCOUNT_DISABLED)
        forgetSession();
    emit authFailed(error.message);
}

void KithClient::rememberLastAccount()
{
    QSettings index(sessionIndexPath(dataDirectory()), QSettings::IniFormat);
    index.setValue(QStringLiteral("last/server"), m_server.toString());
    index.setValue(QStringLiteral("last/username"), m_username);
}

void KithClient::forgetSession()
{
    m_token.clear();
    if (m_store->isOpen())
        m_vault->remove();
    QSettings index(sessionIndexPath(dataDirectory()), QSettings::IniFormat);
    if (index.value(QStringLiteral("last/username")).toString() == m_username)
        index.remove(QStringLiteral("last"));
    emit sessionChanged();
    emit loggedOut();
}

void KithClient::logout()
{
    if (!m_connection->isOnline()) {
        m_connection->stop();
        forgetSession();
        return;
    }
    v1::Envelope env;
    env.mutable_logout();
    requestOk(env, [this](Status) {
        m_connection->stop();
        forgetSession();
    });
}

void KithClient::retryNow()
{
    m_connection->retryNow();
}

bool KithClient::trustServer(const QString &fingerprint)
{
    const QByteArray sha = parseFingerprint(fingerprint);
    if (sha.isEmpty() || m_connection->state() != Connection::State::TrustRequired ||
        sha != m_connection->offeredFingerprint()) {
        emit operationFailed(QStringLiteral("That is not the fingerprint the server showed (%1)")
                                 .arg(fingerprintDisplay(m_connection->offeredFingerprint())));
        return false;
    }
    // Pinned before connecting: the next start trusts it without asking.
    if (const Status pinned =
            m_store->setValue(QString::fromLatin1(LocalStore::kKeyPinnedFingerprint),
                              QString::fromLatin1(sha.toHex()));
        !pinned) {
        emit operationFailed(pinned.error().message);
        return false;
    }
    qCInfo(lcClient) << "trusting" << m_server << fingerprintHex(sha);
    const bool trusted = m_connection->trust(sha);
    emit trustChanged();
    return trusted;
}

QString KithClient::trustFingerprint() const
{
    const QByteArray sha = m_connection->offeredFingerprint();
    return sha.isEmpty() ? QString() : fingerprintHex(sha);
}

QString KithClient::trustWords() const
{
    return fingerprintWords(m_connection->offeredFingerprint()).join(QLatin1Char(' '));
}

bool KithClient::trustKeyChanged() const
{
    return m_connection->pinChanged();
}

QString KithClient::ownDisplayName()
{
    if (!m_store->isOpen())
        return m_username;
    const auto me = m_store->user(m_store->myUserId());
    return me ? me->shownName() : m_username;
}

void KithClient::setDisplayName(const QString &name)
{
    v1::Envelope env;
    env.mutable_set_display_name()->set_display_name(toStd(name.trimmed()));
    m_connection->request(env, [this](Result<v1::Envelope> answer) {
        if (!answer) {
            emit operationFailed(answer.error().message);
            return;
        }
        if (answer->body_case() == v1::Envelope::kUserProfile)
            (void)m_store->upsertUser(answer->user_profile().user());
        emit profileChanged();
    });
}

void KithClient::setAvatarEncoder(AvatarEncoder encoder)
{
    avatarEncoder() = std::move(encoder);
}

bool KithClient::avatarsSupported() const
{
    return m_connection->helloOk().protocol_minor() >= 4;
}

QUrl KithClient::avatarUrlForFile(const QString &fileId)
{
    if (fileId.isEmpty() || !m_store->isOpen())
        return {};
    const QString path = m_transfers->cachedPath(avatarRef(fileId));
    if (path.isEmpty())
        return {};
    if (QFileInfo(path).isFile()) {
        TransferQueue::markUsed(path);
        return QUrl::fromLocalFile(path);
    }
    // Asked from a model's data(): the fetch is queued after it.
    if (!m_avatarFetches.contains(fileId)) {
        m_avatarFetches.insert(fileId);
        QMetaObject::invokeMethod(
            this, [this, fileId] { fetchAvatar(fileId); }, Qt::QueuedConnection);
    }
    return {};
}

void KithClient::fetchAvatar(const QString &fileId)
{
    if (!m_store->isOpen())
        return;
    const v1::FileRef ref = avatarRef(fileId);
    const QString path = m_transfers->cachedPath(ref);
    if (path.isEmpty() || QFileInfo(path).isFile() || m_transfers->downloadTo(path))
        return;
    QDir().mkpath(QFileInfo(path).absolutePath());
    if (const Result<qint64> queued = m_transfers->download(ref, path); !queued)
        qCInfo(lcClient).noquote() << "cannot fetch picture" << fileId << queued.error().message;
}

QUrl KithClient::avatarUrl(qint64 userId)
{
    if (!m_store->isOpen())
        return {};
    const auto user = m_store->user(quint64(userId));
    return user ? avatarUrlForFile(user->avatarFileId) : QUrl();
}

int KithClient::avatarColor(qint64 userId)
{
    if (!m_store->isOpen())
        return 0;
    const auto user = m_store->user(quint64(userId));
    return user ? int(user->avatarColor) : 0;
}

QUrl KithClient::ownAvatarUrl()
{
    return avatarUrl(qint64(m_store->isOpen() ? m_store->myUserId() : 0));
}

int KithClient::ownAvatarColor()
{
    return avatarColor(qint64(m_store->isOpen() ? m_store->myUserId() : 0));
}

void KithClient::requestAvatar(const QString &fileId, quint32 color)
{
    if (!avatarsSupported()) {
        emit operationFailed(QStringLiteral("This server keeps no profile pictures or colours"));
        return;
    }
    v1::Envelope env;
    env.mutable_set_avatar()->set_file_id(toStd(fileId));
    env.mutable_set_avatar()->set_color(color);
    m_connection->request(env, [this](Result<v1::Envelope> answer) {
        if (!answer) {
            emit operationFailed(answer.error().message);
            return;
        }
        if (answer->body_case() == v1::Envelope::kUserProfile)
            (void)m_store->upsertUser(answer->user_profile().user());
        emit profileChanged();
        emit avatarsChanged();
    });
}

void KithClient::setAvatarColor(int color)
{
    if (color < 0 || color > int(kMaxAvatarColor)) {
        emit operationFailed(QStringLiteral("No such avatar colour"));
        return;
    }
    const auto me = m_store->isOpen() ? m_store->user(m_store->myUserId()) : std::nullopt;
    requestAvatar(me ? me->avatarFileId : QString(), quint32(color));
}

void KithClient::removeAvatarPicture()
{
    requestAvatar(QString(), quint32(ownAvatarColor()));
}

void KithClient::setAvatarPicture(const QString &path)
{
    if (!avatarsSupported()) {
        emit operationFailed(
            QStringLiteral("Profile pictures can be set once signed in to a server that "
                           "keeps them"));
        return;
    }
    uploadAvatarImage(
        path, [this](const QString &fileId) { requestAvatar(fileId, quint32(ownAvatarColor())); });
}

void KithClient::uploadAvatarImage(const QString &path,
                                   std::function<void(const QString &fileId)> then)
{
    const QString local = QUrl(path).isLocalFile() ? QUrl(path).toLocalFile() : path;
    if (local.isEmpty()) {
        emit operationFailed(QStringLiteral("No picture was chosen"));
        return;
    }
    if (!m_store->isOpen() || m_transfers->cacheDirectory().isEmpty()) {
        emit operationFailed(QStringLiteral("Pictures can be set once signed in"));
        return;
    }
    if (!avatarEncoder()) {
        emit operationFailed(QStringLiteral("This program cannot read images"));
        return;
    }
    // One at a time: the staged file and the transfer are single.
    if (m_avatarUpload) {
        emit operationFailed(QStringLiteral("A picture is still being sent"));
        return;
    }
    QString format;
    QString error;
    const QByteArray bytes = avatarEncoder()(local, &format, &error);
    if (bytes.isEmpty()) {
        emit operationFailed(error);
        return;
    }
    // Staged in the cache folder; the MIME type comes from its name.
    const QString staged =
        QDir(m_transfers->cacheDirectory()).filePath(QStringLiteral("avatar-upload.") + format);
    QDir().mkpath(m_transfers->cacheDirectory());
    {
        QFile out(staged);
        if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
            out.write(bytes) != bytes.size() || !out.flush()) {
            emit operationFailed(QStringLiteral("Cannot write %1").arg(staged));
            return;
        }
    }
    m_avatarUpload = std::make_shared<FileTransfer>(m_connection.get(), m_token);
    m_avatarUpload->upload(
        staged, [this, staged, then = std::move(then)](Result<v1::FileRef> file) {
            // The transfer is still on the stack (this is its callback): it goes later.
            QMetaObject::invokeMethod(
                this, [transfer = std::move(m_avatarUpload)] {}, Qt::QueuedConnection);
            if (!file) {
                QFile::remove(staged);
                emit operationFailed(file.error().message);
                return;
            }
            // Kept where its download would go: a picture one sent needs no fetch.
            const QString kept = m_transfers->cachedPath(avatarRef(toQString(file->file_id())));
            if (!kept.isEmpty() && !QFileInfo(kept).isFile()) {
                QDir().mkpath(QFileInfo(kept).absolutePath());
                if (!QFile::rename(staged, kept))
                    QFile::remove(staged);
            }
            QFile::remove(staged);
            then(toQString(file->file_id()));
        });
}

bool KithClient::groupAvatarsSupported() const
{
    return m_connection->helloOk().protocol_minor() >= 5;
}

QUrl KithClient::groupAvatarUrl(const QString &conversationId)
{
    if (!m_store->isOpen())
        return {};
    const auto conversation = m_store->conversation(conversationId);
    return conversation ? avatarUrlForFile(conversation->avatarFileId) : QUrl();
}

int KithClient::groupAvatarColor(const QString &conversationId)
{
    if (!m_store->isOpen())
        return 0;
    const auto conversation = m_store->conversation(conversationId);
    return conversation ? int(conversation->avatarColor) : 0;
}

void KithClient::requestGroupAvatar(const QString &conversationId, const QString &fileId,
                                    quint32 color)
{
    if (!groupAvatarsSupported()) {
        emit operationFailed(QStringLiteral("This server keeps no group pictures or colours"));
        return;
    }
    v1::Envelope env;
    auto *set = env.mutable_set_group_avatar();
    set->set_conversation_id(toStd(conversationId));
    set->set_file_id(toStd(fileId));
    set->set_color(color);
    // The group's state changes with the event pushed to every member, this
    // device too.
    requestOk(env, [this, conversationId](Status s) {
        if (!s) {
            emit operationFailed(s.error().message);
            return;
        }
        emit groupAvatarSet(conversationId);
    });
}

void KithClient::setGroupPicture(const QString &conversationId, const QString &path)
{
    if (!groupAvatarsSupported()) {
        emit operationFailed(QStringLiteral("This server keeps no group pictures"));
        return;
    }
    uploadAvatarImage(path, [this, conversationId](const QString &fileId) {
        requestGroupAvatar(conversationId, fileId, quint32(groupAvatarColor(conversationId)));
    });
}

void KithClient::removeGroupPicture(const QString &conversationId)
{
    requestGroupAvatar(conversationId, QString(), quint32(groupAvatarColor(conversationId)));
}

void KithClient::setGroupColor(const QString &conversationId, int color)
{
    if (color < 0 || color > int(kMaxAvatarColor)) {
        emit operationFailed(QStringLiteral("No such avatar colour"));
        return;
    }
    const auto conversation =
        m_store->isOpen() ? m_store->conversation(conversationId) : std::nullopt;
    requestGroupAvatar(conversationId, conversation ? conversation->avatarFileId : QString(),
                       quint32(color));
}

void KithClient::refreshDevices()
{
    v1::Envelope env;
    env.mutable_list_devices();
    m_connection->request(env, [this](Result<v1::Envelope> answer) {
        if (!answer) {
            emit operationFailed(answer.error().message);
            return;
        }
        if (answer->body_case() != v1::Envelope::kDeviceList)
            return;
        m_devices.clear();
        for (const auto &device : answer->device_list().devices()) {
            m_devices << QVariantMap{
                {QStringLiteral("id"), qint64(device.id())},
                {QStringLiteral("name"), toQString(device.name())},
                {QStringLiteral("createdMs"), qint64(device.created_ms())},
                {QStringLiteral("lastSeenMs"), qint64(device.last_seen_ms())},
                {QStringLiteral("current"), device.current()},
                {QStringLiteral("online"), device.online()},
            };
        }
        emit devicesChanged();
    });
}

void KithClient::revokeDevice(qint64 deviceId)
{
    v1::Envelope env;
    env.mutable_revoke_device()->set_device_id(quint64(deviceId));
    requestOk(env, [this](Status done) {
        if (!done)
            emit operationFailed(done.error().message);
        refreshDevices();
    });
}

QString KithClient::sendMessage(const QString &conversationId, const QString &text,
                                qint64 replyToSeq)
{
    if (!m_store->isOpen()) {
        emit operationFailed(QStringLiteral("Not signed in"));
        return {};
    }
    v1::Content content;
    content.mutable_text()->set_body(toStd(text));
    content.set_reply_to_seq(quint64(replyToSeq));
    for (const v1::Mention &mention : mentionsIn(conversationId, text))
        *content.add_mentions() = mention;
    auto queued = m_outbox->enqueue(conversationId, content);
    if (!queued) {
        const QString storage = m_store->storageError();
        emit operationFailed(storage.isEmpty() ? queued.error().message : storage);
        return {};
    }
    (void)m_store->setDraft(conversationId, {});
    return *queued;
}

qint64 KithClient::sendFile(const QString &conversationId, const QString &path,
                            const QString &caption)
{
    return queueUpload(conversationId, path, caption, std::nullopt);
}

qint64 KithClient::sendVoiceNote(const QString &conversationId, const QString &path,
                                 qint64 durationMs)
{
    // duration_ms is 32 bits: a day at most, as receivers show it.
    constexpr qint64 kMaxMs = 24LL * 3600 * 1000;
    return queueUpload(conversationId, path, {},
                       quint32(std::clamp<qint64>(durationMs, 0, kMaxMs)));
}

qint64 KithClient::queueUpload(const QString &conversationId, const QString &path,
                               const QString &caption, std::optional<quint32> voiceNoteMs)
{
    if (!m_store->isOpen()) {
        emit operationFailed(QStringLiteral("Not signed in"));
        return 0;
    }
    const QUrl url(path);
    const QString local = url.isLocalFile() ? url.toLocalFile() : path;
    const Result<qint64> id = m_transfers->sendFile(conversationId, local, caption, voiceNoteMs);
    if (!id) {
        emit operationFailed(id.error().message);
        return 0;
    }
    return *id;
}

QString KithClient::sendContent(const QString &conversationId, const v1::Content &content)
{
    if (!m_store->isOpen()) {
        emit operationFailed(QStringLiteral("Not signed in"));
        return {};
    }
    auto queued = m_outbox->enqueue(conversationId, content);
    if (!queued) {
        const QString storage = m_store->storageError();
        emit operationFailed(storage.isEmpty() ? queued.error().message : storage);
        return {};
    }
    return *queued;
}

QString KithClient::editMessage(const QString &conversationId, qint64 seq, const QString &text)
{
    v1::Content content;
    content.mutable_edit()->set_target_seq(quint64(std::max<qint64>(seq, 0)));
    content.mutable_edit()->set_text(toStd(text));
    // The edit's mentions replace the message's: the new text's, or none.
    for (const v1::Mention &mention : mentionsIn(conversationId, text))
        *content.add_mentions() = mention;
    return sendContent(conversationId, content);
}

QList<v1::Mention> KithClient::mentionsIn(const QString &conversationId, const QString &text)
{
    QList<v1::Mention> found;
    if (!m_store->isOpen() || !text.contains(u'@'))
        return found;
    QList<quint64> members;
    if (const auto ref = parseConversationId(conversationId); ref && ref->isDirect()) {
        members = {ref->lowUser, ref->highUser};
    } else {
        for (const MemberRow &member : m_store->members(conversationId))
            members.append(member.userId);
    }
    QHash<QString, quint64> byName;
    for (quint64 id : std::as_const(members))
        if (const auto user = m_store->user(id))
            byName.insert(user->username, id);
    // "@name" where a word starts, the name as user names are made; a
    // full stop after it ends the sentence, not the name.
    static const QRegularExpression at(QStringLiteral("(?<![\\w@])@([A-Za-z0-9][A-Za-z0-9._-]*)"));
    for (auto it = at.globalMatch(text); it.hasNext() && found.size() < kMaxMentions;) {
        const QRegularExpressionMatch match = it.next();
        QString name = match.captured(1);
        while (name.endsWith(u'.') || name.endsWith(u'-'))
            name.chop(1);
        const auto user = byName.constFind(normalizeUsername(name));
        if (user == byName.cend())
            continue;
        v1::Mention mention;
        mention.set_user_id(*user);
        mention.set_offset(quint32(text.left(match.capturedStart()).toUtf8().size()));
        mention.set_length(quint32(1 + name.toUtf8().size()));
        found.append(mention);
    }
    return found;
}

QString KithClient::deleteMessage(const QString &conversationId, qint64 seq)
{
    v1::Content content;
    content.mutable_delete_()->set_target_seq(quint64(std::max<qint64>(seq, 0)));
    return sendContent(conversationId, content);
}

QString KithClient::react(const QString &conversationId, qint64 seq, const QString &emoji,
                          bool remove)
{
    v1::Content content;
    content.mutable_reaction()->set_target_seq(quint64(std::max<qint64>(seq, 0)));
    content.mutable_reaction()->set_emoji(toStd(emoji));
    content.mutable_reaction()->set_remove(remove);
    return sendContent(conversationId, content);
}

QString KithClient::toggleReaction(const QString &conversationId, qint64 seq, const QString &emoji)
{
    bool mine = false;
    if (const auto m = m_store->message(conversationId, quint64(std::max<qint64>(seq, 0)))) {
        const std::string wanted = toStd(emoji);
        for (const v1::ReactionCount &r : m->content.reactions())
            if (r.emoji() == wanted)
                for (quint64 user : r.user_ids())
                    mine = mine || user == m_store->myUserId();
    }
    return react(conversationId, seq, emoji, mine);
}

QString KithClient::pinMessage(const QString &conversationId, qint64 seq, bool pin)
{
    v1::Content content;
    content.mutable_pin()->set_target_seq(quint64(std::max<qint64>(seq, 0)));
    content.mutable_pin()->set_remove(!pin);
    return sendContent(conversationId, content);
}

QVariantList KithClient::pinnedMessages(const QString &conversationId)
{
    QVariantList result;
    if (!m_store->isOpen())
        return result;
    for (const auto &m : m_store->pinnedMessages(conversationId)) {
        result << QVariantMap{
            {QStringLiteral("seq"), qint64(m.seq)},
            {QStringLiteral("text"), previewText(m.content)},
            {QStringLiteral("senderId"), qint64(m.senderUserId)},
            {QStringLiteral("senderName"), displayName(qint64(m.senderUserId))},
            {QStringLiteral("pinnedBy"), qint64(m.content.pinned_by_user_id())},
            {QStringLiteral("pinnedMs"), qint64(m.content.pinned_ms())},
        };
    }
    return result;
}

void KithClient::setChatState(const QString &conversationId, v1::SetChatStateRequest change,
                              std::function<void(Status)> done)
{
    if (!m_connection->isOnline())
        return done(makeError(v1::UNAVAILABLE, QStringLiteral("Not connected")));
    v1::Envelope env;
    *env.mutable_set_chat_state() = std::move(change);
    env.mutable_set_chat_state()->set_conversation_id(toStd(conversationId));
    requestChatState(std::move(env), std::move(done));
}

void KithClient::setBlocked(quint64 userId, bool blocked, std::function<void(Status)> done)
{
    if (!m_connection->isOnline())
        return done(makeError(v1::UNAVAILABLE, QStringLiteral("Not connected")));
    v1::Envelope env;
    env.mutable_block_user()->set_user_id(userId);
    env.mutable_block_user()->set_blocked(blocked);
    requestChatState(std::move(env), std::move(done));
}

void KithClient::blockUser(qint64 userId, bool blocked)
{
    setBlocked(quint64(std::max<qint64>(userId, 0)), blocked, [this](Status s) {
        if (!s)
            emit operationFailed(s.error().message);
    });
}

bool KithClient::isBlocked(qint64 userId)
{
    return m_store->isOpen() && m_store->isBlocked(quint64(std::max<qint64>(userId, 0)));
}

void KithClient::requestChatState(v1::Envelope env, std::function<void(Status)> done)
{
    m_connection->request(env, [this, done = std::move(done)](Result<v1::Envelope> answer) {
        if (!answer)
            return done(answer.error());
        if (answer->body_case() != v1::Envelope::kChatState)
            return done(makeError(v1::INTERNAL, QStringLiteral("Unexpected answer")));
        m_sync->applyChatState(answer->chat_state());
        done(Done{});
    });
}

void KithClient::muteConversation(const QString &conversationId, qint64 untilMs)
{
    v1::SetChatStateRequest change;
    change.set_mute_until_ms(untilMs);
    setChatState(conversationId, change, [this](Status s) {
        if (!s)
            emit operationFailed(s.error().message);
    });
}

void KithClient::archiveConversation(const QString &conversationId, bool archived)
{
    v1::SetChatStateRequest change;
    change.set_archived(archived);
    setChatState(conversationId, change, [this](Status s) {
        if (!s)
            emit operationFailed(s.error().message);
    });
}

bool KithClient::isMuted(const QString &conversationId)
{
    if (!m_store->isOpen())
        return false;
    const auto row = m_store->conversation(conversationId);
    return row && row->isMutedAt(QDateTime::currentMSecsSinceEpoch());
}

void KithClient::hideMessage(const QString &conversationId, qint64 seq)
{
    v1::SetChatStateRequest change;
    change.set_hide_seq(quint64(std::max<qint64>(seq, 0)));
    setChatState(conversationId, change, [this](Status s) {
        if (!s)
            emit operationFailed(s.error().message);
    });
}

bool KithClient::retryMessage(const QString &clientMsgId)
{
    auto done = m_outbox->retry(clientMsgId);
    if (!done)
        emit operationFailed(done.error().message);
    return done.ok();
}

void KithClient::retryStorage()
{
    if (m_store->isOpen())
        (void)m_store->probeStorage();
}

bool KithClient::discardMessage(const QString &clientMsgId)
{
    auto done = m_outbox->discard(clientMsgId);
    if (!done)
        emit operationFailed(done.error().message);
    return done.ok();
}

void KithClient::markRead(const QString &conversationId, qint64 seq)
{
    const auto row = m_store->conversation(conversationId);
    if (!row)
        return;
    const quint64 target = seq > 0 ? quint64(seq) : row->maxSeq;
    if (target <= row->readSeq)
        return;
    // Locally at once (the badge clears offline too); the server learns it now,
    // or after the next sign-in when offline.
    (void)m_store->setReadSeq(conversationId, target);
    (void)m_store->setValue(kPendingReadPrefix + conversationId, QString::number(target));
    sendReadMarker(conversationId, target);
}

void KithClient::sendReadMarker(const QString &conversationId, quint64 seq)
{
    if (!m_connection->isOnline())
        return;
    v1::Envelope env;
    auto *mark = env.mutable_mark_read();
    mark->set_conversation_id(toStd(conversationId));
    mark->set_seq(seq);
    requestOk(env, [this, conversationId, seq](Status done) {
        const QString key = kPendingReadPrefix + conversationId;
        // Settled: sent, or refused for good (the conversation is gone).
        if ((done || done.error().code == v1::NOT_FOUND) &&
            m_store->value(key).toULongLong() == seq)
            (void)m_store->removeValue(key);
    });
}

void KithClient::sendPendingReadMarkers()
{
    for (const QString &id : m_store->conversationIds()) {
        const quint64 seq = m_store->value(kPendingReadPrefix + id).toULongLong();
        if (seq > 0)
            sendReadMarker(id, seq);
    }
}

void KithClient::setTyping(const QString &conversationId, bool typing)
{
    v1::Envelope env;
    auto *t = env.mutable_typing();
    t->set_conversation_id(toStd(conversationId));
    t->set_typing(typing);
    m_connection->sendOneWay(env);
}

QStringList KithClient::typingUsers(const QString &conversationId) const
{
    QStringList names;
    for (const auto &entry : m_typing.value(conversationId))
        names << const_cast<KithClient *>(this)->displayName(qint64(entry.userId));
    return names;
}

void KithClient::expireTyping()
{
    const qint64 now = nowMs();
    for (auto it = m_typing.begin(); it != m_typing.end();) {
        const auto before = it->size();
        it->removeIf([now](const TypingEntry &e) { return e.untilMs <= now; });
        const QString id = it.key();
        const bool changed = it->size() != before;
        it = it->isEmpty() ? m_typing.erase(it) : std::next(it);
        if (changed)
            emit typingChanged(id);
    }
    if (m_typing.isEmpty())
        m_typingTimer.stop();
}

QString KithClient::draft(const QString &conversationId)
{
    return m_store->isOpen() ? m_store->draft(conversationId) : QString();
}

void KithClient::setDraft(const QString &conversationId, const QString &text)
{
    if (m_store->isOpen())
        (void)m_store->setDraft(conversationId, text);
}

QString KithClient::directConversationId(qint64 peerUserId) const
{
    return kith::directConversationId(m_store->myUserId(), quint64(peerUserId));
}

void KithClient::openDirectChat(const QString &username)
{
    lookupUser(username, [this](Result<v1::User> user) {
        if (!user) {
            emit operationFailed(user.error().message);
            return;
        }
        const QString id = directConversationId(qint64(user->id()));
        (void)m_store->ensureConversation(id);
        emit directChatReady(id);
    });
}

void KithClient::lookupUser(const QString &username, std::function<void(Result<v1::User>)> done)
{
    v1::Envelope env;
    env.mutable_get_profile()->set_username(toStd(normalizeUsername(username)));
    m_connection->request(env, [this, done = std::move(done), username](Result<v1::Envelope> a) {
        if (!a) {
            done(a.error().code == v1::NOT_FOUND
                     ? makeError(v1::NOT_FOUND, QStringLiteral("No user named %1").arg(username))
                     : a.error());
            return;
        }
        if (a->body_case() != v1::Envelope::kUserProfile) {
            done(makeError(v1::INTERNAL, QStringLiteral("Unexpected answer")));
            return;
        }
        (void)m_store->upsertUser(a->user_profile().user());
        done(a->user_profile().user());
    });
}

void KithClient::lookupUsers(const QStringList &usernames,
                             std::function<void(Result<QList<quint64>>)> done)
{
    struct State
    {
        QList<quint64> ids;
        int remaining = 0;
        bool failed = false;
    };
    auto state = std::make_shared<State>();
    state->ids.resize(usernames.size());
    state->remaining = int(usernames.size());
    if (usernames.isEmpty()) {
        done(QList<quint64>());
        return;
    }
    for (int i = 0; i < usernames.size(); ++i) {
        lookupUser(usernames.at(i), [state, i, done](Result<v1::User> user) {
            if (state->failed)
                return;
            if (!user) {
                state->failed = true;
                done(user.error());
                return;
            }
            state->ids[i] = user->id();
            if (--state->remaining == 0)
                done(state->ids);
        });
    }
}

void KithClient::createGroup(const QString &name, const QList<quint64> &memberIds,
                             std::function<void(Result<QString>)> done)
{
    v1::Envelope env;
    auto *create = env.mutable_create_group();
    create->set_name(toStd(name));
    for (quint64 id : memberIds)
        create->add_member_user_ids(id);
    m_connection->request(env, [this, done = std::move(done)](Result<v1::Envelope> a) {
        if (!a) {
            done(a.error());
            return;
        }
        if (a->body_case() != v1::Envelope::kConversation) {
            done(makeError(v1::INTERNAL, QStringLiteral("Unexpected answer")));
            return;
        }
        const auto &state = a->conversation().state();
        (void)m_store->applyConversationState(state);
        m_sync->refreshMembers(toQString(state.id()));
        m_sync->fillGaps(toQString(state.id()));
        done(toQString(state.id()));
    });
}

void KithClient::createGroup(const QString &name, const QStringList &usernames)
{
    lookupUsers(usernames, [this, name](Result<QList<quint64>> ids) {
        if (!ids) {
            emit operationFailed(ids.error().message);
            return;
        }
        createGroup(name, *ids, [this](Result<QString> id) {
            if (!id)
                emit operationFailed(id.error().message);
            else
                emit groupCreated(*id);
        });
    });
}

void KithClient::requestOk(v1::Envelope request, std::function<void(Status)> done)
{
    m_connection->request(std::move(request), [done = std::move(done)](Result<v1::Envelope> a) {
        if (!a)
            done(a.error());
        else if (a->body_case() != v1::Envelope::kOk)
            done(makeError(v1::INTERNAL, QStringLiteral("Unexpected answer")));
        else
            done(Done{});
    });
}

void KithClient::addMembers(const QString &conversationId, const QStringList &usernames)
{
    lookupUsers(usernames, [this, conversationId](Result<QList<quint64>> ids) {
        if (!ids) {
            emit operationFailed(ids.error().message);
            return;
        }
        v1::Envelope env;
        auto *add = env.mutable_add_members();
        add->set_conversation_id(toStd(conversationId));
        for (quint64 id : *ids)
            add->add_user_ids(id);
        requestOk(env, [this, conversationId](Status s) {
            if (!s)
                emit operationFailed(s.error().message);
            m_sync->refreshMembers(conversationId);
        });
    });
}

void KithClient::removeMember(const QString &conversationId, qint64 userId)
{
    v1::Envelope env;
    auto *remove = env.mutable_remove_member();
    remove->set_conversation_id(toStd(conversationId));
    remove->set_user_id(quint64(userId));
    requestOk(env, [this, conversationId](Status s) {
        if (!s)
            emit operationFailed(s.error().message);
        m_sync->refreshMembers(conversationId);
    });
}

void KithClient::leaveGroup(const QString &conversationId)
{
    v1::Envelope env;
    env.mutable_leave_group()->set_conversation_id(toStd(conversationId));
    requestOk(env, [this, conversationId](Status s) {
        if (!s) {
            emit operationFailed(s.error().message);
            return;
        }
        (void)m_store->removeConversation(conversationId);
    });
}

void KithClient::renameGroup(const QString &conversationId, const QString &name)
{
    v1::Envelope env;
    auto *rename = env.mutable_rename_group();
    rename->set_conversation_id(toStd(conversationId));
    rename->set_name(toStd(name));
    requestOk(env, [this](Status s) {
        if (!s)
            emit operationFailed(s.error().message);
    });
}

QVariantList KithClient::searchMessages(const QString &query, int limit,
                                        const QString &conversationId)
{
    QVariantList results;
    if (!m_store->isOpen())
        return results;
    const quint64 me = m_store->myUserId();
    for (const auto &m : m_store->search(query, limit, conversationId)) {
        results << QVariantMap{
            {QStringLiteral("conversationId"), m.conversationId},
            {QStringLiteral("seq"), qint64(m.seq)},
            {QStringLiteral("text"), m.text()},
            {QStringLiteral("senderName"), displayName(qint64(m.senderUserId))},
            {QStringLiteral("senderId"), qint64(m.senderUserId)},
            {QStringLiteral("isOwn"), me != 0 && m.senderUserId == me},
            {QStringLiteral("isGroup"), m.conversationId.startsWith(u'g')},
            {QStringLiteral("time"), QDateTime::fromMSecsSinceEpoch(m.serverTimeMs)},
        };
    }
    return results;
}

QString KithClient::displayName(qint64 userId)
{
    if (userId == 0)
        return {};
    if (m_store->isOpen())
        if (const auto user = m_store->user(quint64(userId)))
            return user->shownName();
    return QStringLiteral("user %1").arg(userId);
}

KithClient::ConnectionState KithClient::connectionState() const
{
    switch (m_connection->state()) {
    case Connection::State::Idle:
        return SignedOut;
    case Connection::State::Connecting:
    case Connection::State::Authenticating:
        return Connecting;
    case Connection::State::Online:
        return Online;
    case Connection::State::WaitingToRetry:
        return Reconnecting;
    case Connection::State::AuthRequired:
        return LoginRequired;
    case Connection::State::TrustRequired:
        return TrustRequired;
    }
    return SignedOut;
}

bool KithClient::isOnline() const
{
    return m_connection->isOnline();
}

int KithClient::nextRetryIn() const
{
    return m_connection->nextRetryIn();
}

QString KithClient::storageError() const
{
    return m_store->storageError();
}

QString KithClient::lastError() const
{
    return m_connection->lastError();
}

bool KithClient::isSyncing() const
{
    return m_sync->isSyncing();
}

bool KithClient::hasSession() const
{
    return m_store->isOpen() && !m_token.isEmpty();
}

qint64 KithClient::userId() const
{
    return m_store->isOpen() ? qint64(m_store->myUserId()) : 0;
}

} // namespace kith::client
