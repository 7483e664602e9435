#pragma once
// kithd's own server side of a plain ws:// connection (RFC 6455) on a raw,
// non-blocking TCP socket: the HTTP/1.1 upgrade, then frames. It exists for
// memory: QWebSocket's QTcpSocket keeps a 32 KiB write chunk for good once it
// has written anything, while here the read and write buffers hold memory only
// while they hold bytes. Made by the WsListener, handed on once the upgrade is
// done; owned by whoever holds it then (the Session).

#include "kith/ws_frame.h"
#include "rate_limit.h"
#include "wire_socket.h"

#include <QBasicTimer>
#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

class QSocketNotifier;

namespace kith::server {

class WsSocket final : public WireSocket
{
    Q_OBJECT
public:
    // Takes `fd`, a connected TCP socket; it is made non-blocking here.
    // Messages larger than `maxMessageBytes` close the connection with 1009.
    // A client that has not finished the upgrade after `handshakeTimeoutMs` is
    // dropped.
    WsSocket(int fd, qint64 maxMessageBytes, int handshakeTimeoutMs, QObject *parent = nullptr);
    ~WsSocket() override;

    void setOutputBudget(const OutputBudget &budget) override;
    void setMaxMessageBytes(qint64 bytes) override { m_maxMessageBytes = bytes; }
    void holdReading(bool hold) override;
    // WebSocket pings answered per second and at once (default kWsPingRate
    // and kWsPingBurst).
    void setPingBudget(double ratePerSecond, double burst)
    {
        m_pings = TokenBucket(ratePerSecond, burst);
    }
    [[nodiscard]] bool canHoldReading() const override { return true; }
    // Handles `bytes` as if they had just been read from the socket (the fuzz
    // target's way in; it also serves tests that need exact chunking).
    void feed(QByteArrayView bytes);
    void sendBinaryMessage(const QByteArray &message) override;
    [[nodiscard]] qint64 bytesToWrite() const override { return m_outBytes; }
    void close(QWebSocketProtocol::CloseCode code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override;
    [[nodiscard]] std::shared_ptr<DirectWriter> directWriter() override;
    void finishDirect(const QByteArray &rest) override;

    // Takes over the connection when its first request asks for an HTTP path
    // under /v1/ (file transfers) instead of the upgrade: gets the descriptor
    // and every byte read so far; the socket then ends as if hung up, without
    // closing the descriptor.
    using TransferHandler = std::function<void(int fd, QByteArray received)>;
    void setTransferHandler(TransferHandler handler) { m_transferHandler = std::move(handler); }

    // True until the upgrade succeeds or fails.
    [[nodiscard]] bool isHandshaking() const { return m_state == State::Handshake; }
    // Memory the read, message and write buffers hold right now, in bytes.
    [[nodiscard]] qsizetype bufferCapacity() const;
    // Test hook: runs on another thread's direct write while it holds the
    // lock this socket's own writes try for, so a test can keep it there.
    // Unset in kithd.
    void setDirectWriteHookForTesting(std::function<void()> hook);

signals:
    // The upgrade succeeded; frames flow from now on.
    void opened();

private:
    // Closing: a close frame (or a refusal) went out; waiting for the peer's
    // close frame or its end of stream, for a grace period at most.
    enum class State { Handshake, Open, Closing, Closed };
    enum class Opcode : quint8 {
        Continuation = ws::kContinuation,
        Text = ws::kText,
        Binary = ws::kBinary,
        Close = ws::kClose,
        Ping = ws::kPing,
        Pong = ws::kPong,
    };

    // What another thread's writes share with this one's, under `mutex`: the
    // descriptor (-1 once closed) and whether a frame may go out at once. This
    // thread takes the mutex whenever it writes to the descriptor or closes it,
    // and never waits for it to write: it queues instead.
    struct Shared final : DirectWriter
    {
        Outcome trySend(QByteArrayView message, QByteArray *rest) override;
        void holdForOwner() override;
        void sentByOwner() override;

        std::mutex mutex;
        int fd = -1;
        bool open = false;               // State::Open
        std::atomic<bool> queued{false}; // m_out holds bytes (set without the mutex too)
        bool partialAhead = false;       // a direct write's tail is still to come
        int heldForOwner = 0;            // messages NotSent and not yet sent by the owner
        std::function<void()> whileLockedForTesting;
    };

    void setState(State state);
    void onReadable();
    void timerEvent(QTimerEvent *event) override;
    // Consumes `data` (one read's worth) with writes batched, keeping what is
    // left of an incomplete frame in m_in.
    void consumeRead(QByteArrayView data);
    // Reading resumed: frames already buffered are handled first.
    void consumeBuffered();
    [[nodiscard]] bool readingHeld() const
    {
        return m_holdByOwner || m_holdByOutput || m_pingHold.isActive();
    }
    void updateReadNotifier();
    // After the queue grew or shrank: the budget's pressure, limit and stall clock.
    void checkOutput();
    // The kernel took less than was offered: starts the stall clock.
    void noteStuck();
    void onStallCheck();
    void onWritable();
    // Each consumes what it can of `data` and returns how many bytes it used.
    qsizetype consume(QByteArrayView data);
    qsizetype consumeHandshake(QByteArrayView data);
    qsizetype consumeFrames(QByteArrayView data);
    // A complete frame, unmasked.
    void handleFrame(Opcode opcode, bool fin, QByteArray payload);
    // Answers a bad upgrade request with 400 and hangs up.
    void refuseHandshake(const char *why);
    // The peer broke the protocol: a close frame with `code`, whatever else it
    // sends is ignored, and the connection ends with its end of stream or the
    // grace period.
    void failConnection(QWebSocketProtocol::CloseCode code, const QString &reason);
    void sendClose(QWebSocketProtocol::CloseCode code, const QString &reason);

    void sendFrame(Opcode opcode, QByteArrayView payload);
    // Queues `head` then `body` for the next batched flush; writes them
    // straight away only where no flush can be posted, queueing what the
    // kernel did not take.
    void write(QByteArrayView head, QByteArrayView body);
    // Appends `head` then `body` to m_out as a chunk of their own (the caller
    // holds the shared mutex or has found another thread holding it).
    void queueChunk(QByteArrayView head, QByteArrayView body);
    void flush();
    // Posts one flush of every queued socket of the thread, unless one is
    // posted already; false when this thread cannot (write at once then).
    static bool scheduleFlush();
    static void flushPending();
    // Everything queued has been written: the deferred hang-up or shutdown.
    void onDrained();
    // Hangs up after kCloseGraceMs unless the connection ended before.
    void startCloseGrace();
    void setWriteNotifier(bool enabled);
    // Closes the socket now; disconnected() is emitted from the event loop.
    void hangUp();
    // Gives the descriptor and `received` to the transfer handler; then as hangUp().
    void handOver(QByteArray received);

    int m_fd;
    std::shared_ptr<Shared> m_shared = std::make_shared<Shared>();
    State m_state = State::Handshake;
    bool m_hangUpWhenFlushed = false;
    bool m_shutdownWhenFlushed = false;
    bool m_discardInput = false;
    bool m_holdByOwner = false;
    bool m_holdByOutput = false; // the queue is past half the budget
    // WebSocket pings get pongs within this budget; past it, the socket is
    // not read until the next is allowed (a flood waits in TCP instead of
    // costing the loop a frame each).
    TokenBucket m_pings{kWsPingRate, kWsPingBurst};
    QBasicTimer m_pingHold;
    bool m_consumePosted = false;
    OutputBudget m_budget;
    QBasicTimer m_stallTimer;                      // runs while queued output waits on the kernel
    QBasicTimer m_handshakeTimer;                  // until the upgrade is done
    qint64 m_lastProgressMs = 0;                   // when the kernel last took queued bytes
    quint64 m_skipBytes = 0;                       // of a data frame that arrives while closing
    Opcode m_messageOpcode = Opcode::Continuation; // of the fragmented message in m_message
    qint64 m_maxMessageBytes;
    QSocketNotifier *m_readNotifier = nullptr;
    QSocketNotifier *m_writeNotifier = nullptr; // made on the first short write
    TransferHandler m_transferHandler;
    QByteArray m_in;         // an incomplete frame or request head
    QByteArray m_message;    // the fragments so far of an unfinished message
    QList<QByteArray> m_out; // what the kernel has not taken yet, oldest first
    qsizetype m_outHead = 0; // bytes of m_out.first() already written
    qint64 m_outBytes = 0;
};

} // namespace kith::server
