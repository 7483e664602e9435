#pragma once
// What a Session needs from its connection, whichever WebSocket layer carries
// it: kithd's own (WsSocket, plain ws) or Qt's QWebSocket (wss, through
// QtWireSocket below). The Session owns its WireSocket.

#include <QBasicTimer>
#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QWebSocketProtocol>

#include <memory>

class QWebSocket;

namespace kith::server {

class TlsSocket;

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

// What may be queued for one connection, in bytes not yet taken by the
// peer: answers, pushes, pongs and close frames alike. Past half of it the
// socket stops reading the peer's requests (backpressure) until the queue is
// down to a quarter; past all of it, the connection is dropped. Bytes queued
// and none of them taken for stallTimeoutMs: dropped too, so a peer that
// keeps sending but never reads cannot keep its connection (and its memory)
// forever by looking busy.
struct OutputBudget
{
    qint64 maxQueuedBytes = 0; // 0: no limit
    int stallTimeoutMs = 0;    // 0: no limit
};

// WebSocket ping frames answered per connection, on either path: a burst,
// then a rate. Past it the connection is not read until the next is allowed
// (the budget's own wait, kept between the two holds below), so a flood
// waits in TCP instead of costing the loop a frame and a pong each.
inline constexpr double kWsPingRate = 5;
inline constexpr double kWsPingBurst = 20;
inline constexpr quint32 kMinPingHoldMs = 20;
inline constexpr quint32 kMaxPingHoldMs = 1000;

class WireSocket : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    // The connection's owner (its Session) hears of it through a Receiver,
    // called after the signal of the same event: a Qt connection per signal
    // and socket cost kithd more than a KiB per idle connection. The owner
    // sets it once and clears it before it goes, and may delete the socket
    // (later, not from inside the call).
    class Receiver
    {
    public:
        virtual void wireBinaryMessage(const QByteArray &message) = 0;
        virtual void wireTextMessage() = 0;
        virtual void wireDisconnected() = 0;
        virtual void wireOutputPressure(bool high) = 0;
        virtual void wireMessageTooLarge() = 0;
        virtual void wireOutputOverflowed() = 0;

    protected:
        ~Receiver() = default;
    };
    void setReceiver(Receiver *receiver) { m_receiver = receiver; }

    // Limits, set by the owner before the first read and changed as the
    // connection goes on (a small message size before authentication).
    virtual void setOutputBudget(const OutputBudget &budget) { Q_UNUSED(budget); }
    // Larger incoming messages: messageTooLarge(), then close 1009.
    virtual void setMaxMessageBytes(qint64 bytes) = 0;
    // The owner's own reason to read no further requests for now (too much
    // of its work in flight); independent of the output budget's.
    virtual void holdReading(bool hold) { Q_UNUSED(hold); }
    // False where holdReading cannot stop the peer's messages (a QWebSocket
    // over a socket kithd did not make: Qt's sockets read ahead on their own).
    [[nodiscard]] virtual bool canHoldReading() const { return false; }

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

protected:
    // Each emits its signal, then tells the receiver; nothing of the socket
    // is touched after the receiver's call.
    void notifyBinaryMessage(const QByteArray &message)
    {
        emit binaryMessageReceived(message);
        if (m_receiver)
            m_receiver->wireBinaryMessage(message);
    }
    void notifyTextMessage(const QString &message)
    {
        emit textMessageReceived(message);
        if (m_receiver)
            m_receiver->wireTextMessage();
    }
    void notifyDisconnected()
    {
        emit disconnected();
        if (m_receiver)
            m_receiver->wireDisconnected();
    }
    void notifyOutputPressure(bool high)
    {
        emit outputPressureChanged(high);
        if (m_receiver)
            m_receiver->wireOutputPressure(high);
    }
    void notifyMessageTooLarge()
    {
        emit messageTooLarge();
        if (m_receiver)
            m_receiver->wireMessageTooLarge();
    }
    void notifyOutputOverflowed()
    {
        emit outputOverflowed();
        if (m_receiver)
            m_receiver->wireOutputOverflowed();
    }

signals:
    void binaryMessageReceived(const QByteArray &message);
    void textMessageReceived(const QString &message);
    void disconnected();
    // The output queue went past half the budget (true: reading stopped) or
    // back under a quarter of it (false).
    void outputPressureChanged(bool high);
    // A message over the size limit is arriving; the socket closes with 1009
    // right after (unless the owner closed it already, e.g. after an error frame).
    void messageTooLarge();
    // The budget or the stall timeout dropped the connection; disconnected() follows.
    void outputOverflowed();

private:
    Receiver *m_receiver = nullptr;
};

// A QWebSocket (from QWebSocketServer) as a WireSocket; it becomes the
// adapter's child. Over the TlsSocket kithd's TLS listener made (wss://),
// reading can be held as on ws://: by the owner, and past half the output
// budget until the queue is down to a quarter; and WebSocket pings are
// answered within the ping budget, as on ws:// (the TlsSocket keeps it, see
// there). Without one it cannot be held and pings have no budget; the output
// budget and its stall clock apply all the same.
class QtWireSocket final : public WireSocket
{
    Q_OBJECT
public:
    // `tls`: the socket under `socket`, when kithd made it (it is `socket`'s
    // to delete, not this adapter's).
    explicit QtWireSocket(QWebSocket *socket, TlsSocket *tls = nullptr, QObject *parent = nullptr);

    void setOutputBudget(const OutputBudget &budget) override;
    void setMaxMessageBytes(qint64 bytes) override;
    void holdReading(bool hold) override;
    [[nodiscard]] bool canHoldReading() const override { return !m_tls.isNull(); }
    void sendBinaryMessage(const QByteArray &message) override;
    // Plain bytes not yet encrypted and encrypted bytes not yet taken by the
    // kernel (QWebSocket's own figure counts only the first, which the TLS
    // layer empties at its next turn).
    [[nodiscard]] qint64 bytesToWrite() const override;
    void close(QWebSocketProtocol::CloseCode code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override;

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void checkOutput();
    void onWritten();
    void applyHold();

    QPointer<QWebSocket> m_socket;
    QPointer<TlsSocket> m_tls;
    OutputBudget m_budget;
    bool m_holdByOwner = false;
    bool m_holdByOutput = false;
    bool m_dropped = false;
    // Runs while bytes are queued: none taken for stallTimeoutMs, dropped.
    QBasicTimer m_stallTimer;
    qint64 m_lastProgressMs = 0;
};

} // namespace kith::server
