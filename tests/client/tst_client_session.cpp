// The session token outside the store: the file fallback of TokenVault (the
// keychain is switched off, as on a headless machine), its migration out of
// an older store's sync_state, and its removal on logout.
#include "kith/client/kith_client.h"
#include "kith/client/local_store.h"
#include "kith/client/token_vault.h"

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace kith::client;

namespace {
// Nothing listens there: the client keeps retrying in the background.
const QUrl kServer(QStringLiteral("ws://127.0.0.1:9/"));

bool ownerOnly(const QString &path)
{
    const auto permissions = QFile(path).permissions();
    constexpr auto others = QFileDevice::ReadGroup | QFileDevice::WriteGroup |
                            QFileDevice::ReadOther | QFileDevice::WriteOther;
    return permissions.testFlags(QFileDevice::ReadOwner | QFileDevice::WriteOwner) &&
           !(permissions & others);
}

QString readBack(TokenVault &vault)
{
    QString result;
    bool answered = false;
    vault.read([&](const QString &token) {
        result = token;
        answered = true;
    });
    return answered ? result : QStringLiteral("<no answer>");
}
} // namespace

class TestClientSession : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;

    [[nodiscard]] QString storePath() const
    {
        return m_dir.filePath(QStringLiteral("myself.sqlite"));
    }
    [[nodiscard]] QString tokenPath() const
    {
        return m_dir.filePath(QStringLiteral("myself.token"));
    }

private slots:
    void init()
    {
        QFile::remove(storePath());
        QFile::remove(tokenPath());
    }

    void fileFallbackIsOwnerOnlyAndSurvivesARestart()
    {
        {
            TokenVault vault(false);
            vault.setAccount(QStringLiteral("myself"), tokenPath());
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression("system keychain not available"));
            vault.write(QStringLiteral("secret-1"));
            QVERIFY(ownerOnly(tokenPath()));
        }
        TokenVault restarted(false);
        restarted.setAccount(QStringLiteral("myself"), tokenPath());
        QCOMPARE(readBack(restarted), QStringLiteral("secret-1"));
        restarted.remove();
        QVERIFY(!QFile::exists(tokenPath()));
        QCOMPARE(readBack(restarted), QString());
    }

    void tokenMovesOutOfAnOlderStore()
    {
        {
            LocalStore seed;
            QVERIFY(seed.open(storePath()));
            QVERIFY(
                seed.setValue(QString::fromLatin1(LocalStore::kKeyUserId), QStringLiteral("7")));
            QVERIFY(seed.setValue(QString::fromLatin1(LocalStore::kKeyLegacyToken),
                                  QStringLiteral("old-token")));
        }
        qputenv("KITH_NO_KEYCHAIN", "1");
        {
            KithClient client;
            client.setDataDirectory(m_dir.path());
            client.setStorePathOverride(storePath());
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression("system keychain not available"));
            QVERIFY(client.openAccount(kServer, QStringLiteral("myself")));
            QVERIFY(client.hasSession());
            QVERIFY(
                client.store()->value(QString::fromLatin1(LocalStore::kKeyLegacyToken)).isEmpty());
            QVERIFY(ownerOnly(tokenPath()));
        }
        // The next start finds the session in the vault alone.
        KithClient again;
        again.setDataDirectory(m_dir.path());
        again.setStorePathOverride(storePath());
        QVERIFY(again.openAccount(kServer, QStringLiteral("myself")));
        QVERIFY(again.hasSession());
        QCOMPARE(readBack(*again.tokenVault()), QStringLiteral("old-token"));

        QSignalSpy loggedOut(&again, &KithClient::loggedOut);
        again.logout();
        QCOMPARE(loggedOut.size(), 1);
        QVERIFY(!again.hasSession());
        QVERIFY(!QFile::exists(tokenPath()));
    }

    void noStoredSessionIsReported()
    {
        KithClient client;
        client.setDataDirectory(m_dir.path());
        client.setStorePathOverride(storePath());
        QSignalSpy failed(&client, &KithClient::operationFailed);
        QVERIFY(client.openAccount(kServer, QStringLiteral("myself")));
        QCOMPARE(failed.size(), 1);
        QVERIFY(!client.hasSession());
    }
};

QTEST_GUILESS_MAIN(TestClientSession)
#include "tst_client_session.moc"
