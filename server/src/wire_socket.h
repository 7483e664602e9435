#pragma once
// What a Session needs from its connection, whichever WebSocket layer carries
// it: kithd's own (WsSocket, plain ws) or Qt's QWebSocket (wss, through
// QtWireSocket below). The Session owns its WireSocket.

#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QWebSocketProtocol>

class QWebSocket;

namespace kith::server {

class WireSocket : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    virtual void sendBinaryMessage(const QByteArray &message) = 0;
    // Bytes accepted by sendBinaryMessage that the peer has not taken yet.
    [[nodiscard]] virtual qint64 bytesToWrite() const = 0;
    // Starts the close handshake; disconnected() follows when it ends.
    virtual void close(QWebSocketProtocol::CloseCode code, const QString &reason) = 0;
    // Drops the connection at once; disconnected() follows.
    virtual void abort() = 0;
    [[nodiscard]] virtual QHostAddress peerAddress() const = 0;

signals:
    void binaryMessageReceived(const QByteArray &message);
    void textMessageReceived(const QString &message);
    void disconnected();
};

// A QWebSocket (from QWebSocketServer) as a WireSocket; it becomes the
// adapter's child.
class QtWireSocket final : public WireSocket
{
    Q_OBJECT
public:
    explicit QtWireSocket(QWebSocket *socket, QObject *parent = nullptr);

    void sendBinaryMessage(const QByteArray &message) override;
    [[nodiscard]] qint64 bytesToWrite() const override;
    void close(QWebSocketProtocol::CloseCode code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override;

private:
    QPointer<QWebSocket> m_socket;
};

} // namespace kith::server
