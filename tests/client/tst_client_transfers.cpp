// The transfer queue against a real kithd: a file queued while the server is
// down survives a restart of the client and is sent once, with its message,
// when the server is back; the receiver's device fetches it byte-identical;
// a transfer that fails is marked failed with the reason, can be queued again,
// paused and cancelled.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/outbox.h"
#include "kith/client/transfer_queue.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "kith/sha256.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

class TestClientTransfers : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void queuedOfflineSurvivesRestartAndIsSentOnce()
    {
        TestServer server;
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.filePath(QStringLiteral("alice")));
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const QString direct = directConversationId(quint64(alice->userId()), bob.userId());
        bob.close();

        QByteArray bytes(600 * 1024 + 5, Qt::Uninitialized);
        for (qsizetype i = 0; i < bytes.size(); ++i)
            bytes[i] = char((i * 31) ^ (i >> 9));
        const QString path = dir.filePath(QStringLiteral("holiday.png"));
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QCOMPARE(file.write(bytes), bytes.size());
        }

        QVERIFY(server.terminate());
        QTRY_VERIFY_WITH_TIMEOUT(!alice->isOnline(), kClientTimeoutMs);
        const Result<qint64> id =
            alice->transfers()->sendFile(direct, path, QStringLiteral("the beach"));
        QVERIFY(id.ok());
        QCOMPARE(alice->store()->transfers().size(), 1);

        // The app stops and starts again while the server is still away.
        alice.restart();
        QVERIFY(alice->openAccount(server.url(), QStringLiteral("alice")));
        const QList<TransferEntry> kept = alice->store()->transfers();
        QCOMPARE(kept.size(), 1);
        QCOMPARE(kept.first().path, path);
        QCOMPARE(kept.first().conversationId, direct);

        QVERIFY(server.restart());
        alice->connection()->retryNow();
        QVERIFY(alice.waitSynced());
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->transfers().isEmpty() && alice->outbox()->isIdle(),
                                 kClientTimeoutMs);

        QVERIFY(bob.connectAndLogin(server.url(), QStringLiteral("bob")));
        const auto history = bob.pullAll(direct);
        QVERIFY(history);
        QList<v1::FileRef> files;
        for (const v1::Message &m : *history)
            if (m.content().has_file())
                files << m.content().file();
        QCOMPARE(files.size(), 1);
        const v1::FileRef &ref = files.first();
        QCOMPARE(ref.size(), quint64(bytes.size()));
        QCOMPARE(QByteArray::fromStdString(ref.sha256()), Sha256::of(bytes));
        QCOMPARE(ref.name(), "holiday.png");
        QCOMPARE(ref.caption(), "the beach");

        // Bob's device fetches it through its own queue.
        ClientDevice bobDevice(dir.filePath(QStringLiteral("bob")));
        QVERIFY(bobDevice.loginOn(server.url(), QStringLiteral("bob")));
        QSignalSpy done(bobDevice->transfers(), &TransferQueue::finished);
        const QString saved = dir.filePath(QStringLiteral("saved.png"));
        QVERIFY(bobDevice->transfers()->download(ref, saved).ok());
        QVERIFY(done.wait(kClientTimeoutMs));
        QFile copy(saved);
        QVERIFY(copy.open(QIODevice::ReadOnly));
        QVERIFY(copy.readAll() == bytes);
        QVERIFY(bobDevice->store()->transfers().isEmpty());
    }

    void failedIsMarkedAndCanBeRetriedPausedCancelled()
    {
        TestServer server;
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TransferQueue *queue = alice->transfers();

        // A file that is not there is refused at once.
        QVERIFY(
            !queue->sendFile(QStringLiteral("d:1:2"), dir.filePath(QStringLiteral("none"))).ok());

        // A file the server does not have (or this user may not see).
        v1::FileRef ref;
        ref.set_file_id(newFileId());
        ref.set_size(10);
        ref.set_sha256(std::string(32, 'x'));
        QSignalSpy failed(queue, &TransferQueue::failed);
        const Result<qint64> id = queue->download(ref, dir.filePath(QStringLiteral("out")));
        QVERIFY(id.ok());
        QVERIFY(failed.wait(kClientTimeoutMs));
        std::optional<TransferEntry> entry = alice->store()->transfer(*id);
        QVERIFY(entry);
        QCOMPARE(entry->state, TransferState::Failed);
        QVERIFY(!entry->lastError.isEmpty());
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("out"))));

        // Queued again, it runs again (and fails again).
        QVERIFY(queue->resume(*id).ok());
        QVERIFY(failed.wait(kClientTimeoutMs));
        QCOMPARE(failed.size(), 2);

        // Paused, it stays put; cancelled, it is gone.
        QVERIFY(queue->pause(*id).ok());
        QCOMPARE(alice->store()->transfer(*id)->state, TransferState::Paused);
        QVERIFY(!queue->isRunning(*id));
        QVERIFY(queue->cancel(*id).ok());
        QVERIFY(!alice->store()->transfer(*id));
    }
};

QTEST_GUILESS_MAIN(TestClientTransfers)
#include "tst_client_transfers.moc"
