#include "cluster_fixture.h"

#include "kith/protocol.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>

namespace kith::test {

TestCluster::TestCluster(QStringList nodeArgs)
    : m_nodeArgs(std::move(nodeArgs))
{}

bool TestCluster::start(int nodes)
{
    if (!m_postgres.start()) {
        qWarning("TestCluster: PostgreSQL did not start:\n%s", m_postgres.log().right(3000).data());
        return false;
    }
    if (!m_postgres.createDatabase(QStringLiteral("kith")))
        return false;
    if (!m_redis.start()) {
        qWarning("TestCluster: Redis did not start:\n%s", m_redis.log().right(3000).data());
        return false;
    }
    for (int i = 0; i < nodes; ++i) {
        QStringList args{QStringLiteral("--store"),       storeUrl(),
                         QStringLiteral("--bus"),         m_redis.url(),
                         QStringLiteral("--node-id"),     QString::number(i + 1),
                         QStringLiteral("--node-ttl-ms"), QString::number(kClusterNodeTtlMs)};
        m_nodes.push_back(std::make_unique<TestServer>(args + m_nodeArgs));
        if (!m_nodes.back()->start())
            return false;
    }
    return true;
}

bool TestCluster::waitReady(int timeoutMs)
{
    return TestClient::waitUntil(
        [this] {
            int running = 0;
            for (const auto &node : m_nodes)
                running += node->isRunning() ? 1 : 0;
            for (int i = 0; i < size(); ++i) {
                if (!m_nodes[size_t(i)]->isRunning())
                    continue;
                if (!health(i).startsWith("ok\n") ||
                    metric(i, QStringLiteral("kith_bus_nodes")) != running - 1)
                    return false;
            }
            return true;
        },
        timeoutMs);
}

QList<quint16> TestCluster::nodePorts() const
{
    QList<quint16> ports;
    for (const auto &node : m_nodes)
        ports.append(quint16(node->url().port()));
    return ports;
}

QByteArray TestCluster::health(int index)
{
    if (!node(index).isRunning())
        return {};
    return httpGet(node(index).adminUrl().resolved(QUrl(QStringLiteral("healthz")))).body;
}

QByteArray TestCluster::metrics(int index)
{
    if (!node(index).isRunning())
        return {};
    return httpGet(node(index).adminUrl().resolved(QUrl(QStringLiteral("metrics")))).body;
}

double TestCluster::metric(int index, const QString &name, const QString &labels)
{
    const QRegularExpression sample(
        QStringLiteral("^%1(\\{[^}]*\\})?\\s+(\\S+)\\s*$").arg(QRegularExpression::escape(name)),
        QRegularExpression::MultilineOption);
    double sum = -1;
    auto it = sample.globalMatch(QString::fromUtf8(metrics(index)));
    while (it.hasNext()) {
        const auto match = it.next();
        if (!labels.isEmpty() && !match.captured(1).contains(labels))
            continue;
        sum = (sum < 0 ? 0 : sum) + match.captured(2).toDouble();
    }
    return sum;
}

QString TestCluster::busLog() const
{
    QString log;
    for (size_t i = 0; i < m_nodes.size(); ++i) {
        for (const QByteArray &line : m_nodes[i]->stderrLog().split('\n')) {
            if (line.contains("kith.bus") || line.contains("kith.presence"))
                log += QStringLiteral("\nnode %1: %2").arg(i + 1).arg(QString::fromUtf8(line));
        }
    }
    return log;
}

HttpAnswer httpGet(const QUrl &url)
{
    QNetworkAccessManager manager;
    std::unique_ptr<QNetworkReply> reply(manager.get(QNetworkRequest(url)));
    TestClient::waitUntil([&] { return reply->isFinished(); });
    if (!reply->isFinished())
        return {};
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
}

QHash<QString, std::optional<v1::SendAck>>
sendAll(TestClient &sender, const QString &conversationId, const QStringList &texts)
{
    QHash<quint32, QString> requests;
    for (const QString &text : texts) {
        const QString clientMsgId = newClientMsgId();
        requests.insert(sender.post(TestClient::sendRequest(conversationId, text, clientMsgId)),
                        clientMsgId);
    }
    QHash<QString, std::optional<v1::SendAck>> acks;
    for (auto it = requests.cbegin(); it != requests.cend(); ++it) {
        const auto answer = sender.waitForAnswer(it.key());
        acks.insert(it.value(), answer && answer->has_send_ack()
                                    ? std::optional<v1::SendAck>(answer->send_ack())
                                    : std::nullopt);
    }
    return acks;
}

QString newGroup(TestClient &owner, const QString &name, const QList<quint64> &members)
{
    v1::Envelope request;
    request.mutable_create_group()->set_name(toStd(name));
    for (quint64 member : members)
        request.mutable_create_group()->add_member_user_ids(member);
    const auto answer = owner.request(request);
    if (!answer || !answer->has_conversation())
        return {};
    return toQString(answer->conversation().state().id());
}

std::optional<bool> isOnlineFor(TestClient &asker, quint64 userId)
{
    v1::Envelope request;
    request.mutable_get_profile()->set_user_id(userId);
    const auto answer = asker.request(request);
    if (!answer || !answer->has_user_profile())
        return std::nullopt;
    return answer->user_profile().user().online();
}

QList<quint64> seqsOf(const QList<v1::Message> &messages)
{
    QList<quint64> seqs;
    for (const v1::Message &message : messages)
        seqs.append(message.seq());
    return seqs;
}

bool contiguousFromOne(const QList<quint64> &seqs)
{
    for (qsizetype i = 0; i < seqs.size(); ++i) {
        if (seqs[i] != quint64(i + 1))
            return false;
    }
    return true;
}

} // namespace kith::test
