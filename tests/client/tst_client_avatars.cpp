// Profile pictures end to end against a real kithd: one device of alice sets
// a picture from an image file (made a 256 px square, uploaded, set); her
// other device and bob, who shares a chat with her, learn of it through the
// profile push, fetch the file into their caches and show it as a local file
// URL in their models; a new picture is fetched again under its new id, the
// colour follows, and a removed picture is no longer shown.

#include "client_fixture.h"
#include "test_server.h"

#include "image_reading.h"
#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/transfer_queue.h"
#include "kith/conversation_id.h"
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
// A picture that is not square, so the crop shows: red on the left third,
// blue in the middle, green on the right.
QString makeImage(const QString &path, int width, int height)
{
    QImage image(width, height, QImage::Format_RGB32);
    image.fill(Qt::blue);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            if (x < width / 3)
                image.setPixel(x, y, qRgb(255, 0, 0));
            else if (x >= 2 * width / 3)
                image.setPixel(x, y, qRgb(0, 255, 0));
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

class TestClientAvatars : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    std::unique_ptr<ClientDevice> m_laptop;
    std::unique_ptr<ClientDevice> m_phone;
    std::unique_ptr<ClientDevice> m_bob;
    QString m_direct;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        KithClient::setAvatarEncoder(&images::avatarImage);
        m_server = std::make_unique<TestServer>();
        QVERIFY(m_server->start());
        m_laptop = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("laptop")));
        QVERIFY(m_laptop->registerOn(m_server->url(), QStringLiteral("alice")));
        m_phone = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("phone")));
        QVERIFY(m_phone->loginOn(m_server->url(), QStringLiteral("alice")));
        m_bob = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("bob")));
        QVERIFY(m_bob->registerOn(m_server->url(), QStringLiteral("bob")));
        QVERIFY(m_laptop->waitSynced() && m_phone->waitSynced() && m_bob->waitSynced());
        QVERIFY((*m_laptop)->avatarsSupported());
        m_direct =
            directConversationId(quint64((*m_laptop)->userId()), quint64((*m_bob)->userId()));
        // A chat between them: bob's list has alice's row.
        QVERIFY(!(*m_laptop)->sendMessage(m_direct, QStringLiteral("hello")).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT((*m_bob)->conversations()->indexOf(m_direct) >= 0,
                                 kClientTimeoutMs);
        QVERIFY(rowAvatar((*m_bob)->conversations(), m_direct).isEmpty());
    }

    void cleanupTestCase()
    {
        m_bob.reset();
        m_phone.reset();
        m_laptop.reset();
        m_server.reset();
        KithClient::setAvatarEncoder({});
    }

    void aPictureReachesTheOtherDeviceAndContacts()
    {
        const QString source = makeImage(m_dir.filePath(QStringLiteral("wide.png")), 900, 300);
        QVERIFY(!source.isEmpty());
        QSignalSpy failed(m_laptop->get(), &KithClient::operationFailed);
        (*m_laptop)->setAvatarPicture(QUrl::fromLocalFile(source).toString());
        // Kept in the laptop's cache at once: no fetch of its own picture.
        QTRY_VERIFY_WITH_TIMEOUT(!(*m_laptop)->ownAvatarUrl().isEmpty() || !failed.isEmpty(),
                                 kClientTimeoutMs);
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        const QUrl own = (*m_laptop)->ownAvatarUrl();
        QVERIFY(own.isLocalFile());
        // The centred square, 256 px a side: the middle (blue) third of the wide image.
        const QImage made(own.toLocalFile());
        QCOMPARE(made.size(), QSize(256, 256));
        QCOMPARE(QColor(made.pixel(128, 128)), QColor(Qt::blue));
        QCOMPARE(QColor(made.pixel(2, 128)), QColor(Qt::blue));

        // bob: the push tells his store, his list asks, the file comes into his cache.
        QTRY_VERIFY_WITH_TIMEOUT(!rowAvatar((*m_bob)->conversations(), m_direct).isEmpty(),
                                 kClientTimeoutMs);
        const QUrl seenByBob = rowAvatar((*m_bob)->conversations(), m_direct);
        QVERIFY(seenByBob.isLocalFile());
        QVERIFY(seenByBob.toLocalFile().startsWith((*m_bob)->transfers()->cacheDirectory()));
        QCOMPARE(bytesOf(seenByBob), bytesOf(own));
        QCOMPARE((*m_bob)->avatarUrl((*m_laptop)->userId()), seenByBob);

        // alice's phone: her own picture, fetched.
        QTRY_VERIFY_WITH_TIMEOUT(!(*m_phone)->ownAvatarUrl().isEmpty(), kClientTimeoutMs);
        QCOMPARE(bytesOf((*m_phone)->ownAvatarUrl()), bytesOf(own));
    }

    void theColourFollows()
    {
        (*m_phone)->setAvatarColor(5);
        QTRY_COMPARE_WITH_TIMEOUT((*m_laptop)->ownAvatarColor(), 5, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(rowColor((*m_bob)->conversations(), m_direct), 5,
                                  kClientTimeoutMs);
        // The picture stays as it was.
        QVERIFY(!(*m_laptop)->ownAvatarUrl().isEmpty());
        QSignalSpy failed(m_phone->get(), &KithClient::operationFailed);
        (*m_phone)->setAvatarColor(int(kMaxAvatarColor) + 1);
        QCOMPARE(failed.size(), 1);
    }

    void aNewPictureIsFetchedAgainAndARemovedOneGoes()
    {
        const QUrl before = rowAvatar((*m_bob)->conversations(), m_direct);
        QVERIFY(!before.isEmpty());
        const QString source = makeImage(m_dir.filePath(QStringLiteral("tall.png")), 200, 500);
        (*m_phone)->setAvatarPicture(source);
        QTRY_VERIFY_WITH_TIMEOUT(!rowAvatar((*m_bob)->conversations(), m_direct).isEmpty() &&
                                     rowAvatar((*m_bob)->conversations(), m_direct) != before,
                                 kClientTimeoutMs);
        const QUrl after = rowAvatar((*m_bob)->conversations(), m_direct);
        QCOMPARE(QImage(after.toLocalFile()).size(), QSize(256, 256));
        QVERIFY(bytesOf(after) != bytesOf(before));
        QTRY_COMPARE_WITH_TIMEOUT((*m_laptop)->ownAvatarUrl().fileName(), after.fileName(),
                                  kClientTimeoutMs);
        // The colour was kept with the new picture.
        QCOMPARE(rowColor((*m_bob)->conversations(), m_direct), 5);

        // The people bob knows (the "new chat" list) show it too, and follow a change.
        UserSearchModel *people = (*m_bob)->userSearch();
        people->setQuery(QString());
        const auto aliceInPeople = [&]() -> QUrl {
            for (int i = 0; i < people->rowCount(); ++i) {
                const QModelIndex at = people->index(i, 0);
                if (people->data(at, UserSearchModel::UserIdRole).toLongLong() ==
                    (*m_laptop)->userId())
                    return people->data(at, UserSearchModel::AvatarUrlRole).toUrl();
            }
            return {};
        };
        QTRY_COMPARE_WITH_TIMEOUT(aliceInPeople(), after, kClientTimeoutMs);

        (*m_laptop)->removeAvatarPicture();
        QTRY_VERIFY_WITH_TIMEOUT(rowAvatar((*m_bob)->conversations(), m_direct).isEmpty(),
                                 kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(aliceInPeople().isEmpty(), kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT((*m_phone)->ownAvatarUrl().isEmpty(), kClientTimeoutMs);
        QCOMPARE(rowColor((*m_bob)->conversations(), m_direct), 5);
    }

    void aFileThatIsNotAnImageIsRefusedHere()
    {
        const QString text = m_dir.filePath(QStringLiteral("notes.txt"));
        QFile file(text);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("not a picture");
        file.close();
        QSignalSpy failed(m_laptop->get(), &KithClient::operationFailed);
        (*m_laptop)->setAvatarPicture(text);
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.at(0).at(0).toString().contains(QLatin1String("not an image")));
        // Nothing chosen: said as such, not as a file that cannot be read.
        (*m_laptop)->setAvatarPicture(QString());
        QCOMPARE(failed.size(), 2);
        QCOMPARE(failed.at(1).at(0).toString(), QStringLiteral("No picture was chosen"));
    }
};

QTEST_GUILESS_MAIN(TestClientAvatars)
#include "tst_client_avatars.moc"
