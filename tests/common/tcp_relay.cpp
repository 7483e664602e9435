#include "tcp_relay.h"

#include <QHostAddress>
#include <QTcpSocket>

#include <linux/sockios.h>
#include <sys/ioctl.h>

namespace kith::test {

TcpRelay::TcpRelay(quint16 targetPort, QObject *parent)
    : QObject(parent)
    , m_targetPort(targetPort)
{
    connect(&m_server, &QTcpServer::newConnection, this, &TcpRelay::onNewConnection);
}

TcpRelay::~TcpRelay()
{
    for (auto &pair : m_pairs) {
        pair->client->disconnect(this);
        pair->server->disconnect(this);
    }
}

bool TcpRelay::listen()
{
    return m_server.listen(QHostAddress::LocalHost, 0);
}

QUrl TcpRelay::url(const QString &scheme) const
{
    return QUrl(QStringLiteral("%1://127.0.0.1:%2/").arg(scheme).arg(port()));
}

void TcpRelay::holdServerToClient(bool held)
{
    m_held = held;
    if (held)
        return;
    for (auto &pair : m_pairs) {
        if (!pair->heldToClient.isEmpty() &&
            pair->client->state() == QAbstractSocket::ConnectedState)
            pair->client->write(pair->heldToClient);
        pair->heldToClient.clear();
    }
}

qint64 TcpRelay::heldBytes() const
{
    qint64 bytes = 0;
    for (const auto &pair : m_pairs)
        bytes += pair->heldToClient.size();
    return bytes;
}

qint64 TcpRelay::bytesOnTheWayToClients() const
{
    qint64 bytes = 0;
    for (const auto &pair : m_pairs) {
        if (pair->client->state() != QAbstractSocket::ConnectedState)
            continue;
        bytes += pair->client->bytesToWrite();
        // Written to the kernel is not yet with the client: what the client
        // has not taken into its receive queue is still in ours.
        int unacknowledged = 0;
        if (::ioctl(int(pair->client->socketDescriptor()), SIOCOUTQ, &unacknowledged) == 0)
            bytes += unacknowledged;
        else
            bytes += 1; // unknown: not known to be there
    }
    return bytes;
}

void TcpRelay::onNewConnection()
{
    while (QTcpSocket *accepted = m_server.nextPendingConnection()) {
        auto pair = std::make_unique<Pair>();
        Pair *p = pair.get();
        accepted->setParent(nullptr);
        p->client.reset(accepted);
        p->server = std::make_unique<QTcpSocket>();
        connect(p->client.get(), &QTcpSocket::readyRead, this, [p] {
            const QByteArray bytes = p->client->readAll();
            if (p->server->state() == QAbstractSocket::ConnectedState)
                p->server->write(bytes);
            else
                p->pendingToServer += bytes;
        });
        connect(p->server.get(), &QTcpSocket::connected, this, [p] {
            if (!p->pendingToServer.isEmpty())
                p->server->write(std::exchange(p->pendingToServer, {}));
        });
        connect(p->server.get(), &QTcpSocket::readyRead, this, [this, p] {
            const QByteArray bytes = p->server->readAll();
            if (m_held)
                p->heldToClient += bytes;
            else
                p->client->write(bytes);
        });
        // Either side going away takes the other with it; bytes held back
        // for the client are lost, as they would be in a crash.
        connect(p->client.get(), &QTcpSocket::disconnected, this, [this, p] { closePair(p); });
        connect(p->server.get(), &QTcpSocket::disconnected, this, [this, p] { closePair(p); });
        connect(p->server.get(), &QTcpSocket::errorOccurred, this,
                [this, p](QAbstractSocket::SocketError) { closePair(p); });
        p->server->connectToHost(QHostAddress::LocalHost, m_targetPort);
        m_pairs.push_back(std::move(pair));
    }
}

void TcpRelay::closePair(Pair *pair)
{
    pair->heldToClient.clear();
    if (pair->server->state() != QAbstractSocket::UnconnectedState)
        pair->server->disconnectFromHost();
    if (pair->client->state() != QAbstractSocket::UnconnectedState) {
        if (!m_held)
            pair->client->disconnectFromHost(); // after what was already written
        else
            pair->client->abort();
    }
}

} // namespace kith::test
