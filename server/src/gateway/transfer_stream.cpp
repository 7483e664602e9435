#include "transfer_stream.h"

#include <QSocketNotifier>
#include <QSslSocket>
#include <QTimer>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

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

namespace {
// A TLS connection closed with bytes still going out gets this long to send
// them (and its close_notify) before it is cut.
constexpr int kTlsCloseGraceMs = 5000;
// A download's file is read this much at a time.
constexpr qint64 kTlsFileChunk = 64 * 1024;
} // namespace

TlsTransferStream::TlsTransferStream(QSslSocket *socket, QObject *parent)
    : TransferStream(parent)
    , m_socket(socket)
    , m_peer(socket->peerAddress())
{
    m_socket->setParent(this);
    m_socket->setReadBufferSize(kMaxBuffered);
    connect(m_socket, &QSslSocket::readyRead, this, &TlsTransferStream::onReadyRead);
    connect(m_socket, &QSslSocket::encryptedBytesWritten, this, &TlsTransferStream::onWritten);
    connect(m_socket, &QSslSocket::disconnected, this, &TlsTransferStream::onGone);
    connect(m_socket, &QSslSocket::errorOccurred, this, &TlsTransferStream::onGone);
}

TlsTransferStream::~TlsTransferStream()
{
    close();
}

bool TlsTransferStream::connected() const
{
    return m_socket && !m_gone && m_socket->state() == QAbstractSocket::ConnectedState;
}

qint64 TlsTransferStream::read(char *into, qint64 max)
{
    if (!m_socket)
        return -1;
    const qint64 got = m_socket->read(into, max);
    if (got > 0)
        return got;
    // What arrived before the peer went is read first; then it is gone.
    return got < 0 || !connected() ? -1 : 0;
}

qint64 TlsTransferStream::write(const char *data, qint64 size)
{
    if (!connected())
        return -1;
    const qint64 room = kMaxBuffered - pendingBytes();
    if (room <= 0 || size <= 0)
        return 0;
    const qint64 taken = m_socket->write(data, std::min(size, room));
    return taken < 0 ? -1 : taken;
}

qint64 TlsTransferStream::sendFile(int fd, qint64 *offset, qint64 count)
{
    if (!connected())
        return -1;
    const qint64 room = kMaxBuffered - pendingBytes();
    const qint64 want = std::min({count, room, kTlsFileChunk});
    if (want <= 0)
        return 0;
    if (m_buffer.size() < want)
        m_buffer.resize(want);
    qint64 got = -1;
    do {
        got = ::pread(fd, m_buffer.data(), size_t(want), off_t(*offset));
    } while (got < 0 && errno == EINTR);
    if (got <= 0)
        return -1; // the file ended early, or cannot be read
    const qint64 taken = m_socket->write(m_buffer.constData(), got);
    if (taken != got)
        return -1;
    *offset += got;
    return got;
}

qint64 TlsTransferStream::pendingBytes() const
{
    return m_socket ? m_socket->bytesToWrite() + m_socket->encryptedBytesToWrite() : 0;
}

void TlsTransferStream::setReadInterest(bool enabled)
{
    m_readInterest = enabled;
    // The socket says readyRead only when more arrives: what it holds already
    // is announced here.
    if (enabled && m_socket && (m_socket->bytesAvailable() > 0 || m_gone))
        QMetaObject::invokeMethod(this, &TlsTransferStream::onReadyRead, Qt::QueuedConnection);
}

void TlsTransferStream::setWriteInterest(bool enabled)
{
    m_writeInterest = enabled;
    if (enabled && m_socket && (pendingBytes() < kMaxBuffered / 2 || m_gone))
        QMetaObject::invokeMethod(this, &TlsTransferStream::onWritten, Qt::QueuedConnection);
}

void TlsTransferStream::onReadyRead()
{
    if (m_readInterest && m_socket)
        emit readable();
}

void TlsTransferStream::onWritten()
{
    if (m_writeInterest && m_socket && (pendingBytes() < kMaxBuffered / 2 || m_gone)) {
        m_writeInterest = false;
        emit writable();
    }
}

void TlsTransferStream::onGone()
{
    if (m_gone)
        return;
    m_gone = true;
    // Whoever waits learns of it from read() or write().
    if (m_readInterest)
        emit readable();
    if (m_writeInterest)
        emit writable();
}

void TlsTransferStream::shutdownWrite()
{
    // TLS has no half-close short of ending the session: the answer goes out
    // with the rest, and close() ends the session after it.
}

void TlsTransferStream::close()
{
    if (!m_socket)
        return;
    QSslSocket *socket = std::exchange(m_socket, nullptr);
    socket->disconnect(this);
    socket->setParent(nullptr);
    if (socket->state() != QAbstractSocket::ConnectedState) {
        socket->abort();
        socket->deleteLater();
        return;
    }
    // What was written still goes out, then close_notify; a peer that does
    // not take it is cut after the grace period.
    connect(socket, &QSslSocket::disconnected, socket, &QObject::deleteLater);
    QTimer::singleShot(kTlsCloseGraceMs, socket, [socket] {
        socket->abort();
        socket->deleteLater();
    });
    socket->disconnectFromHost();
}

QHostAddress TlsTransferStream::peerAddress() const
{
    return m_peer;
}

} // namespace kith::server
