#pragma once
// Runs Argon2id hashing and verification on a small thread pool so the event
// loop never stalls on a 19 MiB hash. Owned by the Server; used by AuthService.

#include "credentials.h"

#include <QObject>
#include <QThreadPool>

#include <functional>

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

    // Blocks until no job is running (their completions are then queued).
    void waitForIdle();

    [[nodiscard]] Argon2Params params() const { return m_params; }

private:
    Argon2Params m_params;
    QThreadPool m_pool;
};

} // namespace kith::server
