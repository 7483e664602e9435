#pragma once
// PgNotifier: a thread with its own connection that LISTENs on one channel
// and hands each notification's payload to a callback (on that thread). When
// the connection is lost it connects again, and then says that notifications
// may have been missed meanwhile. Owned by PostgresStore.

#include <QByteArray>
#include <QString>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

namespace kith::server::pg {

// Where the store tells every node that an account was disabled (payload:
// the user id), in the disabling transaction: delivered when it commits.
inline constexpr QLatin1StringView kAccountsChannel{"kith_accounts"};

class PgNotifier
{
public:
    struct Callbacks
    {
        std::function<void(const QByteArray &payload)> notified;
        // Listening again after the connection was lost: what was sent
        // meanwhile is gone, so the listener should look for itself.
        std::function<void()> mayHaveMissed;
    };

    PgNotifier(QByteArray url, QString name, QByteArray channel, Callbacks callbacks);
    ~PgNotifier();
    PgNotifier(const PgNotifier &) = delete;
    PgNotifier &operator=(const PgNotifier &) = delete;

    // Starts listening; returns once the first LISTEN is in place (or failed,
    // in which case the thread keeps trying).
    void start();
    void stop();
    [[nodiscard]] bool isListening() const { return m_listening.load(); }

private:
    void run(std::promise<void> *firstAttempt);
    // Waits for the socket (or -1: only the wake-up) up to timeoutMs; false when woken to stop.
    [[nodiscard]] bool waitFor(int socket, int timeoutMs);

    const QByteArray m_url;
    const QString m_name;
    const QByteArray m_channel;
    const Callbacks m_callbacks;
    int m_wakeFd = -1;
    std::atomic<bool> m_stopping{false};
    std::atomic<bool> m_listening{false};
    std::thread m_thread;
};

} // namespace kith::server::pg
