#include "tls_listener.h"

#include "http_head.h"
#include "logging.h"
#include "tls_socket.h"

#include <QSslSocket>
#include <QThread>
#include <QTimer>

#include <unistd.h>

namespace kith::server {

namespace {
// Enough of a request to see its line: "<METHOD> <target> HTTP/1.1\r\n".
constexpr qint64 kPeekBytes = 512;
} // namespace

TlsListener::TlsListener(QSslConfiguration tls, Limits limits, QObject *parent)
    : QTcpServer(parent)
    , m_handTo(thread())
    , m_tls(std::move(tls))
    , m_limits(limits)
{
    connect(this, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError error) {
        emit acceptFailed(error, errorString());
    });
}

TlsListener::~TlsListener()
{
    const QList<QSslSocket *> sockets = m_pending.keys();
    m_pending.clear();
    for (QSslSocket *socket : sockets) {
        socket->disconnect(this);
        socket->abort();
        delete socket; // its timer with it
    }
}

void TlsListener::incomingConnection(qintptr socketDescriptor)
{
    // A TlsSocket, so that the session can hold its reading later.
    auto *socket = new TlsSocket;
    if (!socket->setSocketDescriptor(socketDescriptor)) {
        delete socket;
        ::close(int(socketDescriptor));
        return;
    }
    const QString address = socket->peerAddress().toString();
    int &fromThere = m_pendingByAddress[address];
    if (m_pending.size() >= m_limits.maxPending ||
        (m_limits.maxPendingPerAddress > 0 && fromThere >= m_limits.maxPendingPerAddress)) {
        if (fromThere == 0)
            m_pendingByAddress.remove(address);
        socket->abort();
        delete socket;
        emit refused();
        return;
    }
    ++fromThere;
    auto *timeout = new QTimer(socket);
    timeout->setSingleShot(true);
    connect(timeout, &QTimer::timeout, this, [this, socket] { drop(socket); });
    timeout->start(m_limits.timeoutMs);
    m_pending.insert(socket, Pending{address, timeout});
    socket->setSslConfiguration(m_tls);
    // Until the first line is seen, nothing much is taken from the peer.
    socket->setReadBufferSize(kPeekBytes * 4);
    connect(socket, &QSslSocket::readyRead, this, [this, socket] { look(socket); });
    connect(socket, &QSslSocket::encrypted, this, [this, socket] { look(socket); });
    connect(socket, &QSslSocket::disconnected, this, [this, socket] { drop(socket); });
    connect(socket, &QSslSocket::errorOccurred, this, [this, socket] { drop(socket); });
    connect(socket, &QSslSocket::sslErrors, this,
            [](const QList<QSslError> &errors) { qCDebug(lcGateway) << "TLS errors:" << errors; });
    socket->startServerEncryption();
}

void TlsListener::look(QSslSocket *socket)
{
    if (!m_pending.contains(socket) || !socket->isEncrypted())
        return;
    const QByteArray start = socket->peek(kPeekBytes);
    if (!start.contains("\r\n") && start.size() < kPeekBytes)
        return; // more of the line to come
    const bool transfer = http::isTransferRequest(start);
    release(socket);
    socket->setReadBufferSize(0);
    handOn(socket, transfer ? &TlsListener::transferRequested : &TlsListener::upgradeRequested);
}

void TlsListener::handOn(QSslSocket *socket, void (TlsListener::*signal)(QSslSocket *))
{
    // This runs inside the socket's own signal, its code still on the stack;
    // the socket moves to another thread, so it is handed on from the event
    // loop instead (moved at once, the socket's reading went on here while
    // the other thread used it, and a transfer stalled or broke now and
    // then). Until then what arrives waits in the socket's buffer, and the
    // socket is this listener's, should the listener go first. No timer of
    // the socket runs: its timeout went with release(), and a TlsSocket's
    // own start on the gateway's thread (startPingBudget()).
    socket->setParent(this);
    QMetaObject::invokeMethod(
        this,
        [this, socket, signal] {
            socket->setParent(nullptr);
            socket->moveToThread(m_handTo);
            // Queued: the receiver is on m_handTo.
            emit(this->*signal)(socket);
        },
        Qt::QueuedConnection);
}

void TlsListener::drop(QSslSocket *socket)
{
    if (!m_pending.contains(socket))
        return;
    release(socket);
    socket->abort();
    socket->deleteLater();
}

void TlsListener::release(QSslSocket *socket)
{
    const auto it = m_pending.find(socket);
    if (it == m_pending.end())
        return;
    const auto count = m_pendingByAddress.find(it->address);
    if (count != m_pendingByAddress.end() && --*count <= 0)
        m_pendingByAddress.erase(count);
    delete it->timeout;
    m_pending.erase(it);
    socket->disconnect(this);
}

} // namespace kith::server
