#pragma once
// A transfer connection's bytes, whatever carries them: a plain TCP socket
// (PlainTransferStream: its descriptor, so a download goes out with
// sendfile(2), no copy through kithd) or TLS (a QSslSocket). Lives on the
// transfer thread, owned by its TransferConnection. Never blocks: reads and
// writes take what they can and the stream says when more can go.

#include <QHostAddress>
#include <QObject>

class QSocketNotifier;
class QSslSocket;

namespace kith::server {

class TransferStream : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    // Bytes read (> 0), 0 when none are there now (readable() follows), -1
    // when the peer is gone or the connection failed.
    [[nodiscard]] virtual qint64 read(char *into, qint64 max) = 0;
    // Bytes taken (>= 0; fewer than `size` when the connection is full:
    // writable() follows), -1 when the connection failed.
    [[nodiscard]] virtual qint64 write(const char *data, qint64 size) = 0;
    // Sends up to `count` bytes of the file `fd` from `*offset`, advancing
    // it: as write().
    [[nodiscard]] virtual qint64 sendFile(int fd, qint64 *offset, qint64 count) = 0;
    // Bytes written but not yet handed to the kernel (TLS buffers them).
    [[nodiscard]] virtual qint64 pendingBytes() const { return 0; }
    virtual void setReadInterest(bool enabled) = 0;
    virtual void setWriteInterest(bool enabled) = 0;
    // No more bytes go out (the peer sees the end); reading goes on.
    virtual void shutdownWrite() = 0;
    virtual void close() = 0;
    [[nodiscard]] virtual QHostAddress peerAddress() const = 0;

signals:
    void readable();
    void writable();
};

class PlainTransferStream final : public TransferStream
{
    Q_OBJECT
public:
    // Takes `fd`, a connected non-blocking TCP socket.
    explicit PlainTransferStream(int fd, QObject *parent = nullptr);
    ~PlainTransferStream() override;

    [[nodiscard]] qint64 read(char *into, qint64 max) override;
    [[nodiscard]] qint64 write(const char *data, qint64 size) override;
    [[nodiscard]] qint64 sendFile(int fd, qint64 *offset, qint64 count) override;
    void setReadInterest(bool enabled) override;
    void setWriteInterest(bool enabled) override;
    void shutdownWrite() override;
    void close() override;
    [[nodiscard]] QHostAddress peerAddress() const override;

private:
    int m_fd;
    QSocketNotifier *m_read = nullptr;
    QSocketNotifier *m_write = nullptr;
};

// A transfer over TLS (kithd serving wss:// itself): an encrypted QSslSocket
// moved to the transfer thread once its first request showed it is a
// transfer. The socket buffers what is written; write() and sendFile() take
// bytes only while fewer than kMaxBuffered wait there, so a download reads
// its file a buffer at a time as the peer takes it. Reads are bounded the
// same way (the socket's read buffer), so a peer sending faster than the
// disk takes it is held back by TCP, as on a plain connection.
class TlsTransferStream final : public TransferStream
{
    Q_OBJECT
public:
    static constexpr qint64 kMaxBuffered = 512 * 1024;

    // Takes `socket`: encrypted, without a parent, on the calling thread.
    explicit TlsTransferStream(QSslSocket *socket, QObject *parent = nullptr);
    ~TlsTransferStream() override;

    [[nodiscard]] qint64 read(char *into, qint64 max) override;
    [[nodiscard]] qint64 write(const char *data, qint64 size) override;
    [[nodiscard]] qint64 sendFile(int fd, qint64 *offset, qint64 count) override;
    [[nodiscard]] qint64 pendingBytes() const override;
    void setReadInterest(bool enabled) override;
    void setWriteInterest(bool enabled) override;
    void shutdownWrite() override;
    void close() override;
    [[nodiscard]] QHostAddress peerAddress() const override;

private:
    void onReadyRead();
    void onWritten();
    void onGone();
    [[nodiscard]] bool connected() const;

    QSslSocket *m_socket;
    QHostAddress m_peer;
    QByteArray m_buffer; // a download's next piece of its file
    bool m_readInterest = true;
    bool m_writeInterest = false;
    bool m_gone = false;
};

} // namespace kith::server
