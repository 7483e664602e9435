#pragma once
// Helpers for the end-to-end client tests: a KithClient device with its own
// data folder signed in on a TestServer, and a comparison of a device's local
// history with the server's. Owned by each test.

#include "kith/client/kith_client.h"
#include "test_client.h"

#include <QProcess>
#include <QString>
#include <QUrl>

#include <memory>
#include <optional>

namespace kith::client {
class LocalStore;
}

namespace kith::test {

inline const QString kPassword = QStringLiteral("password123");
// Joining a server, hashing a password and a first sync on a loaded machine.
constexpr int kClientTimeoutMs = 60000;

// Server options for tests that pipeline many sends; the defaults would throttle them.
inline const QStringList kFastSendArgs{QStringLiteral("--send-rate"), QStringLiteral("100000"),
                                       QStringLiteral("--send-burst"), QStringLiteral("100000")};

// Posts every (conversation, text) send without waiting, then collects the acks.
[[nodiscard]] bool sendMany(TestClient &sender, const QList<QPair<QString, QString>> &messages);
// Creates a group owned by owner; its conversation id, or nullopt.
[[nodiscard]] std::optional<QString> createGroup(TestClient &owner, const QString &name,
                                                 const QList<quint64> &members);
// A user's id looked up by name through any signed-in test client.
[[nodiscard]] quint64 userIdOf(TestClient &asker, const QString &username);

class ClientDevice
{
public:
    explicit ClientDevice(QString dataDir, QString storePath = {});

    // Creates a fresh KithClient (a new process, as far as the store is concerned).
    void restart();
    void stop() { m_client.reset(); }
    [[nodiscard]] client::KithClient *operator->() const { return m_client.get(); }
    [[nodiscard]] client::KithClient *get() const { return m_client.get(); }

    [[nodiscard]] bool registerOn(const QUrl &server, const QString &name);
    [[nodiscard]] bool loginOn(const QUrl &server, const QString &name);
    [[nodiscard]] bool resume(const QUrl &server, const QString &name);
    // Online with a finished sync (and nothing left to pull).
    [[nodiscard]] bool waitSynced(int timeoutMs = kClientTimeoutMs);

private:
    QString m_dataDir;
    QString m_storePath;
    std::unique_ptr<client::KithClient> m_client;
};

// True when the device's stored messages of the conversation are exactly the
// server's (seq, server id, sender, client id, time, text); why says otherwise.
[[nodiscard]] bool historyMatchesServer(client::LocalStore *store, TestClient &server,
                                        const QString &conversationId, QString *why);

// Runs kith-cli with XDG_DATA_HOME set to dataHome; returns the exit code
// (-1 on a crash or a hang) and fills out/err.
int runCli(const QString &dataHome, const QStringList &args, QByteArray *out = nullptr,
           QByteArray *err = nullptr, const QByteArray &input = {});
// A kith-cli process environment with its data under dataHome.
[[nodiscard]] QProcessEnvironment cliEnvironment(const QString &dataHome);
[[nodiscard]] QString cliPath();

} // namespace kith::test
