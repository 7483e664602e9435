#pragma once
// A kithd cluster for a test: a real PostgreSQL and Redis, and several kithd
// processes on them (each with its own port, admin port and node id), all on
// loopback and started by the test. Plus the small protocol helpers the
// cluster tests share. Owned by the test.

#include "test_client.h"
#include "test_postgres.h"
#include "test_redis.h"
#include "test_server.h"

#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>

namespace kith::test {

// Short, so that a node's death is noticed within a test: its users are told
// offline about this long after it died.
// (Not shorter: a node's loop may stall on a busy machine, and a node taken
// for dead tells its users offline.)
constexpr int kClusterNodeTtlMs = 5000;

class TestCluster
{
public:
    // `nodeArgs` go to every kithd besides the store, bus and node id.
    explicit TestCluster(QStringList nodeArgs = {});

    // PostgreSQL (database "kith"), Redis, then `nodes` kithd on them; false
    // (with the reason logged) when any does not come up.
    [[nodiscard]] bool start(int nodes);
    // Every running node joined the bus and sees the other running nodes.
    [[nodiscard]] bool waitReady(int timeoutMs = kDefaultTimeoutMs);

    [[nodiscard]] int size() const { return int(m_nodes.size()); }
    [[nodiscard]] TestServer &node(int index) { return *m_nodes.at(index); }
    [[nodiscard]] QList<quint16> nodePorts() const;
    [[nodiscard]] TestPostgres &postgres() { return m_postgres; }
    [[nodiscard]] TestRedis &redis() { return m_redis; }
    [[nodiscard]] QString storeUrl() const { return m_postgres.url(QStringLiteral("kith")); }

    // GET /healthz and /metrics of a node ({} when it does not answer).
    [[nodiscard]] QByteArray health(int index);
    [[nodiscard]] QByteArray metrics(int index);
    // The sum of a metric's samples whose labels contain `labels` (all of
    // them when empty); -1 when the node does not show it.
    [[nodiscard]] double metric(int index, const QString &name, const QString &labels = {});
    // What every node logged about the bus, for failure messages.
    [[nodiscard]] QString busLog() const;

private:
    QStringList m_nodeArgs;
    TestPostgres m_postgres;
    TestRedis m_redis;
    std::vector<std::unique_ptr<TestServer>> m_nodes;
};

struct HttpAnswer
{
    int status = 0;
    QByteArray body;
};
[[nodiscard]] HttpAnswer httpGet(const QUrl &url);

// Posts every text to the conversation at once, then collects the answers:
// client message id -> the ack (nullopt where the answer was an error or none came).
[[nodiscard]] QHash<QString, std::optional<v1::SendAck>>
sendAll(TestClient &sender, const QString &conversationId, const QStringList &texts);
// The group's conversation id, or an empty string.
[[nodiscard]] QString newGroup(TestClient &owner, const QString &name,
                               const QList<quint64> &members);
// Whether `asker`'s node says `userId` is online (any node holding them).
[[nodiscard]] std::optional<bool> isOnlineFor(TestClient &asker, quint64 userId);
// The seqs of messages, in order; and whether they run 1, 2, 3 ... without a gap.
[[nodiscard]] QList<quint64> seqsOf(const QList<v1::Message> &messages);
[[nodiscard]] bool contiguousFromOne(const QList<quint64> &seqs);

} // namespace kith::test
