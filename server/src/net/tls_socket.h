#pragma once
// The encrypted socket under a wss:// connection (made by the TlsListener,
// then wrapped by QWebSocket), with a read hold QWebSocket cannot offer.
//
// QWebSocket reads every message its socket has while the socket says bytes
// are available, and is told of new ones by readyRead(). While held, this
// socket says none are (QWebSocket stops at the end of the message it is
// on, as it asks before each) and takes at most kHeldBufferBytes from the
// peer (its read buffer's limit: past it the kernel's receive buffer fills,
// and TCP pushes back on the peer). What was decrypted already waits in the
// socket's buffer; releasing the hold announces it with readyRead(), so
// every message is read, in order. The TLS layer below is not held: it
// reads (up to the limit) and writes as usual.
//
// It also keeps the WebSocket ping budget of its connection, which QWebSocket
// has no place for: QWebSocket answers every ping frame it reads with a pong
// of its own, and Qt 6.4 offers no way to see a ping or to refuse the pong.
// So this socket reads the frames QWebSocket writes through it: each pong
// takes a token, and once none is left the socket holds itself (as above)
// until the next is allowed. Holding the reads is the bound: a ping waits
// unread, in TCP, and is answered when its turn comes, instead of each one
// of a flood costing a frame, a pong and its encryption at once.

#include "rate_limit.h"
#include "wire_socket.h"

#include <QBasicTimer>
#include <QSslSocket>

#include <array>

namespace kith::server {

class TlsSocket final : public QSslSocket
{
    Q_OBJECT
public:
    using QSslSocket::QSslSocket;

    // What a held socket takes from the peer at most, in its read buffer
    // (and as much again in the encrypted one below it).
    static constexpr qint64 kHeldBufferBytes = 16 * 1024;

    // What the socket takes from the peer at most while not held (0, the
    // default, is no limit), so what it decrypts in one turn of the loop.
    // Set after the WebSocket upgrade: QWebSocket sets its own limit then.
    void setUnheldReadLimit(qint64 bytes);

    // The owner's hold (independent of the ping budget's).
    void setHeld(bool held);
    // By the owner or by the ping budget.
    [[nodiscard]] bool isHeld() const { return m_held || m_pingHold.isActive(); }

    // From now on this socket carries a WebSocket upgrade's answer, then the
    // frames QWebSocket writes: the pongs among them take from the ping
    // budget. Off by default (a file transfer's bytes are no frames).
    void startPingBudget();

    // Nothing while held.
    [[nodiscard]] qint64 bytesAvailable() const override;
    [[nodiscard]] bool canReadLine() const override;

protected:
    qint64 writeData(const char *data, qint64 len) override;
    void timerEvent(QTimerEvent *event) override;

private:
    // What the written bytes are, as far as the ping budget is concerned.
    enum class Written : quint8 {
        Unwatched,   // before startPingBudget(), or a stream not understood
        UpgradeHead, // the HTTP answer, up to its empty line
        FrameHead,   // a frame's head, m_headBytes of it so far
        Payload,     // m_payloadLeft bytes of a frame's payload
    };
    void watchWritten(const char *data, qint64 len);
    void pongWritten();
    // After the owner's or the budget's hold changed: the read buffer's limit,
    // and what waits announced on release.
    void applyHold(bool wasHeld);
    void announceBuffered();

    bool m_held = false;
    bool m_announcePosted = false;
    qint64 m_unheldBufferBytes = 0;
    Written m_written = Written::Unwatched;
    quint8 m_headBytes = 0;
    quint8 m_headEndMatched = 0;     // of the "\r\n\r\n" that ends the upgrade's answer
    std::array<quint8, 14> m_head{}; // the longest frame head: 2 + 8 + a 4-byte mask
    quint64 m_payloadLeft = 0;
    TokenBucket m_pings{kWsPingRate, kWsPingBurst};
    QBasicTimer m_pingHold; // runs while the budget has no pong left
};

} // namespace kith::server
