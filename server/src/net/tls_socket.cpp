#include "tls_socket.h"

namespace kith::server {

void TlsSocket::setHeld(bool held)
{
    if (m_held == held)
        return;
    m_held = held;
    // 0 is no limit: the socket below reads from the kernel again at once.
    setReadBufferSize(held ? kHeldBufferBytes : 0);
    // Whole messages may wait from before the hold: no readyRead() would
    // come for them until the peer sent more. Announced from the event loop,
    // not from inside whoever released the hold (possibly QWebSocket's own
    // call).
    if (!held && !m_announcePosted) {
        m_announcePosted = true;
        QMetaObject::invokeMethod(this, &TlsSocket::announceBuffered, Qt::QueuedConnection);
    }
}

qint64 TlsSocket::bytesAvailable() const
{
    return m_held ? 0 : QSslSocket::bytesAvailable();
}

bool TlsSocket::canReadLine() const
{
    return !m_held && QSslSocket::canReadLine();
}

void TlsSocket::announceBuffered()
{
    m_announcePosted = false;
    if (m_held || state() != ConnectedState)
        return;
    // What is still encrypted is read on by the TLS layer once QWebSocket
    // has taken what is decrypted.
    if (QSslSocket::bytesAvailable() > 0)
        emit readyRead();
}

} // namespace kith::server
