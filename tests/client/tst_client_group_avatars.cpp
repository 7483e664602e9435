// Group pictures end to end against a real kithd: alice, the group's owner,
// sets its picture from an image file (made a 256 px square, uploaded, set);
// bob, a member, learns of it from the group's event, fetches the file into
// his cache and shows it as a local file URL in his conversation list; the
// colour follows, a new picture is fetched again under its new id, a removed
// one is no longer shown, and bob (a plain member) may not change it. A
// device that signs in afterwards has it from its first sync.

#include "client_fixture.h"
#include "test_server.h"

#include "image_reading.h"
#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/transfer_queue.h"
#include "kith/protocol.h"

#include <QFile>
#include <QImage>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {
QString makeImage(const QString &path, int width, int height, QColor colour)
{
    QImage image(width, height, QImage::Format_RGB32);
    image.fill(colour);
    return image.save(path) ? path : QString();
}

QUrl rowAvatar(ConversationListModel *list, const QString &conversationId)
{
    const int row = list->indexOf(conversationId);
    if (row < 0)
        return {};
    return list->data(list->index(row, 0), ConversationListModel::AvatarUrlRole).toUrl();
}

int rowColor(ConversationListModel *list, const QString &conversationId)
{
    const int row = list->indexOf(conversationId);
    return row < 0
               ? -1
               : list->data(list->index(row, 0), ConversationListModel::AvatarColorRole).toInt();
}

QByteArray bytesOf(const QUrl &url)
{
    QFile file(url.toLocalFile());
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}
} // namespace

class TestClientGroupAvatars : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    std::unique_ptr<ClientDevice> m_alice;
    std::unique_ptr<ClientDevice> m_bob;
    QString m_group;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        KithClient::setAvatarEncoder(&images::avatarImage);
        m_server = std::make_unique<TestServer>();
        QVERIFY(m_server->start());
        m_alice = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("alice")));
        QVERIFY(m_alice->registerOn(m_server->url(), QStringLiteral("alice")));
        m_bob = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("bob")));
        QVERIFY(m_bob->registerOn(m_server->url(), QStringLiteral("bob")));
        QVERIFY(m_alice->waitSynced() && m_bob->waitSynced());
        QVERIFY((*m_alice)->groupAvatarsSupported());
        std::optional<Result<QString>> created;
        (*m_alice)->createGroup(QStringLiteral("crew"), {quint64((*m_bob)->userId())},
                                [&created](Result<QString> id) { created = id; });
        QTRY_VERIFY_WITH_TIMEOUT(created.has_value(), kClientTimeoutMs);
        QVERIFY(created->ok());
        m_group = **created;
        QTRY_VERIFY_WITH_TIMEOUT((*m_bob)->conversations()->indexOf(m_group) >= 0,
                                 kClientTimeoutMs);
        QVERIFY(rowAvatar((*m_bob)->conversations(), m_group).isEmpty());
        QCOMPARE(rowColor((*m_bob)->conversations(), m_group), 0);
    }

    void cleanupTestCase()
    {
        m_bob.reset();
        m_alice.reset();
        m_server.reset();
        KithClient::setAvatarEncoder({});
    }

    void aPictureReachesTheMembers()
    {
        const QString source =
            makeImage(m_dir.filePath(QStringLiteral("wide.png")), 900, 300, Qt::darkCyan);
        QVERIFY(!source.isEmpty());
        QSignalSpy failed(m_alice->get(), &KithClient::operationFailed);
        QSignalSpy set(m_alice->get(), &KithClient::groupAvatarSet);
        (*m_alice)->setGroupPicture(m_group, QUrl::fromLocalFile(source).toString());
        QTRY_VERIFY_WITH_TIMEOUT(!set.isEmpty() || !failed.isEmpty(), kClientTimeoutMs);
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        QCOMPARE(set.first().first().toString(), m_group);
        // Alice's own list: kept in her cache when sent, no fetch.
        QTRY_VERIFY_WITH_TIMEOUT(!rowAvatar((*m_alice)->conversations(), m_group).isEmpty(),
                                 kClientTimeoutMs);
        const QUrl own = rowAvatar((*m_alice)->conversations(), m_group);
        QVERIFY(own.isLocalFile());
        QCOMPARE(QImage(own.toLocalFile()).size(), QSize(256, 256));
        QCOMPARE((*m_alice)->groupAvatarUrl(m_group), own);

        // bob: the group's event tells his store, his list asks, the file
        // comes into his cache: the same bytes.
        QTRY_VERIFY_WITH_TIMEOUT(!rowAvatar((*m_bob)->conversations(), m_group).isEmpty(),
                                 kClientTimeoutMs);
        const QUrl seenByBob = rowAvatar((*m_bob)->conversations(), m_group);
        QVERIFY(seenByBob.isLocalFile());
        QVERIFY(seenByBob.toLocalFile().startsWith((*m_bob)->transfers()->cacheDirectory()));
        QCOMPARE(bytesOf(seenByBob), bytesOf(own));
        QCOMPARE((*m_bob)->groupAvatarUrl(m_group), seenByBob);
    }

    void theColourFollows()
    {
        (*m_alice)->setGroupColor(m_group, 9);
        QTRY_COMPARE_WITH_TIMEOUT(rowColor((*m_bob)->conversations(), m_group), 9,
                                  kClientTimeoutMs);
        QCOMPARE((*m_bob)->groupAvatarColor(m_group), 9);
        // The picture stays as it was.
        QVERIFY(!rowAvatar((*m_bob)->conversations(), m_group).isEmpty());
        QSignalSpy failed(m_alice->get(), &KithClient::operationFailed);
        (*m_alice)->setGroupColor(m_group, int(kMaxAvatarColor) + 1);
        QCOMPARE(failed.size(), 1);
    }

    // bob is a plain member: the server refuses, nothing changes.
    void aPlainMemberMayNotChangeIt()
    {
        QSignalSpy failed(m_bob->get(), &KithClient::operationFailed);
        (*m_bob)->setGroupColor(m_group, 2);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kClientTimeoutMs);
        (*m_bob)->removeGroupPicture(m_group);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 2, kClientTimeoutMs);
        QCOMPARE(rowColor((*m_alice)->conversations(), m_group), 9);
        QVERIFY(!rowAvatar((*m_alice)->conversations(), m_group).isEmpty());
    }

    void aNewPictureIsFetchedAgainAndARemovedOneGoes()
    {
        const QUrl before = rowAvatar((*m_bob)->conversations(), m_group);
        QVERIFY(!before.isEmpty());
        const QString source =
            makeImage(m_dir.filePath(QStringLiteral("tall.png")), 200, 500, Qt::darkMagenta);
        (*m_alice)->setGroupPicture(m_group, source);
        QTRY_VERIFY_WITH_TIMEOUT(!rowAvatar((*m_bob)->conversations(), m_group).isEmpty() &&
                                     rowAvatar((*m_bob)->conversations(), m_group) != before,
                                 kClientTimeoutMs);
        const QUrl after = rowAvatar((*m_bob)->conversations(), m_group);
        const QImage picture(after.toLocalFile());
        QCOMPARE(picture.size(), QSize(256, 256));
        QCOMPARE(QColor(picture.pixel(128, 128)), QColor(Qt::darkMagenta));
        QVERIFY(bytesOf(after) != bytesOf(before));
        // The colour was kept with the new picture.
        QCOMPARE(rowColor((*m_bob)->conversations(), m_group), 9);

        // A device that signs in now has both from its first sync.
        ClientDevice bobsLaptop(m_dir.filePath(QStringLiteral("bob-laptop")));
        QVERIFY(bobsLaptop.loginOn(m_server->url(), QStringLiteral("bob")));
        QVERIFY(bobsLaptop.waitSynced());
        QTRY_VERIFY_WITH_TIMEOUT(!rowAvatar(bobsLaptop->conversations(), m_group).isEmpty(),
                                 kClientTimeoutMs);
        QCOMPARE(bytesOf(rowAvatar(bobsLaptop->conversations(), m_group)), bytesOf(after));
        QCOMPARE(rowColor(bobsLaptop->conversations(), m_group), 9);

        (*m_alice)->removeGroupPicture(m_group);
        QTRY_VERIFY_WITH_TIMEOUT(rowAvatar((*m_bob)->conversations(), m_group).isEmpty(),
                                 kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(rowAvatar(bobsLaptop->conversations(), m_group).isEmpty(),
                                 kClientTimeoutMs);
        QVERIFY(rowAvatar((*m_alice)->conversations(), m_group).isEmpty());
        QCOMPARE(rowColor((*m_bob)->conversations(), m_group), 9);
    }

    void aFileThatIsNotAnImageIsRefusedHere()
    {
        const QString text = m_dir.filePath(QStringLiteral("notes.txt"));
        QFile file(text);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("not a picture");
        file.close();
        QSignalSpy failed(m_alice->get(), &KithClient::operationFailed);
        (*m_alice)->setGroupPicture(m_group, text);
        QCOMPARE(failed.size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestClientGroupAvatars)
#include "tst_client_group_avatars.moc"
