// AuthService: register per policy (open or closed, a limit per address),
// password login, resume, the failed-login throttle, disabled accounts, device listing and
// revocation.

#include "service_fixture.h"

#include <QTest>

#include <functional>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {
const QString kAddress = QStringLiteral("192.0.2.7");

v1::RegisterRequest registration(const std::string &name, const std::string &password)
{
    v1::RegisterRequest request;
    request.set_username(name);
    request.set_password(password);
    request.set_device_name("laptop");
    return request;
}

v1::LoginRequest login(const std::string &name, const std::string &password)
{
    v1::LoginRequest request;
    request.set_username(name);
    request.set_password(password);
    request.set_device_name("phone");
    return request;
}
} // namespace

class TestAuth : public QObject
{
    Q_OBJECT

    static Result<AuthGrant> registerUser(ServiceFixture &f, const v1::RegisterRequest &request,
                                          const QString &address = kAddress)
    {
        return await<AuthGrant>([&](QObject *context, auto done) {
            f.auth->registerUser(request, address, context, done);
        });
    }
    static Result<AuthGrant> logIn(ServiceFixture &f, const v1::LoginRequest &request,
                                   const QString &address = kAddress)
    {
        return await<AuthGrant>(
            [&](QObject *context, auto done) { f.auth->login(request, address, context, done); });
    }
    static Result<AuthGrant> resume(ServiceFixture &f, const std::string &token)
    {
        v1::ResumeRequest request;
        request.set_token(token);
        return f.auth->resume(request, kAddress);
    }
    // Starts `count` logins at once (none is answered before all are asked)
    // and counts the answers by error code (0 for success).
    static QHash<int, int> loginsAtOnce(ServiceFixture &f, int count,
                                        const std::function<v1::LoginRequest(int)> &request,
                                        const std::function<QString(int)> &address)
    {
        QObject context;
        QHash<int, int> answers;
        int answered = 0;
        for (int i = 0; i < count; ++i) {
            f.auth->login(request(i), address(i), &context,
                          [&answers, &answered](Result<AuthGrant> result) {
                              ++answers[result ? 0 : int(result.error().code)];
                              ++answered;
                          });
        }
        (void)QTest::qWaitFor([&] { return answered == count; }, kWaitMs);
        return answers;
    }

private slots:
    void registerLoginResume()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const auto registered = registerUser(f, registration("Alice", "correct horse"));
        QVERIFY2(registered.ok(),
                 qPrintable(registered.ok() ? QString() : registered.error().message));
        QCOMPARE(registered->answer.user().username(), "alice"); // normalised
        QVERIFY(registered->deviceId != 0);
        QVERIFY(registered->answer.token().size() >= 43); // 32 bytes, base64url

        const auto loggedIn = logIn(f, login("alice", "correct horse"));
        QVERIFY(loggedIn.ok());
        QCOMPARE(loggedIn->userId, registered->userId);
        QVERIFY(loggedIn->deviceId != registered->deviceId);
        QVERIFY(loggedIn->answer.token() != registered->answer.token());

        const auto resumed = resume(f, registered->answer.token());
        QVERIFY(resumed.ok());
        QCOMPARE(resumed->deviceId, registered->deviceId);
        QVERIFY(resumed->answer.token().empty());

        QCOMPARE(resume(f, "not-a-token").error().code, v1::TOKEN_INVALID);
        QCOMPARE(resume(f, "").error().code, v1::TOKEN_INVALID);
    }

    void registerRefusesBadInput()
    {
        ServiceFixture f;
        QVERIFY(registerUser(f, registration("bob", "long enough")).ok());
        QCOMPARE(registerUser(f, registration("BOB", "long enough")).error().code, v1::NAME_TAKEN);
        QCOMPARE(registerUser(f, registration("b", "long enough")).error().code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(registerUser(f, registration("has space", "long enough")).error().code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(registerUser(f, registration("carol", "short")).error().code,
                 v1::INVALID_ARGUMENT);
    }

    void closedRegistration()
    {
        AuthPolicy policy;
        policy.registrationOpen = false;
        ServiceFixture f(policy);
        QCOMPARE(registerUser(f, registration("dave", "long enough")).error().code,
                 v1::REGISTRATION_CLOSED);
    }

    void wrongPasswordAndUnknownUser()
    {
        ServiceFixture f;
        QVERIFY(registerUser(f, registration("erin", "the password")).ok());
        QCOMPARE(logIn(f, login("erin", "not the password")).error().code, v1::AUTH_FAILED);
        QCOMPARE(logIn(f, login("nobody", "the password")).error().code, v1::AUTH_FAILED);
        QCOMPARE(logIn(f, login("erin", "")).error().code, v1::AUTH_FAILED);
        QVERIFY(logIn(f, login("erin", "the password")).ok());
    }

    void failedLoginsAreRateLimitedPerAccount()
    {
        ServiceFixture f;
        QVERIFY(registerUser(f, registration("frank", "the password")).ok());
        QVERIFY(registerUser(f, registration("grace", "the password")).ok());
        for (int i = 0; i < 5; ++i)
            QCOMPARE(logIn(f, login("frank", "wrong password")).error().code, v1::AUTH_FAILED);
        // Locked now, even with the right password...
        const auto locked = logIn(f, login("frank", "the password"));
        QVERIFY(!locked.ok());
        QCOMPARE(locked.error().code, v1::RATE_LIMITED);
        QVERIFY(locked.error().retryAfterMs > 0);
        // ...while another account from the same address is not.
        QVERIFY(logIn(f, login("grace", "the password")).ok());
    }

    void failedLoginsAreRateLimitedPerAddress()
    {
        AuthPolicy policy;
        policy.addressFailuresBeforeLockout = 3;
        ServiceFixture f(policy);
        QVERIFY(registerUser(f, registration("heidi", "the password")).ok());
        const QString attacker = QStringLiteral("198.51.100.1");
        for (const char *name : {"u1x", "u2x", "u3x"})
            QCOMPARE(logIn(f, login(name, "guess guess"), attacker).error().code, v1::AUTH_FAILED);
        QCOMPARE(logIn(f, login("heidi", "the password"), attacker).error().code, v1::RATE_LIMITED);
        QVERIFY(logIn(f, login("heidi", "the password"), kAddress).ok());
    }

    // Forty guesses at once on one account: each is counted before its hash,
    // and few are checked at once, so no more are checked than the lockout
    // allows (before, all forty were evaluated).
    void parallelGuessesAreCountedBeforeTheHash()
    {
        ServiceFixture f;
        QVERIFY(registerUser(f, registration("target", "the password")).ok());
        const auto answers = loginsAtOnce(
            f, 40, [](int) { return login("target", "wrong guess"); },
            [](int i) { return QStringLiteral("198.51.100.%1").arg(i); });
        QCOMPARE(answers.value(0), 0);
        QVERIFY2(answers.value(v1::AUTH_FAILED) <= AuthPolicy{}.hashesPerAccount,
                 qPrintable(QString::number(answers.value(v1::AUTH_FAILED))));
        QCOMPARE(answers.value(v1::AUTH_FAILED) + answers.value(v1::RATE_LIMITED), 40);
        QCOMPARE(f.services->hasher.verifications(), quint64(answers.value(v1::AUTH_FAILED)));
    }

    // One address checks only a few hashes at once, whatever the names.
    void hashesInFlightAreBoundedPerAddress()
    {
        ServiceFixture f;
        const auto answers = loginsAtOnce(
            f, 20, [](int i) { return login("nobody" + std::to_string(i), "some guess"); },
            [](int) { return QStringLiteral("198.51.100.9"); });
        QCOMPARE(answers.value(v1::AUTH_FAILED), AuthPolicy{}.hashesPerAddress);
        QCOMPARE(answers.value(v1::RATE_LIMITED), 20 - AuthPolicy{}.hashesPerAddress);
    }

    // A name that does not exist costs a hash like one that does (against a
    // dummy hash), so the time taken tells nothing of which names exist.
    void unknownNamesAreCheckedAgainstADummyHash()
    {
        ServiceFixture f;
        QCOMPARE(f.services->hasher.verifications(), quint64(0));
        QCOMPARE(logIn(f, login("nobody", "some password")).error().code, v1::AUTH_FAILED);
        QCOMPARE(f.services->hasher.verifications(), quint64(1));
        QVERIFY(registerUser(f, registration("somebody", "the password")).ok());
        QCOMPARE(logIn(f, login("somebody", "wrong password")).error().code, v1::AUTH_FAILED);
        QCOMPARE(f.services->hasher.verifications(), quint64(2));
    }

    // An account holds at most maxSessionsPerUser connections: a login or
    // resume past it gets TOO_MANY_SESSIONS (and no new device).
    void sessionsPerUserAreCapped()
    {
        AuthPolicy policy;
        policy.maxSessionsPerUser = 1;
        ServiceFixture f(policy);
        const auto grant = registerUser(f, registration("solo", "the password"));
        QVERIFY(grant.ok());
        f.connect(grant->userId, grant->deviceId);
        QCOMPARE(logIn(f, login("solo", "the password")).error().code, v1::TOO_MANY_SESSIONS);
        QCOMPARE(resume(f, grant->answer.token()).error().code, v1::TOO_MANY_SESSIONS);
        QCOMPARE(f.auth->listDevices(f.callerFor(grant->userId))->devices_size(), 1);
    }

    // Each address may open a few accounts at once, then waits; refused
    // input and taken names spend nothing, and other addresses are not held up.
    void registrationsAreRateLimitedPerAddress()
    {
        AuthPolicy policy;
        policy.registrationsPerHour = 2;
        ServiceFixture f(policy);
        const QString crowd = QStringLiteral("198.51.100.9");
        QVERIFY(registerUser(f, registration("ivan", "the password"), crowd).ok());
        QCOMPARE(registerUser(f, registration("ivan", "the password"), crowd).error().code,
                 v1::NAME_TAKEN);
        QCOMPARE(registerUser(f, registration("judy", "short"), crowd).error().code,
                 v1::INVALID_ARGUMENT);
        QVERIFY(registerUser(f, registration("judy", "the password"), crowd).ok());

        const auto refused = registerUser(f, registration("mallory", "the password"), crowd);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, v1::RATE_LIMITED);
        // One more every half hour: the hint says so (at most that, and far
        // more than a per-minute rate would give).
        QVERIFY(refused.error().retryAfterMs <= 30 * 60 * 1000);
        QVERIFY(refused.error().retryAfterMs > 5 * 60 * 1000);
        QVERIFY(refused.error().message.contains(QStringLiteral("try again")));

        QVERIFY(registerUser(f, registration("mallory", "the password"), kAddress).ok());
        // Logging in is not registering.
        QVERIFY(logIn(f, login("ivan", "the password"), crowd).ok());
    }

    void registrationLimitZeroMeansNone()
    {
        AuthPolicy policy;
        policy.registrationsPerHour = 0;
        ServiceFixture f(policy);
        for (int i = 0; i < 5; ++i) {
            const std::string name = "open" + std::to_string(i);
            QVERIFY(registerUser(f, registration(name, "the password")).ok());
        }
    }

    // After the admin changes the Argon2 settings, a login redoes the
    // account's hash with them; later logins and wrong passwords leave it be.
    void loginRedoesAHashMadeWithOtherSettings()
    {
        ServiceFixture f; // hashes with Argon2Params{}
        Argon2Params before;
        before.ops = Argon2Params::kMinOps + 1;
        const Result<QByteArray> oldHash = hashPassword("the password", before);
        QVERIFY(oldHash.ok());
        QVERIFY(needsRehash(*oldHash, Argon2Params{}));
        const auto created = await<UserRecord>([&](QObject *context, auto done) {
            f.store->createUser(QStringLiteral("oscar"), QStringLiteral("Oscar"), *oldHash, context,
                                done);
        });
        QVERIFY(created.ok());

        QCOMPARE(logIn(f, login("oscar", "wrong password")).error().code, v1::AUTH_FAILED);
        QCOMPARE(f.store->userById(created->id)->passwordHash, *oldHash);

        // The upgrade is queued before the login's device, so it is stored
        // by the time the login is answered.
        QVERIFY(logIn(f, login("oscar", "the password")).ok());
        const QByteArray upgraded = f.store->userById(created->id)->passwordHash;
        QVERIFY(upgraded != *oldHash);
        QVERIFY(!needsRehash(upgraded, Argon2Params{}));
        QVERIFY(verifyPassword(upgraded, "the password"));

        QVERIFY(logIn(f, login("oscar", "the password")).ok());
        QCOMPARE(f.store->userById(created->id)->passwordHash, upgraded);
    }

    void disabledAccount()
    {
        ServiceFixture f;
        const auto registered = registerUser(f, registration("ivan", "the password"));
        QVERIFY(registered.ok());
        const Status disabled = await<Done>([&](QObject *context, auto done) {
            f.store->setDisabled(registered->userId, true, context, done);
        });
        QVERIFY(disabled.ok());
        QCOMPARE(logIn(f, login("ivan", "the password")).error().code, v1::ACCOUNT_DISABLED);
        QCOMPARE(resume(f, registered->answer.token()).error().code, v1::ACCOUNT_DISABLED);
        // A wrong password still says only that.
        QCOMPARE(logIn(f, login("ivan", "bad password")).error().code, v1::AUTH_FAILED);
    }

    // Disabled elsewhere: the account's open connections close with
    // ACCOUNT_DISABLED, whether the store told of it or a look at the store
    // found it; other accounts' stay.
    void disabledAccountLosesItsConnections()
    {
        ServiceFixture f;
        const quint64 ivan = f.addUser(QStringLiteral("ivan"));
        const quint64 jane = f.addUser(QStringLiteral("jane"));
        RecordingConnection *laptop = f.connect(ivan, 1);
        RecordingConnection *phone = f.connect(ivan, 2);
        RecordingConnection *other = f.connect(jane, 3);
        QCOMPARE(f.auth->accountDisabled(ivan), 2);
        QCOMPARE(laptop->terminatedWith, std::optional(v1::ACCOUNT_DISABLED));
        QCOMPARE(phone->terminatedWith, std::optional(v1::ACCOUNT_DISABLED));
        QVERIFY(!other->terminatedWith);

        QCOMPARE(f.auth->closeDisabledAccounts(), 0); // nothing disabled in the store yet
        QVERIFY(await<Done>([&](QObject *context, auto done) {
                    f.store->setDisabled(jane, true, context, done);
                }).ok());
        QCOMPARE(f.auth->closeDisabledAccounts(), 1);
        QCOMPARE(other->terminatedWith, std::optional(v1::ACCOUNT_DISABLED));
    }

    void revokeDeviceClosesItsConnections()
    {
        ServiceFixture f;
        const auto laptop = registerUser(f, registration("judy", "the password"));
        QVERIFY(laptop.ok());
        const auto phone = logIn(f, login("judy", "the password"));
        QVERIFY(phone.ok());
        RecordingConnection *laptopConnection = f.connect(laptop->userId, laptop->deviceId);
        RecordingConnection *phoneConnection = f.connect(phone->userId, phone->deviceId);

        const Caller caller = f.callerFor(laptop->userId, laptopConnection, laptop->deviceId);
        const auto devices = f.auth->listDevices(caller);
        QVERIFY(devices.ok());
        QCOMPARE(devices->devices_size(), 2);
        for (const v1::Device &device : devices->devices()) {
            QCOMPARE(device.current(), device.id() == laptop->deviceId);
            QVERIFY(device.online());
        }

        v1::RevokeDeviceRequest revoke;
        revoke.set_device_id(phone->deviceId);
        const Status revoked = await<Done>([&](QObject *context, auto done) {
            f.auth->revokeDevice(caller, revoke, context, done);
        });
        QVERIFY(revoked.ok());
        QCOMPARE(phoneConnection->terminatedWith, std::optional(v1::TOKEN_INVALID));
        QVERIFY(!laptopConnection->terminatedWith);
        QCOMPARE(resume(f, phone->answer.token()).error().code, v1::TOKEN_INVALID);
        QVERIFY(resume(f, laptop->answer.token()).ok());

        const auto after = f.auth->listDevices(caller);
        QVERIFY(after.ok());
        QCOMPARE(after->devices_size(), 1);
        QCOMPARE(after->devices(0).id(), laptop->deviceId);

        // Someone else's device, or one already revoked: NOT_FOUND.
        const auto other = registerUser(f, registration("mallory", "the password"));
        QVERIFY(other.ok());
        revoke.set_device_id(other->deviceId);
        const Status foreign = await<Done>([&](QObject *context, auto done) {
            f.auth->revokeDevice(caller, revoke, context, done);
        });
        QCOMPARE(foreign.error().code, v1::NOT_FOUND);
        QVERIFY(resume(f, other->answer.token()).ok());
    }

    void logoutRevokesTheToken()
    {
        ServiceFixture f;
        const auto grant = registerUser(f, registration("kate", "the password"));
        QVERIFY(grant.ok());
        RecordingConnection *current = f.connect(grant->userId, grant->deviceId);
        RecordingConnection *sameDevice = f.connect(grant->userId, grant->deviceId);
        const Caller caller = f.callerFor(grant->userId, current, grant->deviceId);
        const Status loggedOut = await<Done>(
            [&](QObject *context, auto done) { f.auth->logout(caller, context, done); });
        QVERIFY(loggedOut.ok());
        QCOMPARE(resume(f, grant->answer.token()).error().code, v1::TOKEN_INVALID);
        // The asking connection is closed by its session; others of the device now.
        QVERIFY(!current->terminatedWith);
        QCOMPARE(sameDevice->terminatedWith, std::optional(v1::TOKEN_INVALID));
    }

    // A stop that comes while a password is being hashed: the login and the
    // registration in flight are answered SHUTTING_DOWN, and no device or
    // account is made for them.
    void authInFlightWhenTheStopComesIsAnsweredShuttingDown()
    {
        ServiceFixture f;
        QVERIFY(registerUser(f, registration("early", "long enough")).ok());
        const auto devicesBefore =
            f.store->devicesOfUser(f.store->userByName(QStringLiteral("early"))->id);
        QVERIFY(devicesBefore.ok());

        QObject context;
        std::optional<Result<AuthGrant>> loggedIn;
        std::optional<Result<AuthGrant>> registered;
        f.auth->login(login("early", "long enough"), kAddress, &context,
                      [&loggedIn](Result<AuthGrant> r) { loggedIn.emplace(std::move(r)); });
        f.auth->registerUser(
            registration("late", "long enough"), kAddress, &context,
            [&registered](Result<AuthGrant> r) { registered.emplace(std::move(r)); });
        // Nothing ran on this thread since: both hashes are in flight.
        f.auth->stop();
        QTRY_VERIFY_WITH_TIMEOUT(loggedIn && registered, kWaitMs);
        QVERIFY(!*loggedIn);
        QCOMPARE(loggedIn->error().code, v1::SHUTTING_DOWN);
        QVERIFY(!*registered);
        QCOMPARE(registered->error().code, v1::SHUTTING_DOWN);
        QCOMPARE(f.store->devicesOfUser(f.store->userByName(QStringLiteral("early"))->id)->size(),
                 devicesBefore->size());
        QCOMPARE(f.store->userByName(QStringLiteral("late")).error().code, v1::NOT_FOUND);
    }

    void passwordsAreStoredAsArgon2id()
    {
        ServiceFixture f;
        QVERIFY(registerUser(f, registration("liam", "the password")).ok());
        const auto user = f.store->userByName(QStringLiteral("liam"));
        QVERIFY(user.ok());
        QVERIFY(user->passwordHash.startsWith("$argon2id$"));
        QVERIFY(user->passwordHash.contains("m=19456,t=2"));
        QVERIFY(!user->passwordHash.contains("the password"));
    }
};

QTEST_GUILESS_MAIN(TestAuth)
#include "tst_auth.moc"
