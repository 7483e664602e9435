#include "relay_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace kith::bench {

namespace {
// The kernel clamps this to somaxconn; a connect storm should not see drops.
constexpr int kListenBacklog = 4096;
} // namespace

RelayServer::RelayServer(EventLoop &loop)
    : m_loop(loop)
{}

RelayServer::~RelayServer()
{
    if (m_fd >= 0) {
        m_loop.remove(m_fd);
        ::close(m_fd);
    }
}

bool RelayServer::listen()
{
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_fd < 0)
        return false;
    const int one = 1;
    setsockopt(m_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        ::listen(m_fd, kListenBacklog) != 0)
        return false;
    socklen_t len = sizeof addr;
    getsockname(m_fd, reinterpret_cast<sockaddr *>(&addr), &len);
    m_port = ntohs(addr.sin_port);
    return m_loop.add(m_fd, this);
}

void RelayServer::handleEvents(uint32_t)
{
    for (;;) {
        const int fd = ::accept4(m_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; // EAGAIN: drained; EMFILE and friends: the client sees a refusal
        auto connection = std::make_unique<WsConnection>(m_loop, WsConnection::Role::Server);
        WsConnection *raw = connection.get();
        raw->onOpen = [this, raw] { attach(raw); };
        raw->onMessage = [this, raw](std::string_view message) { relay(raw, message); };
        raw->onClosed = [this, raw] {
            const auto peer = m_peer.find(raw);
            if (peer != m_peer.end()) {
                m_peer.erase(peer->second);
                m_peer.erase(peer);
            }
        };
        m_connections.push_back(std::move(connection));
        raw->adopt(fd);
    }
}

void RelayServer::attach(WsConnection *connection)
{
    auto &slots = m_pairs[connection->requestPath()];
    if (!slots[0]) {
        slots[0] = connection;
    } else if (!slots[1]) {
        slots[1] = connection;
        m_peer[slots[0]] = slots[1];
        m_peer[slots[1]] = slots[0];
    }
}

void RelayServer::relay(WsConnection *from, std::string_view message)
{
    const auto peer = m_peer.find(from);
    if (peer != m_peer.end())
        peer->second->sendBinary(message);
    from->sendBinary(message);
}

RelayProcess::~RelayProcess()
{
    stop();
}

bool RelayProcess::start(unsigned deadlineSeconds)
{
    int up[2];
    if (::pipe2(up, O_CLOEXEC) != 0)
        return false;
    const pid_t pid = ::fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::alarm(deadlineSeconds);
        ::close(up[0]);
        EventLoop loop;
        RelayServer server(loop);
        if (!server.listen())
            ::_exit(1);
        const uint16_t port = server.port();
        if (::write(up[1], &port, sizeof port) != sizeof port)
            ::_exit(1);
        ::close(up[1]);
        loop.runUntil([] { return false; }, INT64_MAX);
        ::_exit(0);
    }
    ::close(up[1]);
    m_pid = pid;
    uint16_t port = 0;
    const bool ok = ::read(up[0], &port, sizeof port) == sizeof port;
    ::close(up[0]);
    m_port = port;
    if (!ok)
        stop();
    return ok;
}

void RelayProcess::stop()
{
    if (m_pid <= 0)
        return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
}

} // namespace kith::bench
