#include "gateway.h"

#include "kith/protocol.h"
#include "listen_socket.h"
#include "logging.h"
#include "metrics.h"
#include "tls_listener.h"
#include "tls_socket.h"
#include "ws_listener.h"
#include "ws_socket.h"

#include <QFile>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QThread>
#include <QTimer>
#include <QWebSocket>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kith::server {

namespace {
// A client gets this long for the HTTP upgrade (and TLS handshake).
constexpr int kHandshakeTimeoutMs = 10000;
// Out of file descriptors: stop accepting this long instead of spinning on
// the listening socket, while the existing sessions keep being served.
constexpr int kAcceptPauseMs = 500;
// At the connection limit, one log line per this long says how many were turned away.
constexpr qint64 kRefusalLogMs = 10000;
// RFC 6455's registry: "Try Again Later" (Qt's enum has no name for it).
constexpr auto kCloseTryAgainLater = QWebSocketProtocol::CloseCode(1013);

// Answers are small frames written one after another (an ack, then a push);
// with Nagle's algorithm on, the second waits for the peer's delayed ACK (40 ms
// on Linux). QWebSocket has no option for it, but Linux hands TCP_NODELAY of a
// listening socket down to every socket it accepts.
void setLowDelay(qintptr listeningSocket)
{
    const int one = 1;
    if (setsockopt(int(listeningSocket), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        qCWarning(lcGateway) << "cannot turn Nagle's algorithm off:" << strerror(errno);
}

Result<QSslConfiguration> loadTls(const QString &certFile, const QString &keyFile)
{
    if (!QSslSocket::supportsSsl())
        return makeError(v1::INTERNAL, QStringLiteral("This Qt has no TLS support"));
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(certFile, QSsl::Pem);
    if (chain.isEmpty())
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("No PEM certificate in %1").arg(certFile));
    QFile file(keyFile);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("Cannot read key %1: %2").arg(keyFile, file.errorString()));
    const QByteArray pem = file.readAll();
    QSslKey key(pem, QSsl::Rsa, QSsl::Pem);
    if (key.isNull())
        key = QSslKey(pem, QSsl::Ec, QSsl::Pem);
    if (key.isNull())
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("No RSA or EC private key (PEM) in %1").arg(keyFile));
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setLocalCertificateChain(chain);
    tls.setPrivateKey(key);
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);
    return tls;
}
} // namespace

Gateway::Gateway(const ServiceSet &services, GatewayOptions options, QObject *parent)
    : QObject(parent)
    , m_services(services)
    , m_options(std::move(options))
    , m_budgets(m_options.budgets)
{
    m_services.budgets = &m_budgets;
}

Gateway::~Gateway()
{
    stopTlsThread();
    // Sessions detach from the router as they go; delete them before it does.
    const auto sessions = m_sessions;
    m_sessions.clear();
    qDeleteAll(sessions);
}

bool Gateway::secure() const
{
    return !m_options.certFile.isEmpty() && !m_options.keyFile.isEmpty();
}

Status Gateway::listen()
{
    m_backlog = m_options.listenBacklog > 0 ? m_options.listenBacklog : systemListenBacklog();
    const Status listening = secure() ? listenSecure() : listenPlain();
    if (!listening)
        return listening;
    qCInfo(lcGateway) << "listening on" << m_options.address.toString() << port()
                      << (secure() ? "(wss)" : "(ws)") << "backlog" << m_backlog;
    return Done{};
}

Result<int> Gateway::openSocket() const
{
    Result<int> fd = openListeningSocket(m_options.address, m_options.port, m_backlog);
    if (!fd)
        return listenError(fd.error().code, fd.error().message);
    return fd;
}

Error Gateway::listenError(v1::ErrorCode code, const QString &why) const
{
    return makeError(code, QStringLiteral("Cannot listen on %1:%2: %3")
                               .arg(m_options.address.toString())
                               .arg(m_options.port)
                               .arg(why));
}

Status Gateway::listenPlain()
{
    // Small frames only until a session has authenticated (it raises the limit).
    m_listener = std::make_unique<WsListener>(kMaxPreAuthFrameBytes, kHandshakeTimeoutMs);
    m_listener->setAdmission([this](WsSocket *socket) {
        if (!admitUnauthenticated(socket, socket->peerAddress()))
            return false;
        socket->setOutputBudget(m_options.outputBudget);
        return true;
    });
    connect(m_listener.get(), &WsListener::newWebSocket, this, &Gateway::onNewWebSocket);
    connect(m_listener.get(), &WsListener::acceptError, this,
            [this](QAbstractSocket::SocketError error) {
                onAcceptError(error, m_listener->errorString());
            });
    connect(m_listener.get(), &WsListener::refused, this, &Gateway::onRefused);
    m_listener->setConnectionLimit(m_options.maxConnections);
    // Requests under /v1/ are file transfers: their connection leaves for the
    // transfer thread before anything of them runs here.
    m_transfers =
        std::make_unique<TransferServer>(m_services.files, m_services.metrics, m_options.transfers);
    m_listener->setTransferHandler([this](int fd, QByteArray received) {
        if (m_transfers)
            m_transfers->adoptPlain(fd, std::move(received));
        else
            ::close(fd);
    });
    const Result<int> fd = openSocket();
    if (!fd)
        return fd.error();
    if (!m_listener->setSocketDescriptor(*fd)) {
        ::close(*fd);
        return listenError(v1::INTERNAL, m_listener->errorString());
    }
    setLowDelay(m_listener->socketDescriptor());
    return Done{};
}

Status Gateway::listenSecure()
{
    Result<QSslConfiguration> identity = loadTls(m_options.certFile, m_options.keyFile);
    if (!identity)
        return identity.error();
    // TLS ends here, in the listener; the upgrade and the transfers then run
    // as on ws:// (QWebSocketServer only upgrades the sockets it is handed).
    m_server = std::make_unique<QWebSocketServer>(QStringLiteral("kithd"),
                                                  QWebSocketServer::NonSecureMode);
    m_server->setHandshakeTimeout(kHandshakeTimeoutMs);
    connect(m_server.get(), &QWebSocketServer::newConnection, this, &Gateway::onNewConnection);
    connect(m_server.get(), &QWebSocketServer::serverError, this,
            [this](QWebSocketProtocol::CloseCode code) {
                qCDebug(lcGateway) << "handshake refused:" << code << m_server->errorString();
            });
    m_transfers =
        std::make_unique<TransferServer>(m_services.files, m_services.metrics, m_options.transfers);
    TlsListener::Limits limits;
    limits.timeoutMs = kHandshakeTimeoutMs;
    limits.maxPendingPerAddress = m_options.maxUnauthenticatedPerAddress;
    // Made here, so that it hands its sockets to this thread; then moved to
    // its own. Its signals reach this thread queued.
    m_tls = new TlsListener(*identity, limits);
    m_tlsThread = std::make_unique<QThread>();
    m_tlsThread->setObjectName(QStringLiteral("kithd-tls"));
    m_tls->moveToThread(m_tlsThread.get());
    connect(m_tlsThread.get(), &QThread::finished, m_tls, &QObject::deleteLater);
    connect(m_tls, &TlsListener::upgradeRequested, this, [this](QSslSocket *socket) {
        if (m_stopping) {
            delete socket;
            return;
        }
        if (auto *tls = qobject_cast<TlsSocket *>(socket)) {
            // QWebSocket answers every ping itself: the socket counts its pongs.
            tls->startPingBudget();
            const std::pair key(socket->peerAddress().toString(), socket->peerPort());
            m_upgrading.insert(key, tls);
            // Gone before its upgrade (refused, timed out, closed by the peer).
            connect(tls, &QObject::destroyed, this, [this, key, tls] {
                const auto it = m_upgrading.constFind(key);
                if (it != m_upgrading.cend() && *it == tls)
                    m_upgrading.erase(it);
            });
        }
        m_server->handleConnection(socket);
    });
    connect(m_tls, &TlsListener::transferRequested, this, [this](QSslSocket *socket) {
        if (m_transfers)
            m_transfers->adoptTls(socket);
        else
            delete socket;
    });
    connect(m_tls, &TlsListener::refused, this,
            [this] { m_services.metrics.unauthenticatedRefused(); });
    connect(m_tls, &TlsListener::acceptFailed, this, &Gateway::onAcceptError);
    m_tlsThread->start();
    const Result<int> fd = openSocket();
    if (!fd)
        return fd.error();
    bool listening = false;
    QString why;
    QMetaObject::invokeMethod(
        m_tls,
        [this, fd = *fd, &listening, &why] {
            listening = m_tls->setSocketDescriptor(fd);
            if (!listening) {
                why = m_tls->errorString();
                return;
            }
            m_tlsPort = m_tls->serverPort();
            setLowDelay(m_tls->socketDescriptor());
        },
        Qt::BlockingQueuedConnection);
    if (!listening) {
        ::close(*fd);
        return listenError(v1::INTERNAL, why);
    }
    return Done{};
}

quint16 Gateway::port() const
{
    if (m_listener)
        return m_listener->serverPort();
    return m_tlsPort;
}

void Gateway::onNewConnection()
{
    while (QWebSocket *socket = m_server->nextPendingConnection()) {
        if (m_options.maxConnections > 0 && m_sessions.size() >= m_options.maxConnections) {
            socket->close(kCloseTryAgainLater, QStringLiteral("Server full"));
            socket->deleteLater();
            onRefused(int(m_sessions.size()));
            continue;
        }
        // Limits first: nothing has been read from this socket yet.
        TlsSocket *tls =
            m_upgrading.take(std::pair(socket->peerAddress().toString(), socket->peerPort()));
        if (tls)
            disconnect(tls, &QObject::destroyed, this, nullptr);
        auto *wire = new QtWireSocket(socket, tls);
        wire->setMaxMessageBytes(kMaxPreAuthFrameBytes);
        wire->setOutputBudget(m_options.outputBudget);
        if (!admitUnauthenticated(wire, socket->peerAddress())) {
            socket->close(kCloseTryAgainLater, QStringLiteral("Too many connections"));
            wire->deleteLater();
            continue;
        }
        adopt(wire);
    }
}

void Gateway::onNewWebSocket(WsSocket *socket)
{
    // The listener already applied the limits before the first read.
    socket->setParent(nullptr);
    adopt(socket);
}

bool Gateway::admitUnauthenticated(QObject *socket, const QHostAddress &peer)
{
    const QString address = peer.toString();
    int &count = m_unauthenticatedByAddress[address];
    if (m_options.maxUnauthenticatedPerAddress > 0 &&
        count >= m_options.maxUnauthenticatedPerAddress) {
        if (count == 0)
            m_unauthenticatedByAddress.remove(address);
        m_services.metrics.unauthenticatedRefused();
        qCDebug(lcGateway) << "refused a connection from" << address << "with" << count
                           << "not authenticated yet";
        return false;
    }
    ++count;
    m_unauthenticated.insert(socket, address);
    connect(socket, &QObject::destroyed, this,
            [this](QObject *gone) { releaseUnauthenticated(gone); });
    return true;
}

void Gateway::releaseUnauthenticated(QObject *socket)
{
    const auto it = m_unauthenticated.find(socket);
    if (it == m_unauthenticated.end())
        return;
    const auto count = m_unauthenticatedByAddress.find(*it);
    if (count != m_unauthenticatedByAddress.end() && --*count <= 0)
        m_unauthenticatedByAddress.erase(count);
    m_unauthenticated.erase(it);
}

void Gateway::adopt(WireSocket *socket)
{
    if (m_stopping) {
        socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("Server stopping"));
        socket->deleteLater();
        return;
    }
    auto *session = new Session(socket, m_services, m_options.limits, m_nextConnectionId++);
    m_sessions.insert(session);
    connect(session, &Session::authenticated, this,
            [this, socket] { releaseUnauthenticated(socket); });
    connect(session, &Session::finished, this, [this](Session *finished) {
        m_sessions.remove(finished);
        if (m_sessions.isEmpty())
            emit allSessionsClosed();
    });
}

void Gateway::onAcceptError(QAbstractSocket::SocketError error, const QString &reason)
{
    m_services.metrics.acceptFailed();
    qCWarning(lcGateway) << "accept failed:" << error << reason << "- pausing for" << kAcceptPauseMs
                         << "ms";
    pauseAccepting();
    QTimer::singleShot(kAcceptPauseMs, this, [this] {
        if (!m_stopping)
            resumeAccepting();
    });
}

void Gateway::onRefused(int open)
{
    m_services.metrics.connectionRefused();
    ++m_refusedUnlogged;
    if (m_lastRefusalLog.isValid() && m_lastRefusalLog.elapsed() < kRefusalLogMs)
        return;
    qCWarning(lcGateway).nospace()
        << "connection limit reached (" << open << " open, limit " << m_options.maxConnections
        << "): refused " << m_refusedUnlogged << " new connection(s)";
    m_refusedUnlogged = 0;
    m_lastRefusalLog.start();
}

void Gateway::pauseAccepting()
{
    if (m_listener)
        m_listener->pauseAccepting();
    if (m_tls)
        QMetaObject::invokeMethod(m_tls, &TlsListener::pauseAccepting, Qt::QueuedConnection);
}

void Gateway::resumeAccepting()
{
    if (m_listener)
        m_listener->resumeAccepting();
    if (m_tls)
        QMetaObject::invokeMethod(m_tls, &TlsListener::resumeAccepting, Qt::QueuedConnection);
}

void Gateway::stopTlsThread()
{
    if (!m_tlsThread)
        return;
    // The listener is deleted on its thread as the thread ends (finished ->
    // deleteLater), with every socket it still holds; joined before anything
    // it hands sockets to goes.
    m_tlsThread->quit();
    m_tlsThread->wait();
    m_tlsThread.reset();
    m_tls = nullptr;
}

void Gateway::stopAccepting()
{
    m_stopping = true;
    if (m_listener)
        m_listener->close();
    if (m_tls)
        // Blocking: once this returns, no connection is accepted any more.
        QMetaObject::invokeMethod(m_tls, &TlsListener::close, Qt::BlockingQueuedConnection);
    if (m_transfers)
        m_transfers->stop();
}

void Gateway::stopTransfers()
{
    m_transfers.reset();
}

void Gateway::refuseNewRequests()
{
    for (Session *session : std::as_const(m_sessions))
        session->refuseNewRequests();
}

void Gateway::closeAll()
{
    if (m_sessions.isEmpty()) {
        emit allSessionsClosed();
        return;
    }
    const auto sessions = m_sessions;
    for (Session *session : sessions)
        session->closeForShutdown();
}

} // namespace kith::server
