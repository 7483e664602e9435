#include "client_fixture.h"

#include "kith/content.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/sync_engine.h"
#include "kith/protocol.h"

#include <QTest>

namespace kith::test {

using client::KithClient;

ClientDevice::ClientDevice(QString dataDir, QString storePath)
    : m_dataDir(std::move(dataDir))
    , m_storePath(std::move(storePath))
{
    restart();
}

void ClientDevice::restart()
{
    m_client.reset();
    m_client = std::make_unique<KithClient>();
    m_client->setDataDirectory(m_dataDir);
    if (!m_storePath.isEmpty())
        m_client->setStorePathOverride(m_storePath);
}

bool ClientDevice::waitSynced(int timeoutMs)
{
    return TestClient::waitUntil(
        [this] {
            return m_client->isOnline() && m_client->syncEngine()->hasSynced() &&
                   !m_client->syncEngine()->isSyncing();
        },
        timeoutMs);
}

bool ClientDevice::registerOn(const QUrl &server, const QString &name)
{
    m_client->registerAccount(server, name, kPassword);
    return waitSynced();
}

bool ClientDevice::loginOn(const QUrl &server, const QString &name)
{
    m_client->login(server, name, kPassword);
    return waitSynced();
}

bool ClientDevice::resume(const QUrl &server, const QString &name)
{
    return m_client->openAccount(server, name) && waitSynced();
}

bool historyMatchesServer(client::LocalStore *store, TestClient &server,
                          const QString &conversationId, QString *why)
{
    auto remote = server.pullAll(conversationId);
    if (!remote) {
        *why = QStringLiteral("cannot pull %1 from the server").arg(conversationId);
        return false;
    }
    // Operations are folded into their targets, which are compared whole.
    remote->removeIf([](const v1::Message &m) { return isOperation(m.content()); });
    const auto local = store->messagesAfter(conversationId, 0, 1'000'000);
    if (local.size() != remote->size()) {
        QStringList held;
        for (const auto &r : store->heldRanges(conversationId))
            held << QStringLiteral("%1-%2").arg(r.first).arg(r.last);
        QStringList absent;
        for (const auto &r : *remote)
            if (!store->message(conversationId, r.seq()))
                absent << QStringLiteral("%1(%2)").arg(r.seq()).arg(int(r.content().kind_case()));
        *why = QStringLiteral("%1: %2 messages on the device (held %4), %3 on the server;"
                              " absent: %5")
                   .arg(conversationId)
                   .arg(local.size())
                   .arg(remote->size())
                   .arg(held.join(u','), absent.join(u','));
        return false;
    }
    for (qsizetype i = 0; i < local.size(); ++i) {
        const auto &l = local.at(i);
        const auto &r = remote->at(i);
        if (l.seq != r.seq() || l.serverId != r.server_id() ||
            l.senderUserId != r.sender_user_id() || l.clientMsgId != toQString(r.client_msg_id()) ||
            l.serverTimeMs != r.server_time_ms() ||
            l.content.SerializeAsString() != r.content().SerializeAsString()) {
            *why = QStringLiteral("%1: message %2 differs (seq %3 vs %4)")
                       .arg(conversationId)
                       .arg(i)
                       .arg(l.seq)
                       .arg(r.seq());
            return false;
        }
    }
    const auto ranges = store->heldRanges(conversationId);
    // Ops are held like any seq: the run ends at the newest seq stored.
    if (!local.isEmpty() && (ranges.size() != 1 || ranges.first().first != 1 ||
                             ranges.first().last != store->maxStoredSeq(conversationId))) {
        *why = QStringLiteral("%1: held ranges do not cover 1..%2")
                   .arg(conversationId)
                   .arg(local.last().seq);
        return false;
    }
    return true;
}

bool sendMany(TestClient &sender, const QList<QPair<QString, QString>> &messages)
{
    QList<quint32> ids;
    for (const auto &[conversationId, text] : messages)
        ids << sender.post(TestClient::sendRequest(conversationId, text, newClientMsgId()));
    for (quint32 id : ids) {
        const auto answer = sender.waitForAnswer(id, kClientTimeoutMs);
        if (!answer || answer->body_case() != v1::Envelope::kSendAck) {
            qWarning() << "send failed:" << describe(answer);
            return false;
        }
    }
    return true;
}

std::optional<QString> createGroup(TestClient &owner, const QString &name,
                                   const QList<quint64> &members)
{
    v1::Envelope env;
    auto *create = env.mutable_create_group();
    create->set_name(toStd(name));
    for (quint64 id : members)
        create->add_member_user_ids(id);
    const auto answer = owner.request(env);
    if (!answer || answer->body_case() != v1::Envelope::kConversation)
        return std::nullopt;
    return toQString(answer->conversation().state().id());
}

quint64 userIdOf(TestClient &asker, const QString &username)
{
    v1::Envelope env;
    env.mutable_get_profile()->set_username(toStd(username));
    const auto answer = asker.request(env);
    if (!answer || answer->body_case() != v1::Envelope::kUserProfile)
        return 0;
    return answer->user_profile().user().id();
}

QString cliPath()
{
    return QStringLiteral(KITH_CLI_PATH);
}

QProcessEnvironment cliEnvironment(const QString &dataHome)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_DATA_HOME"), dataHome);
    env.insert(QStringLiteral("XDG_CONFIG_HOME"), dataHome + QStringLiteral("/config"));
    return env;
}

int runCli(const QString &dataHome, const QStringList &args, QByteArray *out, QByteArray *err,
           const QByteArray &input)
{
    QProcess process;
    process.setProcessEnvironment(cliEnvironment(dataHome));
    process.start(cliPath(), args);
    if (!process.waitForStarted(kClientTimeoutMs))
        return -1;
    if (!input.isEmpty())
        process.write(input);
    process.closeWriteChannel();
    // Spin the event loop (not waitForFinished) so a TestClient in this
    // process keeps answering the server's pings meanwhile.
    const bool finished = TestClient::waitUntil(
        [&process] { return process.state() == QProcess::NotRunning; }, kClientTimeoutMs);
    if (!finished) {
        process.kill();
        process.waitForFinished(5000);
        return -1;
    }
    if (out)
        *out = process.readAllStandardOutput();
    if (err)
        *err = process.readAllStandardError();
    return process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
}

} // namespace kith::test
