// The client's local store on a full disk (SQLite told SQLITE_FULL by
// FaultVfs): an ack that cannot be stored leaves its message pending in the
// outbox, nothing is sent again and again meanwhile, the client says why in
// storageError, and once there is room the message is stored once, with the
// seq the server gave it.
#include "client_fixture.h"
#include "fault_vfs.h"
#include "test_server.h"

#include "kith/client/local_store.h"
#include "kith/client/outbox.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {
QStringList bodies(const QList<v1::Message> &messages)
{
    QStringList out;
    for (const auto &m : messages)
        out << toQString(m.content().text().body());
    return out;
}
} // namespace

class TestClientDiskFull : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        FaultVfs::install(); // before any SQLite file is opened
    }

    void cleanup() { FaultVfs::install().setDiskFull(false); }

    void fullDiskKeepsTheOutboxAndSaysSo()
    {
        FaultVfs &vfs = FaultVfs::install();
        // A budget no resend loop could use up while the test watches for one.
        TestServer server(kFastSendArgs);
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const QString direct = directConversationId(quint64(alice->userId()), bob.userId());
        LocalStore *store = alice->store();
        QSignalSpy storageChanges(alice.get(), &KithClient::storageErrorChanged);

        QVERIFY(!alice->sendMessage(direct, QStringLiteral("before")).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(store->outbox().isEmpty(), kClientTimeoutMs);
        QVERIFY(alice->storageError().isEmpty());

        // Sent while there is room; the disk fills before the ack is read.
        const QString id = alice->sendMessage(direct, QStringLiteral("during"));
        QVERIFY(!id.isEmpty());
        QVERIFY(alice->outbox()->isSending());
        vfs.setDiskFull(true);
        QTRY_VERIFY_WITH_TIMEOUT(!alice->storageError().isEmpty(), kClientTimeoutMs);
        QVERIFY2(alice->storageError().contains(QStringLiteral("disk is full")),
                 qPrintable(alice->storageError()));
        QCOMPARE(storageChanges.count(), 1);
        // The outbox settles: nothing goes out again until the disk has room.
        QTRY_VERIFY_WITH_TIMEOUT(!alice->outbox()->isSending(), kClientTimeoutMs);
        const auto kept = store->outbox(direct);
        QCOMPARE(kept.size(), 1);
        QCOMPARE(kept.first().clientMsgId, id);
        QCOMPARE(kept.first().status, OutboxStatus::Pending);
        QCOMPARE(toQString(kept.first().content.text().body()), QStringLiteral("during"));
        QVERIFY(!store->message(direct, 2)); // acked, but not stored yet

        // A new message cannot even be written down: refused, with the reason.
        QSignalSpy failures(alice.get(), &KithClient::operationFailed);
        QVERIFY(alice->sendMessage(direct, QStringLiteral("refused")).isEmpty());
        QCOMPARE(failures.count(), 1);
        QCOMPARE(failures.first().first().toString(), alice->storageError());
        QCOMPARE(store->outbox(direct).size(), 1);

        // Room again, and the user asks to try again: the message goes out
        // with its id, the server's first ack comes back and is stored.
        vfs.setDiskFull(false);
        alice->retryStorage();
        QVERIFY(alice->storageError().isEmpty());
        QCOMPARE(storageChanges.count(), 2);
        QTRY_VERIFY_WITH_TIMEOUT(store->outbox().isEmpty(), kClientTimeoutMs);
        const auto stored = store->message(direct, 2);
        QVERIFY(stored);
        QCOMPARE(stored->clientMsgId, id);
        QCOMPARE(stored->text(), QStringLiteral("during"));
        const auto history = bob.pullAll(direct);
        QVERIFY(history);
        QCOMPARE(bodies(*history),
                 (QStringList{QStringLiteral("before"), QStringLiteral("during")}));

        // Without being asked, the client finds out by itself that there is
        // room again, a few seconds later.
        vfs.setDiskFull(true);
        QVERIFY(alice->sendMessage(direct, QStringLiteral("refused too")).isEmpty());
        QVERIFY(!alice->storageError().isEmpty());
        vfs.setDiskFull(false);
        QTRY_VERIFY_WITH_TIMEOUT(alice->storageError().isEmpty(),
                                 LocalStore::kStorageProbeMs + kClientTimeoutMs);
        QVERIFY(!alice->sendMessage(direct, QStringLiteral("after")).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(store->outbox().isEmpty(), kClientTimeoutMs);
        QCOMPARE(store->message(direct, 3)->text(), QStringLiteral("after"));
    }
};

QTEST_GUILESS_MAIN(TestClientDiskFull)
#include "tst_client_disk_full.moc"
