#include "pg_pool.h"

#include "pg_logging.h"

#include <chrono>

namespace kith::server::pg {

PgPool::PgPool(QByteArray url, QString name, int maxConnections, int acquireTimeoutMs)
    : m_url(std::move(url))
    , m_name(std::move(name))
    , m_max(std::max(1, maxConnections))
    , m_acquireTimeoutMs(acquireTimeoutMs)
{}

PgPool::~PgPool()
{
    close();
}

PgPool::Lease::~Lease()
{
    if (m_pool && m_connection)
        m_pool->giveBack(std::move(m_connection));
}

Result<PgPool::Lease> PgPool::acquire()
{
    std::unique_lock lock(m_mutex);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(m_acquireTimeoutMs);
    for (;;) {
        if (m_closed)
            return makeError(v1::INTERNAL, QStringLiteral("the store is not open"));
        if (!m_idle.empty()) {
            std::unique_ptr<PgConnection> connection = std::move(m_idle.back());
            m_idle.pop_back();
            return Lease(this, std::move(connection), true);
        }
        if (m_open < m_max)
            break;
        if (m_returned.wait_until(lock, deadline) == std::cv_status::timeout && m_idle.empty() &&
            m_open >= m_max) {
            qCWarning(lcPostgres) << "postgresql: all" << m_max
                                  << "read connections stayed busy; a read gave up";
            Error error = unavailableError();
            error.message = QStringLiteral("all database connections are busy; retry later");
            return error;
        }
    }
    // A place is taken before connecting (outside the lock), so the bound
    // holds while connections are being opened.
    ++m_open;
    m_peak = std::max(m_peak, m_open);
    lock.unlock();
    auto connection = PgConnection::connect(m_url, m_name);
    if (!connection) {
        lock.lock();
        --m_open;
        lock.unlock();
        m_returned.notify_one();
        return connection.error();
    }
    return Lease(this, std::move(*connection), false);
}

void PgPool::giveBack(std::unique_ptr<PgConnection> connection)
{
    std::unique_ptr<PgConnection> closing;
    {
        std::lock_guard lock(m_mutex);
        if (m_closed || connection->isBroken()) {
            --m_open;
            closing = std::move(connection);
        } else {
            m_idle.push_back(std::move(connection));
        }
    }
    m_returned.notify_one();
    // `closing` says goodbye to the server here, outside the lock.
}

void PgPool::close()
{
    std::vector<std::unique_ptr<PgConnection>> idle;
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
        idle.swap(m_idle);
        m_open -= int(idle.size());
    }
    m_returned.notify_all();
}

void PgPool::closeIdle()
{
    std::vector<std::unique_ptr<PgConnection>> idle;
    {
        std::lock_guard lock(m_mutex);
        idle.swap(m_idle);
        m_open -= int(idle.size());
    }
    m_returned.notify_all();
}

int PgPool::openConnections() const
{
    std::lock_guard lock(m_mutex);
    return m_open;
}

int PgPool::peakConnections() const
{
    std::lock_guard lock(m_mutex);
    return m_peak;
}

} // namespace kith::server::pg
