#include "auth_service.h"

#include "conversation_access.h"
#include "event_router.h"
#include "kith/content.h"
#include "kith/protocol.h"
#include "logging.h"
#include "password_hasher.h"
#include "presence_service.h"
#include "push_router.h"
#include "user_service.h"

namespace kith::server {

namespace {
constexpr int kMinPasswordBytes = 8;    // below this a password is a PIN
constexpr int kMaxPasswordBytes = 1024; // bounds the hashing input
constexpr int kMaxDeviceNameChars = 64;

Error shuttingDown()
{
    return makeError(v1::SHUTTING_DOWN, QStringLiteral("The server is stopping; reconnect later"));
}

Error authFailed()
{
    return makeError(v1::AUTH_FAILED, QStringLiteral("Wrong user name or password"));
}

Error tooManyAttempts(quint32 waitMs)
{
    return makeError(v1::RATE_LIMITED, QStringLiteral("Too many logins at once; try again later"),
                     waitMs);
}

// Hashes already running in all: the next one waits this long.
constexpr quint32 kHashesBusyRetryMs = 1000;

std::optional<Error> checkPassword(const std::string &password)
{
    if (password.size() < size_t(kMinPasswordBytes) || password.size() > size_t(kMaxPasswordBytes))
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("A password has %1 to %2 bytes")
                                                   .arg(kMinPasswordBytes)
                                                   .arg(kMaxPasswordBytes));
    return std::nullopt;
}

QString cleanDeviceName(const std::string &utf8)
{
    QString name = toQString(utf8).simplified();
    name.removeIf([](QChar c) { return c.category() == QChar::Other_Control; });
    if (name.isEmpty())
        return QStringLiteral("device");
    return name.left(kMaxDeviceNameChars);
}
} // namespace

AuthService::AuthService(Store &store, PushRouter &router, EventRouter &events,
                         PasswordHasher &hasher, PresenceService &presence, AuthPolicy policy,
                         QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_router(router)
    , m_events(events)
    , m_hasher(hasher)
    , m_presence(presence)
    , m_policy(policy)
    , m_accountThrottle(policy.accountFailuresBeforeLockout, policy.baseLockoutMs,
                        policy.maxLockoutMs, policy.hashesPerAccount)
    , m_addressThrottle(policy.addressFailuresBeforeLockout, policy.baseLockoutMs,
                        policy.maxLockoutMs, policy.hashesPerAddress)
    , m_registrations(policy.registrationsPerHour / 3600.0, policy.registrationsPerHour)
    , m_authAttempts(policy.authRate, policy.authBurst)
{}

quint32 AuthService::takeAuthAttempt(const QString &remoteAddress)
{
    if (m_policy.authRate <= 0)
        return 0;
    return m_authAttempts.take(remoteAddress, monotonicMs());
}

Status AuthService::checkSessionRoom(quint64 userId) const
{
    if (m_policy.maxSessionsPerUser > 0 &&
        m_router.connectionCount(userId) >= m_policy.maxSessionsPerUser)
        return makeError(v1::TOO_MANY_SESSIONS,
                         QStringLiteral("This account has %1 connections open, the most "
                                        "allowed; close one first")
                             .arg(m_policy.maxSessionsPerUser));
    return Done{};
}

void AuthService::registerUser(const v1::RegisterRequest &request, const QString &remoteAddress,
                               QObject *context, Completion<AuthGrant> done)
{
    if (m_stopped)
        return done(shuttingDown());
    if (!m_policy.registrationOpen)
        return done(
            makeError(v1::REGISTRATION_CLOSED,
                      QStringLiteral("Registration is closed; ask the admin for an account")));
    const QString username = normalizeUsername(toQString(request.username()));
    if (!isValidUsername(username))
        return done(makeError(v1::INVALID_ARGUMENT,
                              QStringLiteral("A user name has 3 to 32 of a-z 0-9 . _ - and starts "
                                             "with a letter or digit")));
    if (const auto bad = checkPassword(request.password()))
        return done(*bad);
    QString displayName = username;
    if (!request.display_name().empty()) {
        const Result<QString> cleaned = cleanDisplayName(request.display_name());
        if (!cleaned)
            return done(cleaned.error());
        displayName = *cleaned;
    }
    // Checked here to spare a hash; the store's unique key still decides races.
    const Result<UserRecord> existing = m_store.userByName(username);
    if (existing)
        return done(makeError(v1::NAME_TAKEN, QStringLiteral("That user name is taken")));
    if (existing.error().code != v1::NOT_FOUND)
        return done(storeError(existing.error()));
    // Counted only for a registration that would go ahead: each costs a hash.
    if (m_policy.registrationsPerHour > 0) {
        const quint32 wait = m_registrations.take(remoteAddress, monotonicMs());
        if (wait > 0) {
            qCInfo(lcAuth) << "registration refused: too many from" << remoteAddress;
            return done(makeError(v1::RATE_LIMITED,
                                  QStringLiteral("Too many new accounts from this address; "
                                                 "try again in %1 min")
                                      .arg(qMax(1U, (wait + 59'999) / 60'000)),
                                  wait));
        }
    }

    if (m_hashesInFlight >= m_policy.hashesInFlight)
        return done(tooManyAttempts(kHashesBusyRetryMs));
    const QString addressKey = QStringLiteral("addr:") + remoteAddress;
    if (const quint32 wait = m_addressThrottle.begin(addressKey, monotonicMs()))
        return done(tooManyAttempts(wait));
    ++m_hashesInFlight;

    const std::string deviceName = request.device_name();
    auto guardedDone = whileAlive<AuthGrant>(context, std::move(done));
    m_hasher.hash(
        toQString(request.password()), this,
        [this, username, displayName, deviceName, remoteAddress, addressKey,
         done = guardedDone](Result<QByteArray> hash) {
            --m_hashesInFlight;
            m_addressThrottle.finish(addressKey, monotonicMs(), LoginThrottle::Outcome::Neutral);
            if (m_stopped)
                return done(shuttingDown());
            if (!hash)
                return done(hash.error());
            m_store.createUser(username, displayName, *hash, this,
                               [this, deviceName, remoteAddress, done](Result<UserRecord> user) {
                                   if (!user)
                                       return done(storeError(user.error()));
                                   qCInfo(lcAuth) << "registered" << user->username << "id"
                                                  << user->id << "from" << remoteAddress;
                                   issueDevice(*user, deviceName, done);
                               });
        });
}

void AuthService::login(const v1::LoginRequest &request, const QString &remoteAddress,
                        QObject *context, Completion<AuthGrant> done)
{
    if (m_stopped)
        return done(shuttingDown());
    const QString username = normalizeUsername(toQString(request.username()));
    const QString accountKey = QStringLiteral("user:") + username;
    const QString addressKey = QStringLiteral("addr:") + remoteAddress;
    const qint64 now = monotonicMs();
    const quint32 wait = qMax(m_accountThrottle.retryAfterMs(accountKey, now),
                              m_addressThrottle.retryAfterMs(addressKey, now));
    if (wait > 0)
        return done(makeError(v1::RATE_LIMITED,
                              QStringLiteral("Too many failed logins; try again later"), wait));
    if (request.password().empty() || request.password().size() > size_t(kMaxPasswordBytes))
        return done(authFailed());
    if (const quint32 attemptWait = takeAuthAttempt(remoteAddress))
        return done(tooManyAttempts(attemptWait));
    if (m_hashesInFlight >= m_policy.hashesInFlight)
        return done(tooManyAttempts(kHashesBusyRetryMs));

    const Result<UserRecord> user = m_store.userByName(username);
    if (!user && user.error().code != v1::NOT_FOUND)
        return done(storeError(user.error()));
    // Counted before the hash, so that parallel guesses cannot all be
    // checked before the first failure is known; each key's attempts in
    // flight are bounded too.
    if (const quint32 accountWait = m_accountThrottle.begin(accountKey, now))
        return done(tooManyAttempts(accountWait));
    if (const quint32 addressWait = m_addressThrottle.begin(addressKey, now)) {
        m_accountThrottle.finish(accountKey, now, LoginThrottle::Outcome::Neutral);
        return done(tooManyAttempts(addressWait));
    }
    ++m_hashesInFlight;
    auto guardedDone = whileAlive<AuthGrant>(context, std::move(done));
    const auto failed = [this, accountKey, addressKey] {
        const qint64 at = monotonicMs();
        m_accountThrottle.finish(accountKey, at, LoginThrottle::Outcome::Failed);
        m_addressThrottle.finish(addressKey, at, LoginThrottle::Outcome::Failed);
    };
    if (!user) {
        // Checked against a dummy hash: as long as a wrong password for a
        // real name, so that names cannot be told apart by the time taken.
        m_hasher.verifyUnknown(toQString(request.password()), this,
                               [this, failed, remoteAddress, done = guardedDone] {
                                   --m_hashesInFlight;
                                   failed();
                                   if (m_stopped)
                                       return done(shuttingDown());
                                   qCInfo(lcAuth) << "login for unknown user from" << remoteAddress;
                                   done(authFailed());
                               });
        return;
    }

    const UserRecord record = *user;
    const std::string deviceName = request.device_name();
    m_hasher.verify(record.passwordHash, toQString(request.password()), this,
                    [this, record, deviceName, accountKey, addressKey, remoteAddress, failed,
                     done = guardedDone](bool ok, const QByteArray &upgradedHash) {
                        --m_hashesInFlight;
                        if (!ok) {
                            failed();
                            if (m_stopped)
                                return done(shuttingDown());
                            qCInfo(lcAuth) << "wrong password for" << record.username << "from"
                                           << remoteAddress;
                            return done(authFailed());
                        }
                        const qint64 at = monotonicMs();
                        m_accountThrottle.finish(accountKey, at, LoginThrottle::Outcome::Succeeded);
                        m_addressThrottle.finish(addressKey, at, LoginThrottle::Outcome::Neutral);
                        if (m_stopped)
                            return done(shuttingDown());
                        if (record.disabled)
                            return done(makeError(v1::ACCOUNT_DISABLED,
                                                  QStringLiteral("This account is disabled")));
                        if (const Status room = checkSessionRoom(record.id); !room)
                            return done(room.error());
                        if (!upgradedHash.isEmpty())
                            upgradePasswordHash(record, upgradedHash);
                        issueDevice(record, deviceName, done);
                    });
}

void AuthService::issueDevice(const UserRecord &user, const std::string &deviceName,
                              Completion<AuthGrant> done)
{
    const QByteArray token = newDeviceToken();
    m_store.createDevice(user.id, cleanDeviceName(deviceName), hashDeviceToken(token), this,
                         [this, user, token, done = std::move(done)](Result<DeviceRecord> device) {
                             if (!device)
                                 return done(storeError(device.error()));
                             AuthGrant grant;
                             grant.userId = user.id;
                             grant.deviceId = device->id;
                             *grant.answer.mutable_user() = m_presence.toUser(user);
                             grant.answer.mutable_user()->set_online(true);
                             grant.answer.set_device_id(device->id);
                             grant.answer.set_token(token.toStdString());
                             qCInfo(lcAuth)
                                 << "user" << user.id << "logged in as device" << device->id;
                             done(grant);
                         });
}

Result<AuthGrant> AuthService::resume(const v1::ResumeRequest &request,
                                      const QString &remoteAddress)
{
    if (m_stopped)
        return shuttingDown();
    if (const quint32 wait = takeAuthAttempt(remoteAddress))
        return tooManyAttempts(wait);
    const Error invalid =
        makeError(v1::TOKEN_INVALID, QStringLiteral("Unknown or revoked token; log in again"));
    if (request.token().empty() || request.token().size() > 256)
        return invalid;
    const QByteArray tokenHash =
        hashDeviceToken(QByteArrayView(request.token().data(), qsizetype(request.token().size())));
    const Result<DeviceRecord> device = m_store.deviceByTokenHash(tokenHash);
    if (!device)
        return device.error().code == v1::NOT_FOUND ? invalid : storeError(device.error());
    const Result<UserRecord> user = m_store.userById(device->userId);
    if (!user)
        return user.error().code == v1::NOT_FOUND ? invalid : storeError(user.error());
    if (user->disabled)
        return makeError(v1::ACCOUNT_DISABLED, QStringLiteral("This account is disabled"));
    if (const Status room = checkSessionRoom(user->id); !room)
        return room.error();
    m_store.touchDevice(device->id, nowMs());
    AuthGrant grant;
    grant.userId = user->id;
    grant.deviceId = device->id;
    *grant.answer.mutable_user() = m_presence.toUser(*user);
    grant.answer.mutable_user()->set_online(true);
    grant.answer.set_device_id(device->id);
    return grant;
}

void AuthService::logout(const Caller &caller, QObject *context, Completion<Done> done)
{
    if (m_stopped)
        return done(shuttingDown());
    const quint64 deviceId = caller.deviceId;
    const ConnectionRef origin = caller.connection;
    m_store.revokeDevice(
        caller.userId, deviceId, this,
        [this, deviceId, origin, done = whileAlive<Done>(context, std::move(done))](Status status) {
            if (!status)
                return done(storeError(status.error()));
            qCInfo(lcAuth) << "device" << deviceId << "logged out";
            done(Done{});
            m_events.deviceRevoked(DeviceRevoked{deviceId, origin});
        });
}

Result<v1::DeviceList> AuthService::listDevices(const Caller &caller)
{
    const Result<QList<DeviceRecord>> devices = m_store.devicesOfUser(caller.userId);
    if (!devices)
        return storeError(devices.error());
    v1::DeviceList list;
    for (const DeviceRecord &record : *devices) {
        if (record.revoked)
            continue;
        auto *device = list.add_devices();
        device->set_id(record.id);
        device->set_name(toStd(record.name));
        device->set_created_ms(record.createdMs);
        device->set_last_seen_ms(record.lastSeenMs);
        device->set_current(record.id == caller.deviceId);
        device->set_online(m_router.isDeviceOnline(record.id));
    }
    return list;
}

void AuthService::revokeDevice(const Caller &caller, const v1::RevokeDeviceRequest &request,
                               QObject *context, Completion<Done> done)
{
    if (m_stopped)
        return done(shuttingDown());
    if (request.device_id() == 0)
        return done(makeError(v1::INVALID_ARGUMENT, QStringLiteral("Which device?")));
    const quint64 deviceId = request.device_id();
    m_store.revokeDevice(
        caller.userId, deviceId, this,
        [this, deviceId, done = whileAlive<Done>(context, std::move(done))](Status status) {
            if (!status) {
                if (status.error().code == v1::NOT_FOUND)
                    return done(makeError(v1::NOT_FOUND, QStringLiteral("No such device")));
                return done(storeError(status.error()));
            }
            qCInfo(lcAuth) << "device" << deviceId << "revoked";
            done(Done{});
            m_events.deviceRevoked(DeviceRevoked{deviceId, {}});
        });
}

int AuthService::closeDisabledAccounts()
{
    if (m_stopped || m_router.onlineUserCount() == 0)
        return 0;
    const Result<QList<quint64>> disabled = m_store.disabledUserIds();
    if (!disabled) {
        qCWarning(lcAuth) << "cannot list disabled accounts:" << disabled.error().message;
        return 0;
    }
    int closed = 0;
    for (const quint64 userId : *disabled)
        closed += accountDisabled(userId);
    return closed;
}

int AuthService::accountDisabled(quint64 userId)
{
    if (m_stopped || !m_router.isOnline(userId))
        return 0;
    return m_events.accountDisabled(AccountDisabled{userId});
}

// After the admin changed the Argon2 settings, each account's hash is redone
// with them at its next login; the login does not wait for the write.
void AuthService::upgradePasswordHash(const UserRecord &user, const QByteArray &upgradedHash)
{
    m_store.replacePasswordHash(user.id, user.passwordHash, upgradedHash, this,
                                [username = user.username](Result<bool> replaced) {
                                    if (!replaced)
                                        qCWarning(lcAuth)
                                            << "cannot store the upgraded password hash of"
                                            << username << replaced.error().message;
                                    else if (*replaced)
                                        qCInfo(lcAuth) << "password hash of" << username
                                                       << "redone with the current Argon2 settings";
                                });
}

} // namespace kith::server
