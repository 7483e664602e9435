#include "transfer_stream.h"

#include <QSocketNotifier>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace kith::server {

PlainTransferStream::PlainTransferStream(int fd, QObject *parent)
    : TransferStream(parent)
    , m_fd(fd)
{
    const int flags = ::fcntl(m_fd, F_GETFL);
    if (flags >= 0)
        ::fcntl(m_fd, F_SETFL, flags | O_NONBLOCK);
    m_read = new QSocketNotifier(qintptr(m_fd), QSocketNotifier::Read, this);
    m_write = new QSocketNotifier(qintptr(m_fd), QSocketNotifier::Write, this);
    m_write->setEnabled(false);
    connect(m_read, &QSocketNotifier::activated, this, &TransferStream::readable);
    connect(m_write, &QSocketNotifier::activated, this, &TransferStream::writable);
}

PlainTransferStream::~PlainTransferStream()
{
    close();
}

qint64 PlainTransferStream::read(char *into, qint64 max)
{
    if (m_fd < 0)
        return -1;
    for (;;) {
        const ssize_t got = ::recv(m_fd, into, size_t(max), 0);
        if (got > 0)
            return got;
        if (got == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

qint64 PlainTransferStream::write(const char *data, qint64 size)
{
    if (m_fd < 0)
        return -1;
    for (;;) {
        const ssize_t sent = ::send(m_fd, data, size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0)
            return sent;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

qint64 PlainTransferStream::sendFile(int fd, qint64 *offset, qint64 count)
{
    if (m_fd < 0)
        return -1;
    for (;;) {
        off_t at = off_t(*offset);
        const ssize_t sent = ::sendfile(m_fd, fd, &at, size_t(count));
        if (sent >= 0) {
            *offset = qint64(at);
            return sent;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

void PlainTransferStream::setReadInterest(bool enabled)
{
    if (m_fd >= 0)
        m_read->setEnabled(enabled);
}

void PlainTransferStream::setWriteInterest(bool enabled)
{
    if (m_fd >= 0)
        m_write->setEnabled(enabled);
}

void PlainTransferStream::shutdownWrite()
{
    if (m_fd >= 0)
        ::shutdown(m_fd, SHUT_WR);
}

void PlainTransferStream::close()
{
    if (m_fd < 0)
        return;
    // Out of the dispatcher before the descriptor goes.
    delete m_read;
    delete m_write;
    m_read = nullptr;
    m_write = nullptr;
    ::close(m_fd);
    m_fd = -1;
}

QHostAddress PlainTransferStream::peerAddress() const
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (m_fd < 0 || ::getpeername(m_fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
        return {};
    return QHostAddress(reinterpret_cast<const sockaddr *>(&address));
}

} // namespace kith::server
