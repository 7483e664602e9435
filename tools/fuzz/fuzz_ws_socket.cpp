// Fuzz target: kithd's own WebSocket layer (WsSocket) as a peer sees it.
// The input is what a client sends: the HTTP upgrade request, then frames.
// It is fed in pieces (the first byte says how big), as reads would bring
// it, to a WsSocket on one end of a local socket pair whose other end is
// drained and dropped; binary messages are echoed, so the output side
// (queueing, the budget, close frames) runs too. Finds: crashes, sanitizer
// reports, and a socket that stays open after the peer broke the protocol.

#include "ws_socket.h"

#include <QCoreApplication>
#include <QLoggingCategory>

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>

using kith::server::OutputBudget;
using kith::server::WireSocket;
using kith::server::WsSocket;

namespace {
// Small limits, so that inputs of a few KiB reach them.
constexpr qint64 kMaxMessageBytes = 4 * 1024;
constexpr OutputBudget kBudget{64 * 1024, 0};

void drain(int fd)
{
    char chunk[16 * 1024];
    while (::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
    }
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    QLoggingCategory::setFilterRules(QStringLiteral("kith.*=false"));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return 0;
    const size_t piece = 1 + data[0] % 97;
    const auto *bytes = reinterpret_cast<const char *>(data + 1);
    const qsizetype length = qsizetype(size - 1);
    {
        auto socket = std::make_unique<WsSocket>(fds[0], kMaxMessageBytes, 10'000);
        socket->setOutputBudget(kBudget);
        WsSocket *raw = socket.get();
        QObject::connect(raw, &WireSocket::binaryMessageReceived, raw,
                         [raw](const QByteArray &message) { raw->sendBinaryMessage(message); });
        QObject::connect(raw, &WireSocket::messageTooLarge, raw, [raw] {
            raw->close(QWebSocketProtocol::CloseCodeTooMuchData, QStringLiteral("too large"));
        });
        // The owner's hold, now and then, as a busy session would.
        QObject::connect(raw, &WireSocket::textMessageReceived, raw,
                         [raw](const QString &text) { raw->holdReading(text.size() % 2 == 1); });
        for (qsizetype at = 0; at < length; at += qsizetype(piece)) {
            raw->feed(QByteArrayView(bytes + at, qMin<qsizetype>(qsizetype(piece), length - at)));
            drain(fds[1]);
            QCoreApplication::processEvents();
        }
        raw->holdReading(false);
        QCoreApplication::processEvents();
        drain(fds[1]);
    }
    QCoreApplication::processEvents();
    ::close(fds[1]);
    return 0;
}
