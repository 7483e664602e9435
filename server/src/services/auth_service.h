#pragma once
// Accounts and devices: register (per the registration policy), password login
// with Argon2id, resume with a device token, logout, list and revoke devices,
// and the failed-login throttle. Owned by Services; plain service, no socket code.

#include "caller.h"
#include "rate_limit.h"

#include <QObject>

namespace kith::server {

class EventRouter;
class PasswordHasher;
class PresenceService;
class PushRouter;

struct AuthPolicy
{
    bool registrationOpen = true;
    // New accounts per remote address per hour, all at once if need be (a
    // class setting up); then one every 3600/N s. 0: no limit.
    int registrationsPerHour = 30;
    // Per account: 5 free failures, then a lockout doubling from 30 s to 15 min.
    int accountFailuresBeforeLockout = 5;
    // Per remote address: more headroom, as a LAN or NAT puts many people behind one.
    int addressFailuresBeforeLockout = 20;
    qint64 baseLockoutMs = 30 * 1000;
    qint64 maxLockoutMs = 15 * 60 * 1000;
    // Password hashes being checked at once (logins and registrations): per
    // account, per remote address, and in all; past them RATE_LIMITED.
    int hashesPerAccount = 2;
    int hashesPerAddress = 4;
    int hashesInFlight = 64;
    // Resumes and logins per remote address: a token bucket (per second, burst).
    double authRate = 5;
    double authBurst = 50;
    // Authenticated connections one account may hold on this node; 0: no limit.
    int maxSessionsPerUser = 20;
};

// What a successful register/login/resume gives the session.
struct AuthGrant
{
    v1::AuthOk answer;
    quint64 userId = 0;
    quint64 deviceId = 0;
};

class AuthService : public QObject
{
    Q_OBJECT
public:
    AuthService(Store &store, PushRouter &router, EventRouter &events, PasswordHasher &hasher,
                PresenceService &presence, AuthPolicy policy, QObject *parent = nullptr);

    [[nodiscard]] bool registrationOpen() const { return m_policy.registrationOpen; }
    [[nodiscard]] int maxSessionsPerUser() const { return m_policy.maxSessionsPerUser; }

    void registerUser(const v1::RegisterRequest &request, const QString &remoteAddress,
                      QObject *context, Completion<AuthGrant> done);
    void login(const v1::LoginRequest &request, const QString &remoteAddress, QObject *context,
               Completion<AuthGrant> done);
    [[nodiscard]] Result<AuthGrant> resume(const v1::ResumeRequest &request,
                                           const QString &remoteAddress);

    // Revokes the caller's device; its other connections get TOKEN_INVALID.
    // The caller's own connection is left to the caller to close after the answer.
    void logout(const Caller &caller, QObject *context, Completion<Done> done);
    [[nodiscard]] Result<v1::DeviceList> listDevices(const Caller &caller);
    // Revokes one of the caller's devices; every live connection of it gets
    // TOKEN_INVALID and is closed (after `done` ran, so the answer goes first).
    void revokeDevice(const Caller &caller, const v1::RevokeDeviceRequest &request,
                      QObject *context, Completion<Done> done);

    // Closes, with ACCOUNT_DISABLED, the live connections of accounts the admin
    // has disabled elsewhere: of all of them (a look at the store, for a store
    // that cannot tell; see Store::watchDisabledAccounts), or of the one the
    // store told of. Returns how many were closed.
    int closeDisabledAccounts();
    int accountDisabled(quint64 userId);

    // Refuses new work with SHUTTING_DOWN (the store is about to close).
    void stop() { m_stopped = true; }

private:
    void issueDevice(const UserRecord &user, const std::string &deviceName,
                     Completion<AuthGrant> done);
    void upgradePasswordHash(const UserRecord &user, const QByteArray &upgradedHash);
    // Past the auth attempts one address may make: the wait, else 0.
    [[nodiscard]] quint32 takeAuthAttempt(const QString &remoteAddress);
    // TOO_MANY_SESSIONS when the user holds as many connections as allowed.
    [[nodiscard]] Status checkSessionRoom(quint64 userId) const;

    Store &m_store;
    PushRouter &m_router;
    EventRouter &m_events;
    PasswordHasher &m_hasher;
    PresenceService &m_presence;
    AuthPolicy m_policy;
    LoginThrottle m_accountThrottle;
    LoginThrottle m_addressThrottle; // also bounds registrations' hashes in flight
    KeyedBuckets m_registrations;    // by remote address
    KeyedBuckets m_authAttempts;     // logins and resumes, by remote address
    int m_hashesInFlight = 0;
    bool m_stopped = false;
};

} // namespace kith::server
