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

#include <QSslSocket>

namespace kith::server {

class TlsSocket final : public QSslSocket
{
    Q_OBJECT
public:
    using QSslSocket::QSslSocket;

    // What a held socket takes from the peer at most, in its read buffer
    // (and as much again in the encrypted one below it).
    static constexpr qint64 kHeldBufferBytes = 16 * 1024;

    void setHeld(bool held);
    [[nodiscard]] bool isHeld() const { return m_held; }

    // Nothing while held.
    [[nodiscard]] qint64 bytesAvailable() const override;
    [[nodiscard]] bool canReadLine() const override;

private:
    void announceBuffered();

    bool m_held = false;
    bool m_announcePosted = false;
};

} // namespace kith::server
