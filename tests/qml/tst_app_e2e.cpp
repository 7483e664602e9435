// End to end through the whole window: a real kithd, the app's Main.qml with
// the real client facade logged in as ann, and kith-cli as bob. A message
// from the command line must show up in the app's models, and a reply typed
// into the app's composer must reach the command line. A screenshot of the
// window is saved under the build folder for people to look at.

#include "kith/client/kith_client.h"
#include "kith/client/message_list_model.h"
#include "test_server.h"

#include <QAbstractItemModel>
#include <QApplication>
#include <QDir>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(Kith_ClientPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ThemePlugin)
Q_IMPORT_QML_PLUGIN(Kith_LoginPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ConversationsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ChatPlugin)
Q_IMPORT_QML_PLUGIN(Kith_GroupsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_SearchPlugin)
Q_IMPORT_QML_PLUGIN(Kith_SettingsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_AppPlugin)

using kith::client::KithClient;

namespace {
constexpr int kUiTimeoutMs = 30'000; // a loaded 2-core machine hashes passwords slowly
constexpr int kCliTimeoutMs = 60'000;
const QString kAnnPassword = QStringLiteral("ann's long password");
const QString kBobPassword = QStringLiteral("bob's long password");
const QString kCarolPassword = QStringLiteral("carol's long password");

// The first row of a model whose role `roleName` holds value, or -1.
int findRow(const QAbstractItemModel *model, const QByteArray &roleName, const QVariant &value)
{
    const int role = model->roleNames().key(roleName, -1);
    if (role < 0)
        return -1;
    for (int row = 0; row < model->rowCount(); ++row)
        if (model->data(model->index(row, 0), role) == value)
            return row;
    return -1;
}

QVariant roleValue(const QAbstractItemModel *model, int row, const QByteArray &roleName)
{
    return model->data(model->index(row, 0), model->roleNames().key(roleName, -1));
}
} // namespace

class AppEndToEnd : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase();
    void messagesFlowBothWays();
    void cleanupTestCase();

private:
    // Runs kith-cli as a user (each with a data folder of its own) and returns its stdout.
    QByteArray cli(const QString &user, const QString &password, const QStringList &args, bool *ok);
    QByteArray bob(const QStringList &args, bool *ok)
    {
        return cli(QStringLiteral("bob"), kBobPassword, args, ok);
    }
    QQuickItem *item(const char *objectName) const;

    QTemporaryDir m_home;
    kith::test::TestServer m_server;
    std::unique_ptr<QQmlApplicationEngine> m_engine;
    QQuickWindow *m_window = nullptr;
};

void AppEndToEnd::initTestCase()
{
    QVERIFY(m_home.isValid());
    // Everything the app and the command line keep goes to throw-away folders.
    qputenv("XDG_DATA_HOME", m_home.filePath(QStringLiteral("app-data")).toUtf8());
    qputenv("XDG_CONFIG_HOME", m_home.filePath(QStringLiteral("app-config")).toUtf8());
    QVERIFY(m_server.start());

    QCoreApplication::setOrganizationName(QStringLiteral("KithTest"));

    bool ok = false;
    bob({QStringLiteral("register"), QStringLiteral("bob"), kBobPassword}, &ok);
    QVERIFY(ok);
    cli(QStringLiteral("carol"), kCarolPassword,
        {QStringLiteral("register"), QStringLiteral("carol"), kCarolPassword}, &ok);
    QVERIFY(ok);
}

void AppEndToEnd::cleanupTestCase()
{
    m_engine.reset();
}

QByteArray AppEndToEnd::cli(const QString &user, const QString &password, const QStringList &args,
                            bool *ok)
{
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_home.filePath(QStringLiteral("cli-") + user));
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(KITH_CLI_PATH),
                  QStringList{QStringLiteral("--server"), m_server.url().toString(),
                              QStringLiteral("--user"), user, QStringLiteral("--password"),
                              password} +
                      args);
    const bool finished = process.waitForFinished(kCliTimeoutMs);
    if (!finished)
        process.kill();
    *ok = finished && process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
    if (!*ok)
        qWarning() << "kith-cli" << args << "failed:" << process.readAllStandardError();
    return process.readAllStandardOutput();
}

QQuickItem *AppEndToEnd::item(const char *objectName) const
{
    return m_window->findChild<QQuickItem *>(QLatin1String(objectName));
}

void AppEndToEnd::messagesFlowBothWays()
{
    // The app registers ann itself, from its command-line hook.
    m_engine = std::make_unique<QQmlApplicationEngine>();
    m_engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
    m_engine->setInitialProperties({
        {QStringLiteral("startServer"), m_server.url().toString()},
        {QStringLiteral("startUser"), QStringLiteral("ann")},
        {QStringLiteral("startPassword"), kAnnPassword},
        {QStringLiteral("startRegister"), true},
        {QStringLiteral("startTheme"), QStringLiteral("light")},
        {QStringLiteral("width"), 1000},
        {QStringLiteral("height"), 680},
    });
    m_engine->load(QUrl(QStringLiteral("qrc:/qt/qml/Kith/App/Main.qml")));
    QCOMPARE(m_engine->rootObjects().size(), 1);
    m_window = qobject_cast<QQuickWindow *>(m_engine->rootObjects().constFirst());
    QVERIFY(m_window);

    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    QVERIFY(client);
    QTRY_VERIFY_WITH_TIMEOUT(client->hasSession() && client->isOnline(), kUiTimeoutMs);
    QVERIFY(!item("loginPage")->isVisible());
    QVERIFY(item("conversationPane")->isVisible());

    // A group and another chat, so the list is not alone with bob.
    bool ok = false;
    bob({QStringLiteral("group"), QStringLiteral("create"), QStringLiteral("Release crew"),
         QStringLiteral("ann"), QStringLiteral("carol")},
        &ok);
    QVERIFY(ok);
    cli(QStringLiteral("carol"), kCarolPassword,
        {QStringLiteral("send"), QStringLiteral("ann"),
         QStringLiteral("Are we still on for the demo at three?")},
        &ok);
    QVERIFY(ok);

    // bob writes from the command line...
    const QString hello = QStringLiteral("Hi Ann, the build is green");
    bob({QStringLiteral("send"), QStringLiteral("ann"), hello}, &ok);
    QVERIFY(ok);

    // ...and the conversation list shows it, with one unread.
    QAbstractItemModel *conversations = client->conversations();
    QTRY_VERIFY_WITH_TIMEOUT(findRow(conversations, "lastMessage", hello) >= 0, kUiTimeoutMs);
    const int row = findRow(conversations, "lastMessage", hello);
    const QString conversationId = roleValue(conversations, row, "conversationId").toString();
    // The peer's name arrives from the server just after the message.
    QTRY_COMPARE_WITH_TIMEOUT(
        roleValue(conversations, findRow(conversations, "conversationId", conversationId), "title")
            .toString(),
        QStringLiteral("bob"), kUiTimeoutMs);
    QCOMPARE(roleValue(conversations, row, "unreadCount").toInt(), 1);

    // Opening it (as a click on the row would) fills the chat's message model.
    QVERIFY(
        QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, conversationId)));
    QQuickItem *chatView = item("chatView");
    QVERIFY(chatView && chatView->isVisible());
    auto *messages = chatView->property("messages").value<QAbstractItemModel *>();
    QVERIFY(messages);
    QTRY_VERIFY_WITH_TIMEOUT(findRow(messages, "text", hello) >= 0, kUiTimeoutMs);
    QCOMPARE(roleValue(messages, findRow(messages, "text", hello), "isOwn").toBool(), false);
    // The window is active and at the bottom: the message counts as read.
    m_window->requestActivate();
    QTRY_VERIFY(m_window->isActive());
    QTRY_COMPARE_WITH_TIMEOUT(roleValue(conversations,
                                        findRow(conversations, "conversationId", conversationId),
                                        "unreadCount")
                                  .toInt(),
                              0, kUiTimeoutMs);

    // ann types a reply into the composer and presses Enter.
    QQuickItem *input = item("composerInput");
    QVERIFY(input);
    input->forceActiveFocus();
    QTRY_VERIFY(input->hasActiveFocus());
    const QString reply = QStringLiteral("Thanks Bob, shipping it");
    for (const QChar c : reply)
        QTest::keyClick(m_window, c.toLatin1());
    QCOMPARE(input->property("text").toString(), reply);
    QTest::keyClick(m_window, Qt::Key_Return);
    QCOMPARE(input->property("text").toString(), QString());

    // The bubble is there at once, and becomes sent when the server acks it.
    QVERIFY(findRow(messages, "text", reply) >= 0);
    QTRY_VERIFY_WITH_TIMEOUT(
        roleValue(messages, findRow(messages, "text", reply), "sendStatus").toInt() >=
            int(kith::client::MessageListModel::Sent),
        kUiTimeoutMs);

    // bob's command line sees the reply in the history.
    QByteArray history;
    QTRY_VERIFY_WITH_TIMEOUT(
        (history = bob({QStringLiteral("history"), QStringLiteral("ann")}, &ok))
            .contains(reply.toUtf8()),
        kUiTimeoutMs);
    QVERIFY(history.contains(hello.toUtf8()));

    // Pictures of the window for people to look at: wide and light, then
    // phone-sized (the chat stacked over the list) and dark.
    QVERIFY(QDir().mkpath(QStringLiteral(KITH_ARTIFACT_DIR)));
    const QImage shot = m_window->grabWindow();
    QVERIFY(!shot.isNull());
    QVERIFY(shot.save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e.png")));

    QQuickItem *layout = item("adaptiveLayout");
    m_window->setWidth(400);
    QTRY_VERIFY(!layout->property("wide").toBool());
    QTRY_VERIFY(!layout->property("listVisible").toBool());
    QVERIFY(layout->property("chatVisible").toBool());
    m_window->setProperty("startTheme", QStringLiteral("dark"));
    QTRY_COMPARE(item("chatSlot")->x(), 0.0); // the slide-in has finished
    QVERIFY(
        m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-narrow-dark.png")));
    qInfo("screenshots in %s", KITH_ARTIFACT_DIR);
}

QTEST_MAIN(AppEndToEnd)

#include "tst_app_e2e.moc"
