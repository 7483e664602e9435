#pragma once
// KithSession is one simulated Kith device: a client WsConnection that says
// hello, then resumes with a cached token (or registers a new user), and from
// then on hands every envelope to the scenario driving it. Server pings are
// answered here so scenarios only see what they measure.

#include "ws_connection.h"

#include "kith/v1/envelope.pb.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace kith::bench {

struct Credentials
{
    std::string username;
    std::string password; // only for registering
    std::string token;    // empty: register (or log in) instead of resume
    bool loginWithPassword = false;
    uint64_t userId = 0;
};

class KithSession
{
public:
    enum class State { Connecting, Authenticating, Ready, Failed };

    KithSession(EventLoop &loop, Credentials credentials);

    bool start(const sockaddr_in &target, in_addr_t sourceAddr);
    [[nodiscard]] bool isOpen() const { return m_ws->state() == WsConnection::State::Open; }
    void send(v1::Envelope &envelope);
    [[nodiscard]] uint32_t nextRequestId() { return ++m_lastRequestId; }
    void close() { m_ws->close(); }

    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] const Credentials &credentials() const { return m_credentials; }
    [[nodiscard]] const std::string &failure() const { return m_failure; }

    std::function<void(KithSession &)> onReady;
    // The connection failed or was refused; failure() says why.
    std::function<void(KithSession &)> onFailed;
    std::function<void(KithSession &, const v1::Envelope &)> onEnvelope;

private:
    void handleFrame(std::string_view bytes);
    void failWith(std::string reason);

    Credentials m_credentials;
    std::unique_ptr<WsConnection> m_ws;
    State m_state = State::Connecting;
    uint32_t m_lastRequestId = 0;
    std::string m_failure;
    std::string m_scratch;
    v1::Envelope m_incoming;
};

} // namespace kith::bench
