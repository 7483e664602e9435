#pragma once
// Runs Argon2id hashing and verification on a small thread pool so the event
// loop never stalls on a 19 MiB hash. Owned by the Server; used by AuthService.

#include "credentials.h"

#include <QObject>
#include <QThreadPool>

#include <atomic>
#include <functional>
#include <future>

namespace kith::server {

class PasswordHasher : public QObject
{
    Q_OBJECT
public:
    explicit PasswordHasher(Argon2Params params, QObject *parent = nullptr);
    ~PasswordHasher() override;

    // `done` runs on this object's thread, and only while `context` is alive
    // (a connection may close while its hash is being computed).
    void hash(const QString &password, QObject *context,
              std::function<void(Result<QByteArray>)> done);
    // On a match with a hash made with other parameters than this hasher's,
    // `upgradedHash` is a fresh hash of the password with them (made on the
    // pool, so the password goes no further); otherwise it is empty.
    void verify(const QByteArray &storedHash, const QString &password, QObject *context,
                std::function<void(bool ok, QByteArray upgradedHash)> done);
    // A login for a user name that does not exist: the password is checked
    // against a hash of a random one made with this hasher's parameters, so
    // the answer takes as long as for a known name (names cannot be told
    // apart by time), and is always false.
    void verifyUnknown(const QString &password, QObject *context, std::function<void()> done);

    // Blocks until no job is running (their completions are then queued).
    void waitForIdle();

    [[nodiscard]] Argon2Params params() const { return m_params; }
    // Verifications run so far, of real and dummy hashes alike.
    [[nodiscard]] quint64 verifications() const { return m_verifications; }

private:
    Argon2Params m_params;
    QThreadPool m_pool;
    // Made on the pool as the hasher starts; verifyUnknown waits for it there.
    std::shared_future<QByteArray> m_dummyHash;
    std::atomic<quint64> m_verifications{0};
};

} // namespace kith::server
