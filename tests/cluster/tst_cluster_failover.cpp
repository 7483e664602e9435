// Three kithd nodes on one PostgreSQL and one Redis, behind HAProxy (the
// sample config), under load: 50 senders, each in a direct chat with one of
// six readers (libkithclient devices, as the app runs them). Each sender
// posts a message a round and posts again, with the same client id, what was
// not acked, as the client's outbox does. Then, while they send:
// - Redis is killed and started again: every send is still acked, and every
//   reader converges once the bus is back;
// - PostgreSQL is stopped and started again: sends fail cleanly
//   (UNAVAILABLE) while it is down and succeed afterwards;
// - a node is killed (-9): its clients reconnect through HAProxy to a live
//   node, the readers catch up, and the others take the dead node off the bus.
// After each: every acked message is stored exactly once, the seqs of every
// chat run 1, 2, 3 ... without a gap, and each reader's device holds exactly
// the server's history.

#include "client_fixture.h"
#include "cluster_fixture.h"
#include "kith/client/local_store.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "test_haproxy.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kSenders = 50;
constexpr int kReaders = 6;

// What became of one round's answers.
struct Round
{
    int acked = 0;
    int unavailable = 0; // refused with UNAVAILABLE: to be sent again
    int lost = 0;        // no answer (the connection went): to be sent again
    QStringList other;   // anything else: a defect
};

struct Outgoing
{
    QString clientMsgId;
    QString text;
};

} // namespace

class TestClusterFailover : public QObject
{
    Q_OBJECT

    std::unique_ptr<TestCluster> m_cluster;
    std::unique_ptr<TestHaproxy> m_haproxy;
    QTemporaryDir m_dir;
    std::vector<std::unique_ptr<ClientDevice>> m_readers;
    QList<quint64> m_readerIds;
    // Which node (index) reader 0 landed on.
    int m_readerZeroNode = -1;
    std::vector<std::unique_ptr<TestClient>> m_senders;
    QStringList m_senderTokens;
    QStringList m_chats; // sender i's chat with reader i % kReaders
    // Per sender: every message it sent so far, and those not acked yet.
    QList<QList<Outgoing>> m_sent;
    QList<QList<Outgoing>> m_unacked;
    QHash<QString, quint64> m_ackedSeq; // client id -> the seq its ack gave
    int m_nextText = 0;

    QUrl front() const { return m_haproxy->url(); }

    // Senders cut off (their node died) come back through HAProxy with their
    // token; one that cannot yet sits the round out.
    void reconnectSenders()
    {
        for (int s = 0; s < kSenders; ++s) {
            TestClient &sender = *m_senders[size_t(s)];
            if (!sender.isConnected())
                (void)sender.connectAndResume(front(), m_senderTokens.at(s));
        }
    }

    // Every connected sender posts what it has not had acked and, when
    // `fresh`, one new message; `whileInFlight` runs once all are posted.
    Round round(bool fresh = true, const std::function<void()> &whileInFlight = {})
    {
        reconnectSenders();
        struct Posted
        {
            int sender;
            quint32 requestId;
            Outgoing message;
        };
        QList<Posted> posted;
        for (int s = 0; s < kSenders; ++s) {
            TestClient &sender = *m_senders[size_t(s)];
            if (!sender.isConnected())
                continue;
            if (fresh) {
                const Outgoing message{newClientMsgId(),
                                       QStringLiteral("message %1").arg(++m_nextText)};
                m_sent[s] << message;
                m_unacked[s] << message;
            }
            for (const Outgoing &message : std::as_const(m_unacked[s]))
                posted.append({s,
                               sender.post(TestClient::sendRequest(m_chats.at(s), message.text,
                                                                   message.clientMsgId)),
                               message});
        }
        if (whileInFlight)
            whileInFlight();
        Round result;
        for (const Posted &p : std::as_const(posted)) {
            const auto answer = m_senders[size_t(p.sender)]->waitForAnswer(p.requestId);
            if (!answer) {
                ++result.lost;
            } else if (answer->has_send_ack()) {
                ++result.acked;
                const quint64 seq = answer->send_ack().seq();
                const auto known = m_ackedSeq.constFind(p.message.clientMsgId);
                if (known != m_ackedSeq.cend() && *known != seq)
                    result.other << QStringLiteral("%1 acked as seq %2, then as %3")
                                        .arg(p.message.clientMsgId)
                                        .arg(*known)
                                        .arg(seq);
                m_ackedSeq.insert(p.message.clientMsgId, seq);
                m_unacked[p.sender].removeIf(
                    [&](const Outgoing &o) { return o.clientMsgId == p.message.clientMsgId; });
            } else if (answer->has_error() && answer->error().code() == v1::UNAVAILABLE) {
                ++result.unavailable;
            } else {
                result.other << QString::fromUtf8(describe(answer));
            }
        }
        return result;
    }

    int unackedCount() const
    {
        int count = 0;
        for (const auto &messages : m_unacked)
            count += int(messages.size());
        return count;
    }

    // Sends again what was not acked until nothing is left (bounded).
    [[nodiscard]] bool drain()
    {
        for (int attempt = 0; attempt < 50 && unackedCount() > 0; ++attempt) {
            const Round r = round(false);
            if (!r.other.isEmpty()) {
                qWarning() << "unexpected answers:" << r.other;
                return false;
            }
            if (r.acked == 0)
                (void)TestClient::waitUntil([] { return false; }, 200);
        }
        return unackedCount() == 0;
    }

    // Every message each sender sent is in its chat exactly once, in the
    // order it was sent, the seqs run 1..n, and each matches its ack.
    void verifyExactlyOnce()
    {
        QVERIFY2(drain(), qPrintable(QStringLiteral("%1 sends never acked").arg(unackedCount())));
        for (int s = 0; s < kSenders; ++s) {
            const auto history = m_senders[size_t(s)]->pullAll(m_chats.at(s));
            QVERIFY(history);
            const QList<quint64> seqs = seqsOf(*history);
            QVERIFY2(contiguousFromOne(seqs), qPrintable(QStringLiteral("sender %1").arg(s)));
            QCOMPARE(history->size(), m_sent[s].size());
            for (qsizetype i = 0; i < history->size(); ++i) {
                const v1::Message &stored = history->at(i);
                QCOMPARE(toQString(stored.client_msg_id()), m_sent[s][i].clientMsgId);
                QCOMPARE(toQString(stored.content().text().body()), m_sent[s][i].text);
                QCOMPARE(stored.seq(), m_ackedSeq.value(m_sent[s][i].clientMsgId));
            }
        }
    }

    // Each reader's device holds exactly the server's history of its chats.
    void verifyReadersConverge()
    {
        for (int s = 0; s < kSenders; ++s) {
            ClientDevice &reader = *m_readers[size_t(s % kReaders)];
            const QString &chat = m_chats.at(s);
            const qint64 expected = m_sent[s].size();
            QVERIFY2(TestClient::waitUntil(
                         [&] {
                             return reader->isOnline() &&
                                    reader->store()->messageCount(chat) == expected;
                         },
                         kClientTimeoutMs),
                     qPrintable(QStringLiteral("reader %1 holds %2 of %3 in %4 (%5)")
                                    .arg(s % kReaders)
                                    .arg(reader->store()->messageCount(chat))
                                    .arg(expected)
                                    .arg(chat, reader->lastError())));
            QString why;
            QVERIFY2(historyMatchesServer(reader->store(), *m_senders[size_t(s)], chat, &why),
                     qPrintable(why));
        }
    }

    // The node holding exactly one more authenticated session than before.
    int nodeThatGainedASession(const QList<double> &before)
    {
        for (int i = 0; i < m_cluster->size(); ++i) {
            if (m_cluster->metric(i, QStringLiteral("kith_sessions_authenticated")) ==
                before.at(i) + 1)
                return i;
        }
        return -1;
    }

    QList<double> sessionsPerNode()
    {
        QList<double> sessions;
        for (int i = 0; i < m_cluster->size(); ++i)
            sessions << m_cluster->metric(i, QStringLiteral("kith_sessions_authenticated"));
        return sessions;
    }

    void requireAllAcked(const Round &r, const char *when)
    {
        QVERIFY2(r.other.isEmpty(), qPrintable(r.other.join(u'\n')));
        QVERIFY2(r.lost == 0 && r.unavailable == 0,
                 qPrintable(QStringLiteral("%1: %2 lost, %3 unavailable")
                                .arg(QLatin1String(when))
                                .arg(r.lost)
                                .arg(r.unavailable)));
    }

private slots:
    void initTestCase()
    {
        KITH_REQUIRE_POSTGRES();
        KITH_REQUIRE_REDIS();
        KITH_REQUIRE_HAPROXY();
        QStandardPaths::setTestModeEnabled(true);
        m_cluster = std::make_unique<TestCluster>(
            kFastSendArgs +
            QStringList{QStringLiteral("--registrations-per-hour"), QStringLiteral("0")});
        QVERIFY(m_cluster->start(3));
        QVERIFY2(m_cluster->waitReady(), m_cluster->health(0).constData());
        m_haproxy = std::make_unique<TestHaproxy>();
        QVERIFY2(m_haproxy->start(m_cluster->nodePorts()), m_haproxy->log().constData());

        // Readers first, one at a time through HAProxy: where reader 0 lands
        // is the node whose session count rose.
        for (int r = 0; r < kReaders; ++r) {
            const QList<double> before = sessionsPerNode();
            m_readers.push_back(
                std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("reader%1").arg(r))));
            QVERIFY(m_readers.back()->registerOn(front(), QStringLiteral("reader%1").arg(r)));
            m_readerIds << quint64(m_readers.back()->get()->userId());
            if (r == 0) {
                QVERIFY(TestClient::waitUntil(
                    [&] { return (m_readerZeroNode = nodeThatGainedASession(before)) >= 0; }));
            }
        }
        for (int s = 0; s < kSenders; ++s) {
            m_senders.push_back(std::make_unique<TestClient>());
            QVERIFY(
                m_senders.back()->connectAndRegister(front(), QStringLiteral("sender%1").arg(s)));
            m_senderTokens << m_senders.back()->token();
            m_chats << directConversationId(m_senders.back()->userId(),
                                            m_readerIds.at(s % kReaders));
            m_sent.append(QList<Outgoing>());
            m_unacked.append(QList<Outgoing>());
        }
        // HAProxy spread them: every node holds some of them.
        for (int i = 0; i < m_cluster->size(); ++i)
            QVERIFY(m_cluster->metric(i, QStringLiteral("kith_sessions_authenticated")) >= 1);
    }

    // While Redis is gone, sends are stored and acked as ever; the nodes say
    // the bus is down; once it is back they join again by themselves, and the
    // readers, who missed pushes from other nodes, converge.
    void redisKilledAndRestartedUnderLoad()
    {
        for (int i = 0; i < 4; ++i)
            requireAllAcked(round(), "before");
        QVERIFY(m_cluster->redis().kill9());
        QVERIFY(TestClient::waitUntil([&] {
            for (int i = 0; i < m_cluster->size(); ++i)
                if (!m_cluster->health(i).startsWith("degraded\n"))
                    return false;
            return true;
        }));
        for (int i = 0; i < 4; ++i)
            requireAllAcked(round(), "while Redis is down");
        QVERIFY(m_cluster->redis().start());
        QVERIFY2(m_cluster->waitReady(), qPrintable(m_cluster->busLog()));
        for (int i = 0; i < 4; ++i)
            requireAllAcked(round(), "after");
        for (int i = 0; i < m_cluster->size(); ++i)
            QVERIFY(m_cluster->metric(i, QStringLiteral("kith_bus_reconnects_total")) >= 1);
        verifyExactlyOnce();
        verifyReadersConverge();
    }

    // Sends while PostgreSQL is down are refused with UNAVAILABLE, on live
    // connections; the same sends after it is back are stored once.
    void postgresRestartedUnderLoad()
    {
        for (int i = 0; i < 2; ++i)
            requireAllAcked(round(), "before");
        QVERIFY(m_cluster->postgres().stop());
        const Round down = round();
        QVERIFY2(down.other.isEmpty(), qPrintable(down.other.join(u'\n')));
        QCOMPARE(down.lost, 0);
        QCOMPARE(down.acked, 0);
        QVERIFY(down.unavailable >= kSenders);
        QVERIFY(m_cluster->postgres().start());
        QVERIFY2(drain(), qPrintable(QStringLiteral("%1 sends never acked").arg(unackedCount())));
        for (int i = 0; i < 2; ++i)
            requireAllAcked(round(), "after");
        verifyExactlyOnce();
        verifyReadersConverge();
    }

    // Reader 0's node dies while sends are in flight: every sender on it
    // reconnects through HAProxy and sends again what was not acked; reader 0
    // is taken to a live node and catches up; the live nodes reap the dead one.
    void aNodeKilledUnderLoad()
    {
        for (int i = 0; i < 3; ++i)
            requireAllAcked(round(), "before");
        const auto reapedByLiveNodes = [&] {
            double reaped = 0;
            for (int i = 0; i < 3; ++i)
                if (i != m_readerZeroNode)
                    reaped += m_cluster->metric(i, QStringLiteral("kith_bus_reaped_total"));
            return reaped;
        };
        const double reapedBefore = reapedByLiveNodes();
        ClientDevice &readerZero = *m_readers.front();
        QSignalSpy readerZeroStates(readerZero.get(), &client::KithClient::connectionStateChanged);
        const Round killed = round(true, [&] { m_cluster->node(m_readerZeroNode).kill9(); });
        QVERIFY2(killed.other.isEmpty(), qPrintable(killed.other.join(u'\n')));
        QVERIFY2(killed.lost > 0, "no send was cut off with its node");
        for (int i = 0; i < 6; ++i) {
            const Round r = round();
            QVERIFY2(r.other.isEmpty(), qPrintable(r.other.join(u'\n')));
        }
        // Everyone is connected again, through HAProxy, to the two live nodes.
        for (int s = 0; s < kSenders; ++s)
            QVERIFY(m_senders[size_t(s)]->isConnected());
        // Reader 0 lost its connection with its node, and is online again.
        QVERIFY(
            TestClient::waitUntil([&] { return readerZeroStates.size() >= 2; }, kClientTimeoutMs));
        QVERIFY(TestClient::waitUntil([&] { return readerZero->isOnline(); }, kClientTimeoutMs));
        double live = 0;
        QVERIFY2(TestClient::waitUntil(
                     [&] {
                         live = 0;
                         for (int i = 0; i < 3; ++i)
                             if (i != m_readerZeroNode)
                                 live += m_cluster->metric(
                                     i, QStringLiteral("kith_sessions_authenticated"));
                         return live == kSenders + kReaders;
                     },
                     kClientTimeoutMs),
                 qPrintable(QString::number(live)));
        verifyExactlyOnce();
        verifyReadersConverge();
        // The dead node's place on the bus expired: a live node reaped it,
        // and each sees only the other.
        QVERIFY(TestClient::waitUntil([&] {
            for (int i = 0; i < 3; ++i)
                if (i != m_readerZeroNode &&
                    m_cluster->metric(i, QStringLiteral("kith_bus_nodes")) != 1)
                    return false;
            return reapedByLiveNodes() > reapedBefore;
        }));
    }
};

QTEST_GUILESS_MAIN(TestClusterFailover)
#include "tst_cluster_failover.moc"
