#pragma once
// KithSession is one simulated Kith device: a client WsConnection that says
// hello, then resumes with a cached token (or registers a new user), and from
// then on hands every envelope to the scenario driving it. Server pings are
// answered here so scenarios only see what they measure, and answers that
// kithd compressed (the "deflate" feature) are unwrapped here, keeping their
// sizes on the wire and inflated for the scenario to count.

#include "ws_connection.h"

#include "kith/v1/envelope.pb.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

    // Optional protocol features to ask for in Hello (e.g. "deflate"); none by
    // default. Call before start().
    void requestFeatures(std::vector<std::string> features) { m_features = std::move(features); }
    // True when HelloOk listed `feature` as in use.
    [[nodiscard]] bool granted(std::string_view feature) const;

    bool start(const sockaddr_in &target, in_addr_t sourceAddr);
    // Every session of this process speaks wss:// (kith-bench --tls); set
    // once before any session starts, inherited by the worker processes.
    static void setUseTls(bool on) { s_useTls = on; }
    [[nodiscard]] static bool usesTls() { return s_useTls; }
    [[nodiscard]] bool isOpen() const { return m_ws->state() == WsConnection::State::Open; }
    void send(v1::Envelope &envelope);
    [[nodiscard]] uint32_t nextRequestId() { return ++m_lastRequestId; }
    void close() { m_ws->close(); }

    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] const Credentials &credentials() const { return m_credentials; }
    [[nodiscard]] const std::string &failure() const { return m_failure; }

    // The frame behind the envelope onEnvelope is handling: its size as
    // received, its size once inflated (the same when it was not compressed).
    [[nodiscard]] size_t frameWireBytes() const { return m_frameWireBytes; }
    [[nodiscard]] size_t frameRawBytes() const { return m_frameRawBytes; }
    [[nodiscard]] bool frameWasCompressed() const { return m_frameCompressed; }

    std::function<void(KithSession &)> onReady;
    // The connection failed or was refused; failure() says why.
    std::function<void(KithSession &)> onFailed;
    std::function<void(KithSession &, const v1::Envelope &)> onEnvelope;

private:
    static inline bool s_useTls = false;
    void handleFrame(std::string_view bytes);
    void failWith(std::string reason);
    // Inflates a Compressed envelope into m_inflated; false (and failed) when
    // it is not exactly what the wire format promises.
    bool inflate(const v1::Envelope &outer);

    Credentials m_credentials;
    std::unique_ptr<WsConnection> m_ws;
    State m_state = State::Connecting;
    uint32_t m_lastRequestId = 0;
    std::string m_failure;
    std::string m_scratch;
    v1::Envelope m_incoming;
    std::vector<std::string> m_features;
    std::vector<std::string> m_granted;
    std::string m_inflateBuffer;
    v1::Envelope m_inflated;
    size_t m_frameWireBytes = 0;
    size_t m_frameRawBytes = 0;
    bool m_frameCompressed = false;
};

} // namespace kith::bench
