#include "single_instance.h"

#include <QLocalSocket>
#include <QStandardPaths>

namespace kith::app {

namespace {
constexpr int kConnectTimeoutMs = 1'000; // a live instance answers at once
const QByteArray kActivate = QByteArrayLiteral("activate\n");
} // namespace

SingleInstance::SingleInstance(const QString &key, QObject *parent)
    : QObject(parent)
    , m_key(key)
{
    m_server.setSocketOptions(QLocalServer::UserAccessOption);
    connect(&m_server, &QLocalServer::newConnection, this, &SingleInstance::onNewConnection);
}

QString SingleInstance::defaultKey()
{
    // The runtime folder is per user and per login session.
    const QString runtime = QStandardPaths::writableLocation(QStandardPaths::RuntimeLocation);
    return runtime.isEmpty() ? QStringLiteral("kith-%1").arg(qEnvironmentVariable("USER"))
                             : runtime + QStringLiteral("/kith.instance");
}

bool SingleInstance::notifyRunningInstance()
{
    QLocalSocket socket;
    socket.connectToServer(m_key);
    if (socket.waitForConnected(kConnectTimeoutMs)) {
        socket.write(kActivate);
        socket.waitForBytesWritten(kConnectTimeoutMs);
        socket.disconnectFromServer();
        return true;
    }
    // Nobody answered: a socket file left by a crashed instance must go first.
    QLocalServer::removeServer(m_key);
    m_server.listen(m_key);
    return false;
}

void SingleInstance::onNewConnection()
{
    while (QLocalSocket *socket = m_server.nextPendingConnection()) {
        connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
        connect(socket, &QLocalSocket::readyRead, this, [this, socket] {
            if (socket->readAll().contains(kActivate.trimmed()))
                emit activationRequested();
        });
    }
}

} // namespace kith::app
