#include "pg_notifier.h"

#include "pg_connection.h"
#include "pg_logging.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <future>

namespace kith::server::pg {

namespace {
// How often a listener that lost the database tries again.
constexpr int kReconnectMs = 1000;
} // namespace

PgNotifier::PgNotifier(QByteArray url, QString name, QByteArray channel, Callbacks callbacks)
    : m_url(std::move(url))
    , m_name(std::move(name))
    , m_channel(std::move(channel))
    , m_callbacks(std::move(callbacks))
    , m_wakeFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{}

PgNotifier::~PgNotifier()
{
    stop();
    if (m_wakeFd >= 0)
        ::close(m_wakeFd);
}

void PgNotifier::start()
{
    if (m_thread.joinable())
        return;
    m_stopping.store(false);
    // The first LISTEN is in place before this returns, so that nothing sent
    // after that is missed; the thread goes on trying if it failed.
    std::promise<void> firstAttempt;
    std::future<void> done = firstAttempt.get_future();
    m_thread = std::thread([this, &firstAttempt] { run(&firstAttempt); });
    done.wait();
}

void PgNotifier::stop()
{
    if (!m_thread.joinable())
        return;
    m_stopping.store(true);
    const quint64 one = 1;
    (void)::write(m_wakeFd, &one, sizeof one);
    m_thread.join();
}

bool PgNotifier::waitFor(int socket, int timeoutMs)
{
    pollfd watched[2] = {{m_wakeFd, POLLIN, 0}, {socket, POLLIN, 0}};
    for (;;) {
        const int ready = ::poll(watched, socket >= 0 ? 2 : 1, timeoutMs);
        if (ready < 0 && errno == EINTR)
            continue;
        return !m_stopping.load() && !(watched[0].revents & POLLIN);
    }
}

void PgNotifier::run(std::promise<void> *firstAttempt)
{
    bool listenedBefore = false;
    std::unique_ptr<PgConnection> connection;
    while (!m_stopping.load()) {
        if (!connection) {
            auto connected = PgConnection::connect(m_url, m_name);
            if (connected) {
                connection = std::move(*connected);
                // The channel is our own constant, quoted as an identifier.
                const QString listen =
                    QStringLiteral("LISTEN \"%1\"").arg(QString::fromLatin1(m_channel));
                if (!connection->command(listen, "listen").ok())
                    connection.reset();
            }
            if (firstAttempt) {
                firstAttempt->set_value();
                firstAttempt = nullptr;
            }
            if (!connection) {
                m_listening.store(false);
                if (!waitFor(-1, kReconnectMs))
                    break;
                continue;
            }
            m_listening.store(true);
            if (listenedBefore) {
                qCInfo(lcPostgres) << "postgresql: listening again on" << m_channel;
                if (m_callbacks.mayHaveMissed)
                    m_callbacks.mayHaveMissed();
            }
            listenedBefore = true;
        }
        if (!waitFor(connection->socket(), -1))
            break;
        if (!connection->consumeInput()) {
            qCWarning(lcPostgres) << "postgresql: lost the connection listening on" << m_channel;
            connection.reset();
            m_listening.store(false);
            continue;
        }
        for (auto n = connection->nextNotification(); !n.first.isEmpty();
             n = connection->nextNotification()) {
            if (n.first == m_channel && m_callbacks.notified)
                m_callbacks.notified(n.second);
        }
    }
    m_listening.store(false);
    if (firstAttempt)
        firstAttempt->set_value();
}

} // namespace kith::server::pg
