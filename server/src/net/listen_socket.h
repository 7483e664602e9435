#pragma once
// Listening sockets with the backlog kithd asks for. QTcpServer::listen()
// uses a backlog of 50: a burst of logins larger than that (every client
// reconnecting after a restart) overflows the kernel's queue, which drops the
// SYNs, and each dropped client waits a second or more before it tries again.
// kithd's own ws:// listener and QWebSocketServer (wss://) both take the
// descriptor made here.

#include "kith/result.h"

#include <QByteArray>
#include <QHostAddress>

namespace kith::server {

// The kernel's ceiling for a listen backlog (net.core.somaxconn): a larger
// request is cut to it without a word. 4096 (Linux's default since 5.4) when
// it cannot be read.
[[nodiscard]] int systemListenBacklog();

// A non-blocking, close-on-exec TCP socket bound to address:port (0: a free
// port) and listening with `backlog`, set up as QTcpServer::listen() would:
// SO_REUSEADDR, QHostAddress::Any dual-stack, AnyIPv6 IPv6 only. The caller
// owns the descriptor.
[[nodiscard]] Result<int> openListeningSocket(const QHostAddress &address, quint16 port,
                                              int backlog);

// The host's count of connection attempts dropped at a listen queue
// (/proc/net/netstat, TcpExt): ListenOverflows (the accept queue was full)
// and ListenDrops (dropped for any reason, overflows included). The kernel
// keeps them for the whole host, not per socket.
struct ListenQueueCounters
{
    quint64 overflows = 0;
    quint64 drops = 0;
    bool known = false; // false: not readable here (not Linux, no /proc)
};

[[nodiscard]] ListenQueueCounters readListenQueueCounters();
// The same from the file's text: header lines of names, each followed by a
// line of values with the same prefix ("TcpExt: ...").
[[nodiscard]] ListenQueueCounters parseListenQueueCounters(const QByteArray &netstat);

} // namespace kith::server
