#pragma once
// RelayServer is the bare baseline the direct scenario is compared with: a
// WebSocket server with no auth and no storage. Clients connect to /p<pair>;
// every binary message is forwarded to the other connection of that pair and
// echoed to its sender (standing in for the ack). It runs in a process of its
// own, like kithd, so both get the same share of the machine.

#include "ws_connection.h"

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kith::bench {

class RelayServer final : public Pollable
{
public:
    explicit RelayServer(EventLoop &loop);
    ~RelayServer() override;

    // Listens on 127.0.0.1 with a free port.
    [[nodiscard]] bool listen();
    [[nodiscard]] uint16_t port() const { return m_port; }

    void handleEvents(uint32_t events) override;

private:
    void attach(WsConnection *connection);
    void relay(WsConnection *from, std::string_view message);

    EventLoop &m_loop;
    int m_fd = -1;
    uint16_t m_port = 0;
    std::vector<std::unique_ptr<WsConnection>> m_connections;
    std::map<std::string, std::array<WsConnection *, 2>> m_pairs;
    std::map<WsConnection *, WsConnection *> m_peer;
};

// A relay in a child process until stop(); the child dies with the parent.
class RelayProcess
{
public:
    RelayProcess() = default;
    ~RelayProcess();
    RelayProcess(const RelayProcess &) = delete;
    RelayProcess &operator=(const RelayProcess &) = delete;

    [[nodiscard]] bool start(unsigned deadlineSeconds);
    void stop();
    [[nodiscard]] uint16_t port() const { return m_port; }

private:
    pid_t m_pid = -1;
    uint16_t m_port = 0;
};

} // namespace kith::bench
