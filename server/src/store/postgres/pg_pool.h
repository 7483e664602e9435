#pragma once
// PgPool: the PostgreSQL store's bounded pool of read connections. Any thread
// may lease one; past the bound a reader waits for one to come back (up to a
// timeout) instead of opening more, so N kithd nodes hold at most N times the
// bound against the server's max_connections. Owned by PostgresStore.

#include "pg_connection.h"

#include <QByteArray>
#include <QString>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace kith::server::pg {

class PgPool
{
public:
    PgPool(QByteArray url, QString name, int maxConnections, int acquireTimeoutMs);
    ~PgPool();
    PgPool(const PgPool &) = delete;
    PgPool &operator=(const PgPool &) = delete;

    // A leased connection; it goes back to the pool (or is closed, if it
    // broke) when the lease ends.
    class Lease
    {
    public:
        Lease(PgPool *pool, std::unique_ptr<PgConnection> connection, bool reused)
            : m_pool(pool)
            , m_connection(std::move(connection))
            , m_reused(reused)
        {}
        Lease(Lease &&other) noexcept = default;
        Lease &operator=(Lease &&other) = delete;
        Lease(const Lease &) = delete;
        Lease &operator=(const Lease &) = delete;
        ~Lease();

        PgConnection &operator*() const { return *m_connection; }
        PgConnection *operator->() const { return m_connection.get(); }
        // Taken from the idle ones (it may have died while idle).
        [[nodiscard]] bool reused() const { return m_reused; }

    private:
        PgPool *m_pool;
        std::unique_ptr<PgConnection> m_connection;
        bool m_reused;
    };

    // An idle connection, a new one while under the bound, or one that comes
    // back within the timeout; UNAVAILABLE otherwise (or when the database
    // cannot be reached), INTERNAL once closed.
    [[nodiscard]] Result<Lease> acquire();

    // Runs `read` on a leased connection. A read that finds an idle
    // connection dead (the database restarted since) runs once more on a new
    // one; the other idle ones are closed first, as they died the same way.
    template<class T>
    [[nodiscard]] Result<T> run(const std::function<Result<T>(PgConnection &)> &read)
    {
        for (int attempt = 0;; ++attempt) {
            auto lease = acquire();
            if (!lease)
                return lease.error();
            Result<T> result = read(**lease);
            if (result.ok() || attempt > 0 || !lease->reused() ||
                (*lease)->lastFailure() != Failure::Connection)
                return result;
            closeIdle();
        }
    }

    // Closes the idle connections and refuses new leases; leased ones close
    // when they come back.
    void close();

    // Closes the idle connections (new ones are opened as needed).
    void closeIdle();

    [[nodiscard]] int openConnections() const;
    // The most connections open at once since the pool was made.
    [[nodiscard]] int peakConnections() const;
    [[nodiscard]] int maxConnections() const { return m_max; }

private:
    void giveBack(std::unique_ptr<PgConnection> connection);

    const QByteArray m_url;
    const QString m_name;
    const int m_max;
    const int m_acquireTimeoutMs;

    mutable std::mutex m_mutex;
    std::condition_variable m_returned;
    std::vector<std::unique_ptr<PgConnection>> m_idle;
    int m_open = 0; // idle + leased + being opened
    int m_peak = 0;
    bool m_closed = false;
};

} // namespace kith::server::pg
