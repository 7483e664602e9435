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

#include <memory>

class QWebSocket;

namespace kith::server {

// Writes binary messages to a connection from a thread other than its owner's
// (the bulk lane's, so that history pages do not pass through the session
// loop that carries sends, acks and pushes). Outlives the connection: once
// that is gone, or closing, nothing more is written.
class DirectWriter
{
public:
    virtual ~DirectWriter() = default;

    enum class Outcome {
        Sent,    // the whole message is on its way
        NotSent, // nothing written (output already queued, or the connection
                 // is not open): send it on the owner's thread as usual
        Partial, // the kernel took part of it: `rest` must go out next, by
                 // WireSocket::finishDirect on the owner's thread
    };
    virtual Outcome trySend(QByteArrayView message, QByteArray *rest) = 0;
    // Messages keep their order: after NotSent, or holdForOwner() for a
    // message that was never offered, every later trySend is NotSent too
    // until the owner's thread has called sentByOwner() once for each.
    virtual void holdForOwner() = 0;
    virtual void sentByOwner() = 0;
};

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
    // Null where only the owner's thread may write (Qt's sockets).
    [[nodiscard]] virtual std::shared_ptr<DirectWriter> directWriter() { return nullptr; }
    // After DirectWriter::trySend came out Partial: writes `rest` before
    // anything queued since, and lets the rest of the output go.
    virtual void finishDirect(const QByteArray &rest) { Q_UNUSED(rest); }

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
