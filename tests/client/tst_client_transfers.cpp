// The transfer queue against a real kithd: a file queued while the server is
// down survives a restart of the client and is sent once, with its message,
// when the server is back; the receiver's device fetches it byte-identical;
// a transfer that fails is marked failed with the reason, can be queued again,
// paused and cancelled; an image goes with the size and thumbnail the app's
// inspector read, the sender keeps a copy in its cache, and the receiver's
// message model fetches it into its own; a voice note goes marked so, with
// its length.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/client/outbox.h"
#include "kith/client/transfer_queue.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "kith/sha256.h"

#include <QAbstractItemModelTester>
#include <QScopeGuard>
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

    void voiceNoteGoesMarkedWithItsLength()
    {
        TestServer server;
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.filePath(QStringLiteral("alice")));
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const QString direct = directConversationId(quint64(alice->userId()), bob.userId());

        const QByteArray bytes(24 * 1024, 'v');
        const QString path = dir.filePath(QStringLiteral("voice.m4a"));
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QCOMPARE(file.write(bytes), bytes.size());
        }
        MessageListModel aliceView(alice.get(), direct);
        QVERIFY(alice->sendVoiceNote(direct, QUrl::fromLocalFile(path).toString(), 2345) > 0);
        // The pending row is a voice note from the start.
        QCOMPARE(aliceView.rowCount(), 1);
        QVERIFY(aliceView.index(0).data(MessageListModel::IsVoiceNoteRole).toBool());
        QCOMPARE(aliceView.index(0).data(MessageListModel::DurationMsRole).toInt(), 2345);
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->transfers().isEmpty() && alice->outbox()->isIdle(),
                                 kClientTimeoutMs);

        const auto history = bob.pullAll(direct);
        QVERIFY(history);
        QCOMPARE(history->size(), 1);
        QVERIFY(history->first().content().has_file());
        const v1::FileRef &ref = history->first().content().file();
        QVERIFY(ref.voice_note());
        QCOMPARE(ref.duration_ms(), 2345u);
        QCOMPARE(ref.size(), quint64(bytes.size()));
        QCOMPARE(ref.name(), "voice.m4a");

        // A plain file is not one; a length past a day is kept to a day.
        QVERIFY(alice->sendFile(direct, path) > 0);
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->transfers().isEmpty() && alice->outbox()->isIdle(),
                                 kClientTimeoutMs);
        QVERIFY(alice->sendVoiceNote(direct, path, qint64(1) << 40) > 0);
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->transfers().isEmpty() && alice->outbox()->isIdle(),
                                 kClientTimeoutMs);
        const auto more = bob.pullAll(direct);
        QVERIFY(more);
        QCOMPARE(more->size(), 3);
        QVERIFY(!(*more)[1].content().file().voice_note());
        QCOMPARE((*more)[1].content().file().duration_ms(), 0u);
        QVERIFY((*more)[2].content().file().voice_note());
        QCOMPARE((*more)[2].content().file().duration_ms(), 24u * 3600 * 1000);
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

    void imageGoesWithItsSizeAndThumbnailAndShowsOnBothSides()
    {
        // The library decodes no images: the app's inspector does (faked here).
        QStringList inspected;
        TransferQueue::setImageInspector(
            [&inspected](const QString &path, QSize &size, QByteArray &thumbnail) {
                inspected << path;
                if (!path.endsWith(QLatin1String(".png")))
                    return false;
                size = QSize(640, 480);
                thumbnail = QByteArrayLiteral("a small preview");
                return true;
            });
        const auto restore = qScopeGuard([] { TransferQueue::setImageInspector({}); });

        TestServer server;
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.filePath(QStringLiteral("alice")));
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        ClientDevice bob(dir.filePath(QStringLiteral("bob")));
        QVERIFY(bob.registerOn(server.url(), QStringLiteral("bob")));
        const QString direct =
            directConversationId(quint64(alice->userId()), quint64(bob->userId()));

        QByteArray bytes(200 * 1024, Qt::Uninitialized);
        for (qsizetype i = 0; i < bytes.size(); ++i)
            bytes[i] = char((i * 7) ^ (i >> 5));
        const QString path = dir.filePath(QStringLiteral("photo.png"));
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QCOMPARE(file.write(bytes), bytes.size());
        }

        MessageListModel aliceView(alice.get(), direct);
        QAbstractItemModelTester aliceTester(
            &aliceView, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const qint64 id =
            alice->sendFile(direct, QUrl::fromLocalFile(path).toString(), QStringLiteral("look"));
        QVERIFY(id > 0);
        QCOMPARE(inspected, QStringList{path});
        // The row is there at once, with what is known before the upload.
        QCOMPARE(aliceView.rowCount(), 1);
        const QModelIndex row = aliceView.index(0);
        QVERIFY(row.data(MessageListModel::IsFileRole).toBool());
        QCOMPARE(row.data(MessageListModel::CaptionRole).toString(), QStringLiteral("look"));
        QCOMPARE(row.data(MessageListModel::ImageWidthRole).toInt(), 640);
        QCOMPARE(row.data(MessageListModel::FileUrlRole).toUrl(), QUrl::fromLocalFile(path));
        QCOMPARE(row.data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Pending));

        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->transfers().isEmpty() && alice->outbox()->isIdle(),
                                 kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(aliceView.index(aliceView.rowCount() - 1)
                                      .data(MessageListModel::SendStatusRole)
                                      .toInt(),
                                  int(MessageListModel::Sent), kClientTimeoutMs);
        QCOMPARE(aliceView.rowCount(), 1);
        const auto sent = alice->store()->messagesBefore(direct, 0, 10);
        QCOMPARE(sent.size(), 1);
        const v1::FileRef ref = sent.first().content.file();
        QCOMPARE(ref.width(), 640u);
        QCOMPARE(ref.height(), 480u);
        QCOMPARE(ref.thumbnail(), "a small preview");
        QCOMPARE(ref.caption(), "look");
        // The sender's copy is where a download would go: shown without a fetch.
        const QString kept = alice->transfers()->cachedPath(ref);
        QVERIFY(!kept.isEmpty());
        QFile keptFile(kept);
        QVERIFY(keptFile.open(QIODevice::ReadOnly));
        QVERIFY(keptFile.readAll() == bytes);
        QCOMPARE(aliceView.index(0).data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Ready));
        QCOMPARE(aliceView.index(0).data(MessageListModel::FileUrlRole).toUrl(),
                 QUrl::fromLocalFile(kept));

        // Bob's view has the size and thumbnail first, then fetches the file.
        QVERIFY(bob.waitSynced());
        MessageListModel bobView(bob.get(), direct);
        QAbstractItemModelTester bobTester(&bobView,
                                           QAbstractItemModelTester::FailureReportingMode::QtTest);
        QTRY_COMPARE_WITH_TIMEOUT(bobView.rowCount(), 1, kClientTimeoutMs);
        const QModelIndex bobRow = bobView.index(0);
        QCOMPARE(bobRow.data(MessageListModel::ImageHeightRole).toInt(), 480);
        QCOMPARE(bobRow.data(MessageListModel::ThumbnailRole).toByteArray(),
                 QByteArrayLiteral("a small preview"));
        QCOMPARE(bobRow.data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Remote));
        QVERIFY(bobRow.data(MessageListModel::FileUrlRole).toUrl().isEmpty());
        QVERIFY(bobView.fetchFile(0));
        QTRY_COMPARE_WITH_TIMEOUT(bobView.index(0).data(MessageListModel::FileStateRole).toInt(),
                                  int(MessageListModel::Ready), kClientTimeoutMs);
        const QUrl fetched = bobView.index(0).data(MessageListModel::FileUrlRole).toUrl();
        QCOMPARE(fetched, QUrl::fromLocalFile(bob->transfers()->cachedPath(ref)));
        QFile fetchedFile(fetched.toLocalFile());
        QVERIFY(fetchedFile.open(QIODevice::ReadOnly));
        QVERIFY(fetchedFile.readAll() == bytes);
        QCOMPARE(bobView.index(0).data(MessageListModel::FileProgressRole).toReal(), 1.0);
        // Nothing more to fetch.
        QVERIFY(bob->store()->transfers().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestClientTransfers)
#include "tst_client_transfers.moc"
