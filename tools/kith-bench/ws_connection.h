#pragma once
// WsConnection is one WebSocket over a non-blocking TCP socket, driven by the
// EventLoop: the client side (handshake with Sec-WebSocket-Key, masked frames
// out) for simulated users, and the server side (unmasked frames out) for the
// bare relay. Partial reads and writes are kept in per-connection buffers.
// A client may speak TLS (wss://) underneath: OpenSSL on the same
// non-blocking socket, the handshake driven by the same readiness events.
// The owner keeps the object alive for the whole loop run, also once closed.

#include "event_loop.h"

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace kith::bench {

// The one TLS client context of the process (made on first use), as every
// WsConnection with useTls() uses: no certificate check, see useTls().
[[nodiscard]] ssl_ctx_st *clientTlsContext();

class WsConnection final : public Pollable
{
public:
    enum class Role { Client, Server };
    enum class State { Idle, Connecting, Handshaking, Open, Closed };

    WsConnection(EventLoop &loop, Role role);
    ~WsConnection() override;
    WsConnection(const WsConnection &) = delete;
    WsConnection &operator=(const WsConnection &) = delete;

    // Client: binds to sourceAddr (a 127.0.0.x address, network order) and
    // connects to target, asking for `path`. False when the socket could not
    // even be started.
    bool connectTo(const sockaddr_in &target, in_addr_t sourceAddr, const std::string &path = "/");
    // Client, before connectTo: wrap the connection in TLS. The server's
    // certificate is not checked: the bench talks only to a kithd on loopback
    // (usually one it started, with kithd's own self-signed certificate).
    void useTls() { m_wantTls = true; }
    // Server: takes over an accepted socket and waits for the upgrade request.
    bool adopt(int fd);

    void sendBinary(std::string_view payload);
    void close();

    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] const std::string &requestPath() const { return m_path; }
    [[nodiscard]] const std::string &closeReason() const { return m_closeReason; }

    std::function<void()> onOpen;
    std::function<void(std::string_view)> onMessage;
    std::function<void()> onClosed;

    void handleEvents(uint32_t events) override;

private:
    void readAvailable();
    void flush();
    bool startTls();
    bool continueTlsHandshake();
    ssize_t sendSome(const char *data, size_t size);
    ssize_t receiveSome(char *data, size_t size);
    bool parseHandshake();
    void parseFrames();
    void queueFrame(uint8_t opcode, std::string_view payload);
    void fail(const char *reason);

    EventLoop &m_loop;
    Role m_role;
    State m_state = State::Idle;
    int m_fd = -1;
    std::string m_in;
    size_t m_inPos = 0;
    std::string m_out;
    size_t m_outPos = 0;
    std::string m_fragments;
    std::string m_expectedAccept;
    std::string m_path;
    std::string m_closeReason;
    uint32_t m_maskState;
    bool m_wantTls = false;
    bool m_tlsHandshaking = false;
    ssl_st *m_ssl = nullptr;
};

} // namespace kith::bench
