#pragma once
// TcpRelay: a loopback TCP relay between clients and a server port, for tests
// that must stop what the server says from reaching a client (an ack lost
// with a crash) at a moment of their choosing, without timing anything.
// Each accepted connection gets its own connection to the target. Owned by
// the test; runs on the thread that made it.

#include <QByteArray>
#include <QObject>
#include <QTcpServer>
#include <QUrl>

#include <memory>
#include <vector>

class QTcpSocket;

namespace kith::test {

class TcpRelay : public QObject
{
    Q_OBJECT
public:
    explicit TcpRelay(quint16 targetPort, QObject *parent = nullptr);
    ~TcpRelay() override;

    // Listens on a free loopback port; false when it cannot.
    [[nodiscard]] bool listen();
    [[nodiscard]] quint16 port() const { return m_server.serverPort(); }
    [[nodiscard]] QUrl url(const QString &scheme = QStringLiteral("ws")) const;

    // While held, bytes from the server are kept back (and dropped if the
    // server's side closes first); released, what was kept goes on.
    void holdServerToClient(bool held);
    // Bytes the server sent that are kept back right now.
    [[nodiscard]] qint64 heldBytes() const;
    // Bytes let through before a hold that have not yet reached the client's
    // receive queue (in the relay's buffer or its kernel send queue): a test
    // that holds answers waits for this to reach 0 before it counts on
    // nothing more reaching the client.
    [[nodiscard]] qint64 bytesOnTheWayToClients() const;

private:
    struct Pair
    {
        std::unique_ptr<QTcpSocket> client;
        std::unique_ptr<QTcpSocket> server;
        QByteArray pendingToServer; // written once the server side is connected
        QByteArray heldToClient;
    };
    void onNewConnection();
    void closePair(Pair *pair);

    QTcpServer m_server;
    quint16 m_targetPort;
    bool m_held = false;
    std::vector<std::unique_ptr<Pair>> m_pairs;
};

} // namespace kith::test
