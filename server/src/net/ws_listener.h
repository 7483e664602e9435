#pragma once
// The listening side of kithd's own ws:// layer: a QTcpServer that takes each
// accepted descriptor as it is (no QTcpSocket) and runs the upgrade on a
// WsSocket. Owned by the Gateway; owns each socket until its upgrade succeeds.
// It counts the sockets it made that are still open, and past the connection
// limit answers a new connection with 503 and closes it at once, so the
// descriptors kithd keeps in reserve (database files, threads) stay free.

#include <QByteArray>
#include <QTcpServer>

#include <functional>

namespace kith::server {

class WsSocket;

class WsListener final : public QTcpServer
{
    Q_OBJECT
public:
    explicit WsListener(qint64 maxMessageBytes, int handshakeTimeoutMs, QObject *parent = nullptr);

    // Open connections allowed at once (upgrading or upgraded); <= 0: no limit.
    void setConnectionLimit(int limit) { m_limit = limit; }
    // Asked of each new socket before its first read (its owner's limits:
    // say, connections per address); a refused one is answered 503 and closed.
    using Admission = std::function<bool(WsSocket *socket)>;
    void setAdmission(Admission admit) { m_admit = std::move(admit); }
    [[nodiscard]] int openConnections() const { return m_open; }
    // Who takes a connection whose first request is an HTTP file transfer
    // (see WsSocket::setTransferHandler); without one, such a request is
    // refused like any other bad upgrade.
    void setTransferHandler(std::function<void(int fd, QByteArray received)> handler)
    {
        m_transferHandler = std::move(handler);
    }

signals:
    // `socket` finished its upgrade; whoever connects here takes it over
    // (setParent), or it stays the listener's until it closes.
    void newWebSocket(kith::server::WsSocket *socket);
    // A connection was turned away at the limit; `open` were open then.
    void refused(int open);

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    qint64 m_maxMessageBytes;
    int m_handshakeTimeoutMs;
    int m_limit = 0;
    int m_open = 0;
    std::function<void(int fd, QByteArray received)> m_transferHandler;
    Admission m_admit;
};

} // namespace kith::server
