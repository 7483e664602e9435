// End to end through the whole window: a real kithd, the app's Main.qml with
// the real client facade logged in as ann, and kith-cli as bob. A message
// from the command line must show up in the app's models, and a reply typed
// into the app's composer must reach the command line. Then what a reader
// does with a long history (wheel back through it, search it), the desktop
// notifications (through a notification service on a session bus of the
// test's own, a real D-Bus peer), and "Retry now" while the server is away.
// Screenshots of the window are saved under the build folder for people to
// look at.

#include "kith/client/conversation_list_model.h"
#include "kith/client/kith_client.h"
#include "kith/client/message_list_model.h"
#include "kith/client/transfer_queue.h"
#include "kith/fingerprint.h"
#include "media.h"
#include "message_text.h"
#include "test_client.h"
#include "test_server.h"

#include <QAbstractItemModel>
#include <QApplication>
#include <QDBusConnection>
#include <QDBusMessage>
#include <QDBusMetaType>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>
#include <QLinearGradient>
#include <QMimeData>
#include <QPainter>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QSslCertificate>
#include <QTemporaryDir>
#include <QTest>
#include <QWheelEvent>
#include <QtQml/qqmlextensionplugin.h>

#include <algorithm>

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

// The conversation id of the chat titled title in the app's list.
QString chatWith(KithClient *client, const QString &title)
{
    const int row = findRow(client->conversations(), "title", title);
    return row < 0 ? QString()
                   : roleValue(client->conversations(), row, "conversationId").toString();
}
} // namespace

// A desktop's notification service as the specification describes it,
// serving on the test's own session bus: it records what the app sends and
// can click a notification (ActionInvoked) or answer in it
// (NotificationReplied) as a person would.
class FakeNotifications : public QObject
{
    Q_OBJECT
    Q_CLASSINFO("D-Bus Interface", "org.freedesktop.Notifications")
public:
    struct Shown
    {
        uint id = 0;
        uint replaces = 0;
        QString summary;
        QString body;
        QStringList actions;
        QVariantMap hints;
    };
    QList<Shown> shown;
    QList<uint> closed;
    uint nextId = 1;
    QDBusConnection bus{QString()};

    void click(uint id)
    {
        bus.send(QDBusMessage::createSignal(QStringLiteral("/org/freedesktop/Notifications"),
                                            QStringLiteral("org.freedesktop.Notifications"),
                                            QStringLiteral("ActionInvoked"))
                 << id << QStringLiteral("default"));
    }
    void reply(uint id, const QString &text)
    {
        bus.send(QDBusMessage::createSignal(QStringLiteral("/org/freedesktop/Notifications"),
                                            QStringLiteral("org.freedesktop.Notifications"),
                                            QStringLiteral("NotificationReplied"))
                 << id << text);
    }

public slots:
    QStringList GetCapabilities()
    {
        return {QStringLiteral("actions"), QStringLiteral("body"), QStringLiteral("inline-reply")};
    }
    uint Notify(const QString &, uint replacesId, const QString &, const QString &summary,
                const QString &body, const QStringList &actions, const QVariantMap &hints, int)
    {
        const uint id = replacesId != 0 ? replacesId : nextId++;
        shown << Shown{id, replacesId, summary, body, actions, hints};
        return id;
    }
    void CloseNotification(uint id) { closed << id; }
    QString GetServerInformation(QString &vendor, QString &version, QString &specVersion)
    {
        vendor = QStringLiteral("test");
        version = QStringLiteral("1");
        specVersion = QStringLiteral("1.2");
        return QStringLiteral("fake");
    }
};

class AppEndToEnd : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase();
    void messagesFlowBothWays();
    void groupPictureShowsInTheListHeaderAndDetails();
    void filesGoBothWaysByteIdentical();
    void notificationsGoThroughTheDesktopService();
    void longHistoryScrollsBackAndHoldsItsPlace();
    void searchHitOpensItsChatOnTheHit();
    void editReactAndDeleteFromTheBubbleReachTheCommandLine();
    void chatStateFromTheChatMenuAndTheBubble();
    void profilePictureFromTheSettingsPage();
    void retryNowReconnectsAtOnce();
    void trustPromptForAServerOfItsOwn();
    void cleanupTestCase();

private:
    // Runs kith-cli as a user (each with a data folder of its own) and returns its stdout.
    QByteArray cli(const QString &user, const QString &password, const QStringList &args, bool *ok);
    QByteArray bob(const QStringList &args, bool *ok)
    {
        return cli(QStringLiteral("bob"), kBobPassword, args, ok);
    }
    QQuickItem *item(const char *objectName) const;
    KithClient *client() const
    {
        return m_engine->singletonInstance<KithClient *>(
            qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    }
    // A click in the middle of an item, as a person would.
    void click(QQuickItem *target);
    // Opens the menu (a button's, by the menu's objectName) or takes the one
    // given, and triggers its row named action as a click on it would.
    bool trigger(QObject *menu, const char *action);
    // The bubble of a seq in the open chat, once it is laid out.
    QQuickItem *bubble(qint64 seq);
    // Sends text from the app's composer (typed, then Enter).
    void typeAndSend(const QString &text);

    // Wheel notches over the chat, as a mouse sends them.
    void wheelUp(QQuickItem *over, int notches);
    bool startSessionBus();

    QTemporaryDir m_home;
    QProcess m_bus;
    FakeNotifications m_notifications;
    bool m_haveBus = false;
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
    // Before anything in this process opens the session bus.
    m_haveBus = startSessionBus();

    QCoreApplication::setOrganizationName(QStringLiteral("KithTest"));
    // As main() does.
    QImageReader::setAllocationLimit(kith::app::kImageAllocationLimitMiB);
    kith::app::MessageText::preferColourEmoji();
    kith::client::TransferQueue::setImageInspector(&kith::app::inspectImage);
    kith::client::KithClient::setAvatarEncoder(&kith::app::avatarImage);

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
    if (m_bus.state() != QProcess::NotRunning) {
        m_bus.kill();
        m_bus.waitForFinished();
    }
}

bool AppEndToEnd::startSessionBus()
{
    if (!QFileInfo::exists(QStringLiteral("/usr/bin/dbus-daemon")))
        return false;
    m_bus.start(QStringLiteral("/usr/bin/dbus-daemon"),
                {QStringLiteral("--session"), QStringLiteral("--nofork"),
                 QStringLiteral("--nopidfile"), QStringLiteral("--print-address=1")});
    if (!m_bus.waitForStarted() || !m_bus.waitForReadyRead(10'000))
        return false;
    const QByteArray address = m_bus.readLine().trimmed();
    if (address.isEmpty())
        return false;
    qputenv("DBUS_SESSION_BUS_ADDRESS", address);
    m_notifications.bus = QDBusConnection::connectToBus(QString::fromUtf8(address),
                                                        QStringLiteral("fake-notifications"));
    return m_notifications.bus.isConnected() &&
           m_notifications.bus.registerObject(QStringLiteral("/org/freedesktop/Notifications"),
                                              &m_notifications, QDBusConnection::ExportAllSlots) &&
           m_notifications.bus.registerService(QStringLiteral("org.freedesktop.Notifications"));
}

void AppEndToEnd::wheelUp(QQuickItem *over, int notches)
{
    const QPointF at = over->mapToScene(QPointF(over->width() / 2, over->height() / 2));
    static ulong timestamp = 1'000;
    for (int i = 0; i < notches; ++i) {
        QWheelEvent event(at, m_window->mapToGlobal(at), QPoint(), QPoint(0, 120), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        event.setTimestamp(timestamp += 50);
        QCoreApplication::sendEvent(m_window, &event);
        QTest::qWait(20);
    }
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

void AppEndToEnd::click(QQuickItem *target)
{
    QVERIFY(target);
    QTest::mouseClick(
        m_window, Qt::LeftButton, {},
        target->mapToScene(QPointF(target->width() / 2, target->height() / 2)).toPoint());
}

bool AppEndToEnd::trigger(QObject *menu, const char *action)
{
    if (!menu)
        return false;
    auto *row = menu->findChild<QObject *>(QLatin1String(action));
    if (!row || !row->property("visible").toBool() || !row->property("enabled").toBool())
        return false;
    // A click into a popup is not delivered reliably offscreen; the row's
    // own signal is what the click would emit.
    const bool done = QMetaObject::invokeMethod(row, "triggered");
    QMetaObject::invokeMethod(menu, "close");
    return done;
}

QQuickItem *AppEndToEnd::bubble(qint64 seq)
{
    QQuickItem *timeline = item("messageList");
    auto *messages = timeline->property("model").value<QAbstractItemModel *>();
    const int row = findRow(messages, "seq", seq);
    if (row < 0)
        return nullptr;
    QMetaObject::invokeMethod(timeline, "positionViewAtIndex", Q_ARG(int, row), Q_ARG(int, 0));
    QQuickItem *found = nullptr;
    QMetaObject::invokeMethod(timeline, "itemAtIndex", Q_RETURN_ARG(QQuickItem *, found),
                              Q_ARG(int, row));
    return found;
}

void AppEndToEnd::typeAndSend(const QString &text)
{
    QQuickItem *input = item("composerInput");
    QVERIFY(input);
    input->forceActiveFocus();
    QTRY_VERIFY(input->hasActiveFocus());
    for (const QChar c : text)
        QTest::keyClick(m_window, c.toLatin1());
    QTest::keyClick(m_window, Qt::Key_Return);
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
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, conversationId),
                                      Q_ARG(QVariant, 0)));
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

// bob, the owner of "Release crew", gives it a picture from the command
// line: ann's list row and the chat header show it, and so does the group
// details page, with no way to change it for ann (a plain member); a new
// colour and the picture's removal bring the initials back on that colour.
// Screenshots wide (1040 px) and narrow (380 px), with the details open.
void AppEndToEnd::groupPictureShowsInTheListHeaderAndDetails()
{
    QVERIFY(m_window);
    m_window->setWidth(1040);
    m_window->setProperty("startTheme", QStringLiteral("light"));
    QQuickItem *layout = item("adaptiveLayout");
    QTRY_VERIFY(layout->property("wide").toBool());

    // A crest: a diagonal gradient with a light ring, easy to tell from initials.
    QImage crest(480, 360, QImage::Format_RGB32);
    {
        QPainter painter(&crest);
        QLinearGradient gradient(0, 0, 480, 360);
        gradient.setColorAt(0, QColor(0x1e, 0x88, 0xe5));
        gradient.setColorAt(1, QColor(0x8e, 0x24, 0xaa));
        painter.fillRect(crest.rect(), gradient);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setPen(QPen(QColor(0xff, 0xd5, 0x4f), 28));
        painter.drawEllipse(QPoint(240, 180), 110, 110);
    }
    const QString crestPath = m_home.filePath(QStringLiteral("crest.png"));
    QVERIFY(crest.save(crestPath));
    bool ok = false;
    bob({QStringLiteral("group-avatar"), QStringLiteral("Release crew"), crestPath}, &ok);
    QVERIFY(ok);

    QAbstractItemModel *conversations = client()->conversations();
    const int row = findRow(conversations, "title", QStringLiteral("Release crew"));
    QVERIFY(row >= 0);
    const QString group = roleValue(conversations, row, "conversationId").toString();
    const auto groupRole = [&](const QByteArray &role) {
        return roleValue(conversations, findRow(conversations, "conversationId", group), role);
    };
    QTRY_VERIFY_WITH_TIMEOUT(!groupRole("avatarUrl").toUrl().isEmpty(), kUiTimeoutMs);

    // The chat open before (bob's), opened again at the end for the tests after this one.
    const QVariant before = m_window->property("currentConversationId");
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, group),
                                      Q_ARG(QVariant, 0)));
    QQuickItem *headerAvatar = item("headerAvatar");
    QVERIFY(headerAvatar);
    QTRY_VERIFY_WITH_TIMEOUT(headerAvatar->property("showsPicture").toBool(), kUiTimeoutMs);

    auto *details = m_window->findChild<QObject *>(QStringLiteral("groupDetails"));
    QVERIFY(details);
    QVERIFY(QMetaObject::invokeMethod(details, "open"));
    QTRY_VERIFY(details->property("opened").toBool());
    auto *detailsAvatar = details->findChild<QQuickItem *>(QStringLiteral("groupAvatar"));
    QVERIFY(detailsAvatar);
    QTRY_VERIFY_WITH_TIMEOUT(detailsAvatar->property("showsPicture").toBool(), kUiTimeoutMs);
    auto *change = details->findChild<QQuickItem *>(QStringLiteral("changeGroupPictureButton"));
    QVERIFY(change);
    QVERIFY(!change->isVisible()); // ann is a plain member

    QVERIFY(QDir().mkpath(QStringLiteral(KITH_ARTIFACT_DIR)));
    QTest::qWait(300); // the sheet's opening transition
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-picture.png")));
    QVERIFY(QMetaObject::invokeMethod(details, "close"));
    QTRY_VERIFY(!details->property("opened").toBool());
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-picture-chat.png")));

    // The quick switcher (Ctrl+K) shows the picture too.
    QTest::keyClick(m_window, Qt::Key_K, Qt::ControlModifier);
    QQuickItem *switcherField = item("switcherField");
    QVERIFY(switcherField);
    QTRY_VERIFY(switcherField->hasActiveFocus());
    for (const char key : {'c', 'r', 'e', 'w'})
        QTest::keyClick(m_window, key);
    QTest::qWait(300); // the popup's opening transition
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-switcher-group-picture.png")));
    QTest::keyClick(m_window, Qt::Key_Escape);
    QTRY_VERIFY(!switcherField->isVisible());

    m_window->setWidth(380);
    QTRY_VERIFY(!layout->property("wide").toBool());
    QTRY_COMPARE(item("chatSlot")->x(), 0.0); // the slide-in has finished
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-picture-narrow.png")));
    QVERIFY(QMetaObject::invokeMethod(details, "open"));
    QTRY_VERIFY(details->property("opened").toBool());
    QTest::qWait(300);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-picture-details-narrow.png")));
    QVERIFY(QMetaObject::invokeMethod(details, "close"));

    // A colour, then no picture: the initials on that colour.
    bob({QStringLiteral("group-avatar-color"), QStringLiteral("Release crew"), QStringLiteral("6")},
        &ok);
    QVERIFY(ok);
    QTRY_COMPARE_WITH_TIMEOUT(groupRole("avatarColor").toInt(), 6, kUiTimeoutMs);
    bob({QStringLiteral("group-avatar-remove"), QStringLiteral("Release crew")}, &ok);
    QVERIFY(ok);
    QTRY_VERIFY_WITH_TIMEOUT(groupRole("avatarUrl").toUrl().isEmpty(), kUiTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(!headerAvatar->property("showsPicture").toBool(), kUiTimeoutMs);
    QCOMPARE(headerAvatar->property("chosenColor").toInt(), 6);
    // The chat says what each change was, and who made it. (The timeline's
    // rows are in the window's item tree, not among its QObject children.)
    const auto systemLines = [this] {
        QList<QQuickItem *> found;
        QList<QQuickItem *> todo{m_window->contentItem()};
        while (!todo.isEmpty()) {
            QQuickItem *at = todo.takeLast();
            if (at->objectName() == QLatin1String("systemLine") && at->isVisible())
                found << at;
            todo << at->childItems();
        }
        return found;
    };
    const auto systemLineSays = [&](const QString &text) {
        const QList<QQuickItem *> lines = systemLines();
        return std::any_of(lines.begin(), lines.end(), [&](QQuickItem *line) {
            return line->property("text").toString() == text;
        });
    };
    const auto shownLines = [&] {
        QStringList texts;
        for (QQuickItem *line : systemLines())
            texts << line->property("text").toString();
        return texts.join(QStringLiteral(" | "));
    };
    QTRY_VERIFY2_WITH_TIMEOUT(systemLineSays(QStringLiteral("bob changed the group picture")),
                              qPrintable(shownLines()), kUiTimeoutMs);
    QTRY_VERIFY(systemLineSays(QStringLiteral("bob changed the group's colour")));
    QTRY_VERIFY(systemLineSays(QStringLiteral("bob removed the group picture")));
    // Read at the bottom, the chat follows what comes in.
    QTRY_VERIFY(item("messageList")->property("atYEnd").toBool());
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-events.png")));

    // ann's own group: as its owner she gets "Change picture…" and, with a
    // picture, "Remove picture"; the picture she sets shows at once.
    m_window->setWidth(1040);
    QTRY_VERIFY(layout->property("wide").toBool());
    QSignalSpy created(client(), &KithClient::groupCreated);
    client()->createGroup(QStringLiteral("Design review"), {QStringLiteral("bob")});
    QTRY_COMPARE_WITH_TIMEOUT(created.size(), 1, kUiTimeoutMs);
    const QString own = created.first().first().toString();
    QTRY_VERIFY_WITH_TIMEOUT(findRow(conversations, "conversationId", own) >= 0, kUiTimeoutMs);
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, own),
                                      Q_ARG(QVariant, 0)));
    QVERIFY(QMetaObject::invokeMethod(details, "open"));
    QTRY_VERIFY(details->property("opened").toBool());
    QTRY_VERIFY(change->isVisible());
    auto *remove = details->findChild<QQuickItem *>(QStringLiteral("removeGroupPictureButton"));
    QVERIFY(remove);
    QVERIFY(!remove->isVisible());
    // What the file dialog hands over when a picture is chosen.
    QVERIFY(QMetaObject::invokeMethod(details, "pictureChosen",
                                      Q_ARG(QUrl, QUrl::fromLocalFile(crestPath))));
    QTRY_VERIFY_WITH_TIMEOUT(detailsAvatar->property("showsPicture").toBool(), kUiTimeoutMs);
    QTRY_VERIFY(remove->isVisible());
    QTest::qWait(300);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-picture-owner.png")));
    m_window->setWidth(380);
    QTRY_VERIFY(!layout->property("wide").toBool());
    QTest::qWait(300);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-group-picture-owner-narrow.png")));
    QVERIFY(QMetaObject::invokeMethod(details, "close"));

    m_window->setWidth(1000);
    QTRY_VERIFY(layout->property("wide").toBool());
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, before),
                                      Q_ARG(QVariant, 0)));
}

// ann sends a picture from the app (through the preview sheet, with a
// caption): the bubble has its shape at once, the upload finishes, and bob's
// kith-cli downloads exactly the bytes of the file. bob sends a picture and a
// document back: the picture is fetched by itself and shown inline, the
// document is a card that fetches on a click. Screenshots of both, wide and
// light, narrow and dark, and of the full-window viewer.
void AppEndToEnd::filesGoBothWaysByteIdentical()
{
    QVERIFY(m_window);
    m_window->setWidth(1000);
    m_window->setProperty("startTheme", QStringLiteral("light"));
    QQuickItem *layout = item("adaptiveLayout");
    QTRY_VERIFY(layout->property("wide").toBool());
    QQuickItem *chatView = item("chatView");
    QVERIFY(chatView && chatView->isVisible());
    auto *messages = chatView->property("messages").value<QAbstractItemModel *>();
    QVERIFY(messages);

    // A picture with a shape of its own (3:2) and enough detail to look at.
    QImage picture(1200, 800, QImage::Format_RGB32);
    {
        QPainter painter(&picture);
        QLinearGradient sky(0, 0, 0, 800);
        sky.setColorAt(0, QColor(0x1d, 0x3b, 0x73));
        sky.setColorAt(0.6, QColor(0xf0, 0x8a, 0x4b));
        sky.setColorAt(1, QColor(0x5a, 0x2a, 0x1a));
        painter.fillRect(picture.rect(), sky);
        painter.setBrush(QColor(0xff, 0xd8, 0x6b));
        painter.setPen(Qt::NoPen);
        painter.drawEllipse(QPointF(600, 520), 140, 140);
        painter.fillRect(0, 560, 1200, 240, QColor(0x20, 0x30, 0x48));
    }
    const QString sunset = m_home.filePath(QStringLiteral("sunset.jpg"));
    QVERIFY(picture.save(sunset, "JPEG", 90));
    QByteArray sent;
    {
        QFile file(sunset);
        QVERIFY(file.open(QIODevice::ReadOnly));
        sent = file.readAll();
    }

    // Picked (as the file dialog or a drop would hand it over): the preview
    // sheet, a caption, Send.
    QVERIFY(QMetaObject::invokeMethod(
        chatView, "offerFiles",
        Q_ARG(QVariant, QVariantList{QUrl::fromLocalFile(sunset).toString()})));
    QQuickItem *caption = item("captionField");
    QVERIFY(caption);
    QTRY_VERIFY(caption->isVisible());
    QTRY_VERIFY(caption->hasActiveFocus());
    for (const QChar c : QStringLiteral("Tonight from the roof"))
        QTest::keyClick(m_window, c.toLatin1());
    QVERIFY(QDir().mkpath(QStringLiteral(KITH_ARTIFACT_DIR)));
    QTest::qWait(300); // the preview decodes off the GUI thread
    QVERIFY(
        m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-send-sheet.png")));
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_VERIFY(!caption->isVisible());

    int row = -1;
    QTRY_VERIFY_WITH_TIMEOUT(
        (row = findRow(messages, "fileName", QStringLiteral("sunset.jpg"))) >= 0, kUiTimeoutMs);
    QCOMPARE(roleValue(messages, row, "caption").toString(),
             QStringLiteral("Tonight from the roof"));
    QCOMPARE(roleValue(messages, row, "imageWidth").toInt(), 1200);
    QCOMPARE(roleValue(messages, row, "imageHeight").toInt(), 800);
    QVERIFY(!roleValue(messages, row, "thumbnail").toByteArray().isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT((row = findRow(messages, "fileName", QStringLiteral("sunset.jpg"))) >=
                                     0 &&
                                 roleValue(messages, row, "seq").toLongLong() > 0 &&
                                 roleValue(messages, row, "fileState").toInt() ==
                                     int(kith::client::MessageListModel::Ready),
                             kUiTimeoutMs);
    const qint64 seq = roleValue(messages, row, "seq").toLongLong();

    // bob's command line fetches exactly those bytes.
    bool ok = false;
    const QString fetched = m_home.filePath(QStringLiteral("bob-sunset.jpg"));
    bob({QStringLiteral("download"), QStringLiteral("ann"), QString::number(seq), fetched}, &ok);
    QVERIFY(ok);
    {
        QFile file(fetched);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(file.readAll() == sent);
    }

    // A file dragged from a file manager onto the chat: the same sheet, and
    // without a caption it goes as it is.
    const QString minutes = m_home.filePath(QStringLiteral("minutes.txt"));
    {
        QFile file(minutes);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QVERIFY(file.write("Minutes of the release meeting\n") > 0);
    }
    {
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(minutes)});
        const QPointF at =
            chatView->mapToScene(QPointF(chatView->width() / 2, chatView->height() / 2));
        QDragEnterEvent enter(at.toPoint(), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window, &enter);
        QVERIFY(enter.isAccepted());
        QDragMoveEvent move(at.toPoint(), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window, &move);
        QTRY_VERIFY(item("dropHint")->isVisible());
        QDropEvent drop(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_window, &drop);
    }
    QTRY_VERIFY(caption->isVisible());
    QTRY_VERIFY(caption->hasActiveFocus());
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_VERIFY(!caption->isVisible());
    QTRY_VERIFY_WITH_TIMEOUT((row = findRow(messages, "fileName", QStringLiteral("minutes.txt"))) >=
                                     0 &&
                                 roleValue(messages, row, "seq").toLongLong() > 0,
                             kUiTimeoutMs);
    const QString minutesFetched = m_home.filePath(QStringLiteral("bob-minutes.txt"));
    bob({QStringLiteral("download"), QStringLiteral("ann"),
         QString::number(roleValue(messages, row, "seq").toLongLong()), minutesFetched},
        &ok);
    QVERIFY(ok);
    {
        QFile file(minutesFetched);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), QByteArray("Minutes of the release meeting\n"));
    }

    // bob answers with a picture of his own and a document.
    QImage tall(600, 900, QImage::Format_RGB32);
    {
        QPainter painter(&tall);
        QLinearGradient leaf(0, 0, 600, 900);
        leaf.setColorAt(0, QColor(0x2e, 0x7d, 0x32));
        leaf.setColorAt(1, QColor(0xc5, 0xe1, 0xa5));
        painter.fillRect(tall.rect(), leaf);
        painter.setBrush(QColor(255, 255, 255, 90));
        painter.setPen(Qt::NoPen);
        for (int i = 0; i < 6; ++i)
            painter.drawEllipse(QPointF(100 + i * 80, 150 + i * 110), 60, 60);
    }
    const QString plant = m_home.filePath(QStringLiteral("plant.png"));
    QVERIFY(tall.save(plant, "PNG"));
    const QString notes = m_home.filePath(QStringLiteral("Release notes 2.4 (final).pdf"));
    {
        QFile file(notes);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QVERIFY(file.write(QByteArray("%PDF-1.4\n") + QByteArray(180 * 1024, 'x')) > 0);
    }
    bob({QStringLiteral("send-file"), QStringLiteral("ann"), plant}, &ok);
    QVERIFY(ok);
    bob({QStringLiteral("send-file"), QStringLiteral("ann"), notes}, &ok);
    QVERIFY(ok);

    // The picture is fetched by itself once shown; the document waits for a click.
    QTRY_VERIFY_WITH_TIMEOUT((row = findRow(messages, "fileName", QStringLiteral("plant.png"))) >=
                                     0 &&
                                 roleValue(messages, row, "fileState").toInt() ==
                                     int(kith::client::MessageListModel::Ready),
                             kUiTimeoutMs);
    int doc = -1;
    QTRY_VERIFY_WITH_TIMEOUT(
        (doc = findRow(messages, "fileName", QStringLiteral("Release notes 2.4 (final).pdf"))) >= 0,
        kUiTimeoutMs);
    QCOMPARE(roleValue(messages, doc, "fileState").toInt(),
             int(kith::client::MessageListModel::Remote));
    QVERIFY(QMetaObject::invokeMethod(messages, "fetchFile", Q_ARG(int, doc)));
    QTRY_VERIFY_WITH_TIMEOUT(
        roleValue(messages,
                  findRow(messages, "fileName", QStringLiteral("Release notes 2.4 (final).pdf")),
                  "fileState")
                .toInt() == int(kith::client::MessageListModel::Ready),
        kUiTimeoutMs);
    {
        QFile mine(notes);
        QVERIFY(mine.open(QIODevice::ReadOnly));
        QFile theirs(roleValue(messages,
                               findRow(messages, "fileName",
                                       QStringLiteral("Release notes 2.4 (final).pdf")),
                               "fileUrl")
                         .toUrl()
                         .toLocalFile());
        QVERIFY(theirs.open(QIODevice::ReadOnly));
        QVERIFY(theirs.readAll() == mine.readAll());
    }

    // Pictures for people to look at.
    QTest::qWait(500); // images decode off the GUI thread, then fade in
    QVERIFY(m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-files.png")));
    m_window->setProperty("startTheme", QStringLiteral("dark"));
    QVERIFY(
        m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-files-dark.png")));
    auto *viewer = m_window->findChild<QObject *>(QStringLiteral("imageViewer"));
    QVERIFY(viewer);
    const int plantRow = findRow(messages, "fileName", QStringLiteral("plant.png"));
    QVERIFY(QMetaObject::invokeMethod(viewer, "show",
                                      Q_ARG(QVariant, roleValue(messages, plantRow, "fileUrl")),
                                      Q_ARG(QVariant, QStringLiteral("plant.png"))));
    QTest::qWait(500);
    QVERIFY(m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-viewer.png")));
    QTest::keyClick(m_window, Qt::Key_Escape);
    m_window->setWidth(400);
    QTRY_VERIFY(!layout->property("wide").toBool());
    QTRY_COMPARE(item("chatSlot")->x(), 0.0);
    QTest::qWait(500);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-files-narrow-dark.png")));
    m_window->setProperty("startTheme", QStringLiteral("light"));
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-files-narrow-light.png")));
    m_window->setWidth(1000);
    QTRY_VERIFY(layout->property("wide").toBool());
}

// A message from carol while ann reads bob: one notification for carol's
// chat through the desktop's service, with her avatar; a second replaces it;
// clicking it opens carol's chat; an answer typed into it reaches carol.
void AppEndToEnd::notificationsGoThroughTheDesktopService()
{
    if (!m_haveBus)
        QSKIP("dbus-daemon is not installed");
    QQuickItem *chatView = item("chatView");
    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    const QString bobChat = m_window->property("currentConversationId").toString();
    QVERIFY(!bobChat.isEmpty());
    bool ok = false;
    cli(QStringLiteral("carol"), kCarolPassword,
        {QStringLiteral("send"), QStringLiteral("ann"), QStringLiteral("Lunch at <noon>?")}, &ok);
    QVERIFY(ok);
    // The earlier messages made notifications too (the window was not in front).
    const int before = int(m_notifications.shown.size());
    QTRY_COMPARE_WITH_TIMEOUT(m_notifications.shown.size(), before + 1, kUiTimeoutMs);
    const auto first = m_notifications.shown.at(before);
    QCOMPARE(first.summary, QStringLiteral("carol"));
    // Carol's earlier message is unread too: the count comes first.
    QVERIFY2(first.body.endsWith(QStringLiteral("Lunch at <noon>?")), qPrintable(first.body));
    QVERIFY(first.hints.contains(QStringLiteral("image-data")));
    QVERIFY(first.actions.contains(QStringLiteral("default")));
    QVERIFY(first.actions.contains(QStringLiteral("inline-reply")));

    cli(QStringLiteral("carol"), kCarolPassword,
        {QStringLiteral("send"), QStringLiteral("ann"), QStringLiteral("Or one?")}, &ok);
    QVERIFY(ok);
    QTRY_COMPARE_WITH_TIMEOUT(m_notifications.shown.size(), before + 2, kUiTimeoutMs);
    // Grouped: the chat's notification is replaced, and says how many.
    QCOMPARE(m_notifications.shown.at(before + 1).replaces, first.id);
    QVERIFY2(m_notifications.shown.at(before + 1)
                 .body.contains(QStringLiteral(" new messages\nOr one?")),
             qPrintable(m_notifications.shown.at(before + 1).body));

    // An answer typed into the notification reaches carol.
    m_notifications.reply(first.id, QStringLiteral("Noon works"));
    QByteArray history;
    QTRY_VERIFY_WITH_TIMEOUT(
        (history = cli(QStringLiteral("carol"), kCarolPassword,
                       {QStringLiteral("history"), QStringLiteral("ann")}, &ok))
            .contains("Noon works"),
        kUiTimeoutMs);

    // A click opens carol's chat and takes the notification away.
    m_notifications.click(first.id);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->property("currentConversationId").toString() != bobChat,
                             kUiTimeoutMs);
    const QString carolChat = m_window->property("currentConversationId").toString();
    QCOMPARE(
        client->conversations()
            ->data(client->conversations()->index(client->conversations()->indexOf(carolChat), 0),
                   kith::client::ConversationListModel::TitleRole)
            .toString(),
        QStringLiteral("carol"));
    QTRY_VERIFY(m_notifications.closed.contains(first.id));
    Q_UNUSED(chatView);
}

// bob's long history: the wheel leaves the newest message and stays; older
// pages load above without moving what the reader looks at.
void AppEndToEnd::longHistoryScrollsBackAndHoldsItsPlace()
{
    QStringList lines;
    for (int i = 1; i <= 300; ++i)
        lines << QStringLiteral("history line %1 %2").arg(i).arg(i == 40 ? "zebra" : "words");
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_home.filePath(QStringLiteral("cli-bob")));
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(KITH_CLI_PATH),
                  {QStringLiteral("--server"), m_server.url().toString(), QStringLiteral("--user"),
                   QStringLiteral("bob"), QStringLiteral("send"), QStringLiteral("ann"),
                   QStringLiteral("--stdin")});
    QVERIFY(process.waitForStarted());
    process.write(lines.join(u'\n').toUtf8() + '\n');
    process.closeWriteChannel();
    QVERIFY(process.waitForFinished(kCliTimeoutMs * 2));
    QCOMPARE(process.exitCode(), 0);

    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    const QString bobChat = chatWith(client, QStringLiteral("bob"));
    QTRY_VERIFY_WITH_TIMEOUT(client->store()->messageCount(bobChat) >= 302, kUiTimeoutMs);
    // Opened afresh (from another chat), the chat holds its newest page only.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation",
                                      Q_ARG(QVariant, chatWith(client, QStringLiteral("carol"))),
                                      Q_ARG(QVariant, 0)));
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, bobChat),
                                      Q_ARG(QVariant, 0)));
    QQuickItem *timeline = item("messageList");
    QVERIFY(timeline);
    auto *messages = timeline->property("model").value<QAbstractItemModel *>();
    QTRY_VERIFY_WITH_TIMEOUT(
        findRow(messages, "text", QStringLiteral("history line 300 words")) >= 0, kUiTimeoutMs);
    // At the newest first.
    QVERIFY(QMetaObject::invokeMethod(timeline, "scrollToBottom"));
    QTRY_VERIFY(timeline->property("atBottom").toBool());
    const int rowsBefore = messages->rowCount();

    for (int round = 0; round < 30 && messages->rowCount() == rowsBefore; ++round) {
        wheelUp(timeline, 6);
        QTRY_VERIFY(!timeline->property("moving").toBool());
    }
    QVERIFY2(messages->rowCount() > rowsBefore, "reading back loaded no older page");
    QVERIFY(!timeline->property("stickToBottom").toBool());
    QVERIFY(!timeline->property("atBottom").toBool());
    // The reader's place holds while the page settles.
    QVariant seen;
    QVERIFY(QMetaObject::invokeMethod(timeline, "anchorSeq", Q_RETURN_ARG(QVariant, seen)));
    QTest::qWait(300);
    QVariant still;
    QVERIFY(QMetaObject::invokeMethod(timeline, "anchorSeq", Q_RETURN_ARG(QVariant, still)));
    QCOMPARE(still.toLongLong(), seen.toLongLong());
    QVERIFY(m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-history.png")));
}

// A search hit far back in bob's chat, picked while another chat is open:
// bob's chat opens on the hit, which flashes and is in view.
void AppEndToEnd::searchHitOpensItsChatOnTheHit()
{
    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    const QString bobChat = chatWith(client, QStringLiteral("bob"));
    const QVariantList hits = client->searchMessages(QStringLiteral("zebra"));
    QCOMPARE(hits.size(), 1);
    const qint64 seq = hits.at(0).toMap().value(QStringLiteral("seq")).toLongLong();
    // Somewhere else first.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation",
                                      Q_ARG(QVariant, chatWith(client, QStringLiteral("carol"))),
                                      Q_ARG(QVariant, 0)));
    QObject *sheet = m_window->findChild<QObject *>(QStringLiteral("searchSheet"));
    QVERIFY(sheet);
    QVERIFY(QMetaObject::invokeMethod(sheet, "openIn", Q_ARG(QVariant, QString())));
    QQuickItem *field = item("messageSearchField");
    QTRY_VERIFY(field && field->hasActiveFocus());
    for (const char c : QByteArray("zebra"))
        QTest::keyClick(m_window, c);
    QQuickItem *results = item("searchResults");
    QTRY_COMPARE(results->property("count").toInt(), 1);
    QVERIFY(QMetaObject::invokeMethod(sheet, "resultChosen", Q_ARG(QString, bobChat),
                                      Q_ARG(double, double(seq))));
    QTRY_COMPARE(m_window->property("currentConversationId").toString(), bobChat);

    QQuickItem *timeline = item("messageList");
    auto *messages = timeline->property("model").value<QAbstractItemModel *>();
    QTRY_VERIFY_WITH_TIMEOUT(findRow(messages, "seq", seq) >= 0, kUiTimeoutMs);
    QTRY_COMPARE(timeline->property("highlightSeq").toLongLong(), seq);
    // In view: the row's item lies within the visible part of the list.
    const double top = timeline->property("contentY").toDouble();
    const double bottom = top + timeline->height();
    QQuickItem *hit = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT(
        (QMetaObject::invokeMethod(timeline, "itemAtIndex", Q_RETURN_ARG(QQuickItem *, hit),
                                   Q_ARG(int, findRow(messages, "seq", seq))),
         hit != nullptr),
        kUiTimeoutMs);
    QVERIFY2(hit->y() + hit->height() > top && hit->y() < bottom,
             qPrintable(QStringLiteral("hit at %1..%2, view %3..%4")
                            .arg(hit->y())
                            .arg(hit->y() + hit->height())
                            .arg(top)
                            .arg(bottom)));
    QVERIFY(hit->property("highlighted").toBool());
    // The flash ends by itself.
    QTRY_COMPARE_WITH_TIMEOUT(timeline->property("highlightSeq").toLongLong(), 0, 10'000);
}

// In carol's chat ann writes a line with a typo, then from the bubble's menu
// edits it, reacts to it and deletes it for everyone; carol's kith-cli sees
// each change in her history.
void AppEndToEnd::editReactAndDeleteFromTheBubbleReachTheCommandLine()
{
    m_window->setProperty("startTheme", QStringLiteral("light"));
    m_window->setWidth(1000);
    QTRY_VERIFY(item("adaptiveLayout")->property("wide").toBool());
    const QString carolChat = chatWith(client(), QStringLiteral("carol"));
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, carolChat),
                                      Q_ARG(QVariant, 0)));
    auto *messages = item("messageList")->property("model").value<QAbstractItemModel *>();
    typeAndSend(QStringLiteral("See you at the statoin"));
    int row = -1;
    QTRY_VERIFY_WITH_TIMEOUT(
        (row = findRow(messages, "text", QStringLiteral("See you at the statoin"))) >= 0 &&
            roleValue(messages, row, "seq").toLongLong() > 0,
        kUiTimeoutMs);
    const qint64 seq = roleValue(messages, row, "seq").toLongLong();
    auto carolHistory = [this] {
        bool ok = false;
        const QByteArray out = cli(QStringLiteral("carol"), kCarolPassword,
                                   {QStringLiteral("history"), QStringLiteral("ann")}, &ok);
        return ok ? QString::fromUtf8(out) : QString();
    };

    // Edit: the menu puts the text into the composer; ann fixes it and sends.
    QQuickItem *message = nullptr;
    QTRY_VERIFY((message = bubble(seq)) != nullptr);
    QVERIFY(
        QMetaObject::invokeMethod(message, "openMenu", Q_ARG(QVariant, 20), Q_ARG(QVariant, 10)));
    QVERIFY(trigger(message->property("menu").value<QObject *>(), "editAction"));
    QQuickItem *input = item("composerInput");
    QCOMPARE(input->property("text").toString(), QStringLiteral("See you at the statoin"));
    QTRY_VERIFY(input->hasActiveFocus());
    QTest::keyClick(m_window, Qt::Key_A, Qt::ControlModifier);
    for (const QChar c : QStringLiteral("See you at the station"))
        QTest::keyClick(m_window, c.toLatin1());
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_VERIFY_WITH_TIMEOUT(roleValue(messages, findRow(messages, "seq", seq), "edited").toBool(),
                             kUiTimeoutMs);
    QCOMPARE(roleValue(messages, findRow(messages, "seq", seq), "text").toString(),
             QStringLiteral("See you at the station"));

    // React: the quick picker's thumbs up.
    QTRY_VERIFY((message = bubble(seq)) != nullptr);
    QVERIFY(QMetaObject::invokeMethod(message, "openReactions", Q_ARG(QVariant, 0),
                                      Q_ARG(QVariant, 0)));
    // The picker is a popup: its buttons hang off its own content item.
    auto *picker = message->findChild<QObject *>(QStringLiteral("reactionPickerLoader"))
                       ->property("item")
                       .value<QObject *>();
    QVERIFY(picker);
    QTRY_VERIFY(picker->property("opened").toBool());
    QQuickItem *thumbsUp = nullptr;
    for (QQuickItem *button : picker->property("contentItem").value<QQuickItem *>()->childItems())
        if (button->property("modelData").toString() == QStringLiteral("\U0001F44D"))
            thumbsUp = button;
    QVERIFY(thumbsUp);
    QVERIFY(QMetaObject::invokeMethod(thumbsUp, "clicked"));
    QTRY_VERIFY_WITH_TIMEOUT(
        roleValue(messages, findRow(messages, "seq", seq), "reactions").toList().size() == 1,
        kUiTimeoutMs);
    // Both are folded in once the server took them: carol's side sees them
    // on its next look (one kith-cli run each: every run is a login).
    QString history = carolHistory();
    QVERIFY2(history.contains(QStringLiteral("See you at the station (edited) [\U0001F44D 1]")),
             qPrintable(history));
    QVERIFY(!history.contains(QStringLiteral("statoin")));

    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-edit-react-wide-light.png")));

    // Delete for everyone: a placeholder here, and the text gone for carol.
    QTRY_VERIFY((message = bubble(seq)) != nullptr);
    QVERIFY(
        QMetaObject::invokeMethod(message, "openMenu", Q_ARG(QVariant, 20), Q_ARG(QVariant, 10)));
    QVERIFY(trigger(message->property("menu").value<QObject *>(), "deleteAction"));
    QTRY_VERIFY_WITH_TIMEOUT(roleValue(messages, findRow(messages, "seq", seq), "deleted").toBool(),
                             kUiTimeoutMs);
    // Nothing of ann's left to send.
    QTRY_COMPARE_WITH_TIMEOUT(
        roleValue(client()->conversations(),
                  findRow(client()->conversations(), "conversationId", carolChat), "pendingCount")
            .toInt(),
        0, kUiTimeoutMs);
    history = carolHistory();
    QVERIFY2(history.contains(QStringLiteral("(message deleted)")), qPrintable(history));
    QVERIFY(!history.contains(QStringLiteral("See you at the station")));
}

// ann's own settings of her chats, from the app: mute (no notification for
// a muted chat, unless the message mentions her), archive (the chat leaves
// the list for the Archived entry; a message in it while muted keeps it
// there, one while unmuted brings it back), pin from the bubble (the pinned
// bar, seen by carol's kith-cli too, and unpinned from the bar), delete for
// me, and blocking bob (no composer, bob's message is refused) and
// unblocking him.
void AppEndToEnd::chatStateFromTheChatMenuAndTheBubble()
{
    m_window->setProperty("startTheme", QStringLiteral("light"));
    m_window->setWidth(1000);
    QTRY_VERIFY(item("adaptiveLayout")->property("wide").toBool());
    KithClient *kith = client();
    QAbstractItemModel *conversations = kith->conversations();
    const QString carolChat = chatWith(kith, QStringLiteral("carol"));
    const QString bobChat = chatWith(kith, QStringLiteral("bob"));
    auto role = [&](const QString &id, const QByteArray &name) {
        return roleValue(conversations, findRow(conversations, "conversationId", id), name);
    };
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, carolChat),
                                      Q_ARG(QVariant, 0)));
    auto *messages = item("messageList")->property("model").value<QAbstractItemModel *>();
    bool ok = false;
    auto carolSays = [&](const QString &text) {
        cli(QStringLiteral("carol"), kCarolPassword,
            {QStringLiteral("send"), QStringLiteral("ann"), text}, &ok);
        QVERIFY(ok);
        QTRY_VERIFY_WITH_TIMEOUT(role(carolChat, "lastMessage").toString() == text, kUiTimeoutMs);
    };

    // Mute until turned back on, from the bell's menu.
    click(item("muteButton"));
    QVERIFY(
        trigger(m_window->findChild<QObject *>(QStringLiteral("muteMenu")), "muteForeverAction"));
    QTRY_VERIFY_WITH_TIMEOUT(kith->isMuted(carolChat), kUiTimeoutMs);
    QTRY_VERIFY(role(carolChat, "muted").toBool());
    QTRY_COMPARE(item("muteButton")->property("iconName").toString(), QStringLiteral("bell-off"));

    // Archive it from the chat's menu: it leaves the list for the entry.
    click(item("chatMenuButton"));
    QVERIFY(trigger(m_window->findChild<QObject *>(QStringLiteral("chatMenu")), "archiveAction"));
    QTRY_VERIFY_WITH_TIMEOUT(role(carolChat, "archived").toBool(), kUiTimeoutMs);
    QQuickItem *list = item("conversationList");
    QQuickItem *entry = nullptr;
    QTRY_VERIFY((entry = list->property("headerItem").value<QQuickItem *>()) &&
                entry->objectName() == QStringLiteral("archivedEntry") && entry->isVisible() &&
                entry->height() > 0);

    // From another chat: carol's message in the muted archived chat makes
    // no notification and leaves it archived.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, bobChat),
                                      Q_ARG(QVariant, 0)));
    const qsizetype shownBefore = m_notifications.shown.size();
    carolSays(QStringLiteral("Muted and archived, this one"));
    QTest::qWait(500); // what would have come by now
    QCOMPARE(m_notifications.shown.size(), shownBefore);
    QVERIFY(role(carolChat, "archived").toBool());
    // One that names ann notifies all the same (and leaves it archived).
    if (m_haveBus) {
        carolSays(QStringLiteral("@ann are you there?"));
        QTRY_COMPARE_WITH_TIMEOUT(m_notifications.shown.size(), shownBefore + 1, kUiTimeoutMs);
        QVERIFY2(m_notifications.shown.constLast().body.contains(QStringLiteral("are you there")),
                 qPrintable(m_notifications.shown.constLast().body));
        QVERIFY(role(carolChat, "archived").toBool());
    }

    // Unmuted, the next message brings it back into the list.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, carolChat),
                                      Q_ARG(QVariant, 0)));
    click(item("muteButton")); // muted: one click turns it back on
    QTRY_VERIFY_WITH_TIMEOUT(!kith->isMuted(carolChat), kUiTimeoutMs);
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, bobChat),
                                      Q_ARG(QVariant, 0)));
    const qsizetype shownUnmuted = m_notifications.shown.size();
    carolSays(QStringLiteral("Back in the list?"));
    QTRY_VERIFY_WITH_TIMEOUT(!role(carolChat, "archived").toBool(), kUiTimeoutMs);
    if (m_haveBus)
        QTRY_VERIFY_WITH_TIMEOUT(m_notifications.shown.size() > shownUnmuted, kUiTimeoutMs);

    // Pin carol's message from its bubble: the pinned bar shows it, carol's
    // command line lists it, the bar takes it off again.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, carolChat),
                                      Q_ARG(QVariant, 0)));
    int row = -1;
    QTRY_VERIFY_WITH_TIMEOUT(
        (row = findRow(messages, "text", QStringLiteral("Back in the list?"))) >= 0, kUiTimeoutMs);
    const qint64 pinSeq = roleValue(messages, row, "seq").toLongLong();
    QQuickItem *message = nullptr;
    QTRY_VERIFY((message = bubble(pinSeq)) != nullptr);
    QVERIFY(
        QMetaObject::invokeMethod(message, "openMenu", Q_ARG(QVariant, 20), Q_ARG(QVariant, 10)));
    QVERIFY(trigger(message->property("menu").value<QObject *>(), "pinAction"));
    QQuickItem *bar = item("pinnedBar");
    QTRY_VERIFY_WITH_TIMEOUT(bar->isVisible(), kUiTimeoutMs);
    QCOMPARE(m_window->findChild<QQuickItem *>(QStringLiteral("pinnedText"))
                 ->property("line")
                 .toString(),
             QStringLiteral("Back in the list?"));
    // Pinned once the server took it; carol's command line lists it.
    QTRY_VERIFY_WITH_TIMEOUT(
        roleValue(messages, findRow(messages, "seq", pinSeq), "pinned").toBool(), kUiTimeoutMs);
    const QByteArray pins = cli(QStringLiteral("carol"), kCarolPassword,
                                {QStringLiteral("pins"), QStringLiteral("ann")}, &ok);
    QVERIFY2(ok && pins.contains("Back in the list? (pinned)"), pins.constData());
    // Screenshots with the pinned bar, wide and light, then a phone in the dark.
    QTRY_VERIFY(bar->height() > 0 && bar->y() > 0);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-pinned-wide-light.png")));
    QQuickItem *layout = item("adaptiveLayout");
    m_window->setWidth(360);
    m_window->setProperty("startTheme", QStringLiteral("dark"));
    QTRY_VERIFY(!layout->property("wide").toBool());
    QTRY_COMPARE(item("chatSlot")->x(), 0.0);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-pinned-phone-dark.png")));
    m_window->setWidth(1000);
    m_window->setProperty("startTheme", QStringLiteral("light"));
    QTRY_VERIFY(layout->property("wide").toBool());
    QTRY_VERIFY(bar->width() > 0);
    click(m_window->findChild<QQuickItem *>(QStringLiteral("unpinButton")));
    QTRY_VERIFY_WITH_TIMEOUT(!bar->isVisible(), kUiTimeoutMs);
    QVERIFY(!roleValue(messages, findRow(messages, "seq", pinSeq), "pinned").toBool());

    // Delete for me: gone from ann's chat (carol keeps it: her history is
    // not looked at here, to keep the kith-cli logins few).
    QTRY_VERIFY((message = bubble(pinSeq)) != nullptr);
    QVERIFY(
        QMetaObject::invokeMethod(message, "openMenu", Q_ARG(QVariant, 20), Q_ARG(QVariant, 10)));
    QVERIFY(trigger(message->property("menu").value<QObject *>(), "hideAction"));
    QTRY_COMPARE_WITH_TIMEOUT(findRow(messages, "seq", pinSeq), -1, kUiTimeoutMs);

    // Block bob from his chat's menu: no composer, the state in words, and
    // bob's message is refused.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, bobChat),
                                      Q_ARG(QVariant, 0)));
    click(item("chatMenuButton"));
    QVERIFY(trigger(m_window->findChild<QObject *>(QStringLiteral("chatMenu")), "blockAction"));
    QQuickItem *notice = item("blockedNotice");
    QTRY_VERIFY_WITH_TIMEOUT(notice->isVisible(), kUiTimeoutMs);
    QVERIFY(!item("composer")->isVisible());
    QVERIFY(kith->isBlocked(role(bobChat, "peerUserId").toLongLong()));
    // The header says so instead of when bob was last seen.
    QTRY_COMPARE_WITH_TIMEOUT(item("headerSubtitle")->property("text").toString(),
                              QStringLiteral("Blocked"), kUiTimeoutMs);
    bob({QStringLiteral("send"), QStringLiteral("ann"), QStringLiteral("Can you hear me?")}, &ok);
    QVERIFY(!ok);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-blocked-wide-light.png")));
    click(m_window->findChild<QQuickItem *>(QStringLiteral("unblockButton")));
    QTRY_VERIFY_WITH_TIMEOUT(item("composer")->isVisible(), kUiTimeoutMs);
    QVERIFY(!notice->isVisible());
    bob({QStringLiteral("send"), QStringLiteral("ann"), QStringLiteral("Now?")}, &ok);
    QVERIFY(ok);
    QTRY_VERIFY_WITH_TIMEOUT(role(bobChat, "lastMessage").toString() == QStringLiteral("Now?"),
                             kUiTimeoutMs);

    // Pictures for people to look at: the Archived entry (carol's chat
    // archived again), and the composer's emoji picker on a phone, light and
    // dark, with an emoji in the text.
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, carolChat),
                                      Q_ARG(QVariant, 0)));
    click(item("chatMenuButton"));
    QVERIFY(trigger(m_window->findChild<QObject *>(QStringLiteral("chatMenu")), "archiveAction"));
    QTRY_VERIFY_WITH_TIMEOUT(role(carolChat, "archived").toBool(), kUiTimeoutMs);
    QTRY_VERIFY(list->property("headerItem").value<QQuickItem *>()->height() > 0);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-archived-wide-light.png")));
    m_window->setWidth(360);
    QTRY_VERIFY(!layout->property("wide").toBool());
    QTRY_COMPARE(item("chatSlot")->x(), 0.0);
    click(item("emojiButton"));
    QObject *picker = m_window->findChild<QObject *>(QStringLiteral("emojiPicker"));
    QTRY_VERIFY(picker && picker->property("opened").toBool());
    QVERIFY(
        QMetaObject::invokeMethod(picker, "picked", Q_ARG(QString, QStringLiteral("\U0001F389"))));
    QTest::qWait(200);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-emoji-phone-light.png")));
    m_window->setProperty("startTheme", QStringLiteral("dark"));
    QTest::qWait(200);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-emoji-phone-dark.png")));
    QMetaObject::invokeMethod(picker, "close");
    item("composerInput")->setProperty("text", QString());
    m_window->setProperty("startTheme", QStringLiteral("light"));
    m_window->setWidth(1000);
    QTRY_VERIFY(layout->property("wide").toBool());
}

// ann picks a picture through the settings page's "Change picture…" file
// dialog: the page shows it and bob, asking the server, sees ann's picture;
// "Remove picture" takes it away for him too.
void AppEndToEnd::profilePictureFromTheSettingsPage()
{
    const QString path = m_home.filePath(QStringLiteral("ann-face.png"));
    {
        QImage face(640, 480, QImage::Format_RGB32);
        face.fill(QColor(0x2e, 0x7d, 0x32));
        QPainter painter(&face);
        painter.setBrush(QColor(0xff, 0xd5, 0x4f));
        painter.drawEllipse(QPoint(320, 240), 150, 150);
        painter.end();
        QVERIFY(face.save(path, "PNG"));
    }
    kith::test::TestClient bob;
    QVERIFY(bob.connectTo(m_server.url()));
    QVERIFY(bob.hello());
    const auto login = bob.login(QStringLiteral("bob"), kBobPassword);
    QVERIFY2(login && login->has_auth_ok(), kith::test::describe(login).constData());
    // ann's picture as bob may see it ("" without one).
    const auto annPicture = [&bob]() -> std::optional<std::string> {
        kith::v1::Envelope ask;
        ask.mutable_get_profile()->set_username("ann");
        const auto answer = bob.request(ask);
        if (!answer || !answer->has_user_profile())
            return std::nullopt;
        return answer->user_profile().user().avatar_file_id();
    };
    QCOMPARE(annPicture(), std::optional<std::string>(""));

    QObject *sheet = m_window->findChild<QObject *>(QStringLiteral("settingsSheet"));
    QVERIFY(sheet);
    QVERIFY(QMetaObject::invokeMethod(sheet, "open"));
    QTRY_VERIFY(sheet->property("opened").toBool());
    QQuickItem *change = item("changePictureButton");
    QVERIFY(change && change->isVisible());
    QVERIFY(!item("removePictureButton")->isVisible());
    click(change);
    auto *dialog = sheet->findChild<QObject *>(QStringLiteral("pictureDialog"));
    QVERIFY(dialog);
    QTRY_VERIFY(dialog->property("visible").toBool());
    // A person's pick: the dialog's own list (Qt's dialog, where the
    // desktop has none) shows the folder; a click on the file, then Open.
    QVERIFY(dialog->setProperty("currentFolder", QUrl::fromLocalFile(m_home.path())));
    QQuickItem *list = nullptr;
    QTRY_VERIFY((list = item("fileDialogListView")) && list->isVisible());
    QQuickItem *row = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            row = nullptr;
            const auto content = list->property("contentItem").value<QQuickItem *>();
            for (QQuickItem *candidate : content ? content->childItems() : QList<QQuickItem *>())
                if (candidate->property("fileName").toString() == QLatin1String("ann-face.png"))
                    row = candidate;
            return row != nullptr;
        }(),
        kUiTimeoutMs);
    QMetaObject::invokeMethod(list, "positionViewAtIndex",
                              Q_ARG(int, row->property("index").toInt()), Q_ARG(int, 0));
    QTRY_VERIFY(row->isVisible());
    click(row);
    QTRY_COMPARE(dialog->property("selectedFile").toUrl(), QUrl::fromLocalFile(path));
    QVERIFY(QMetaObject::invokeMethod(dialog, "accept"));
    QTRY_VERIFY(!dialog->property("visible").toBool());

    QTRY_VERIFY_WITH_TIMEOUT(!annPicture().value_or("").empty(), kUiTimeoutMs);
    QTRY_VERIFY_WITH_TIMEOUT(!client()->property("avatarUrl").toUrl().isEmpty(), kUiTimeoutMs);
    QTRY_VERIFY(item("removePictureButton")->isVisible());
    {
        // The page shows the picture made of it: a square, the yellow disc
        // in the middle.
        const QImage shown(client()->property("avatarUrl").toUrl().toLocalFile());
        QVERIFY(!shown.isNull());
        QCOMPARE(shown.width(), shown.height());
        const QColor middle = shown.pixelColor(shown.width() / 2, shown.height() / 2);
        QVERIFY2(middle.red() > 200 && middle.green() > 160 && middle.blue() < 140,
                 qPrintable(middle.name()));
    }
    QVERIFY(QDir().mkpath(QStringLiteral(KITH_ARTIFACT_DIR)));
    QTest::qWait(300); // the picture decodes off the GUI thread
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-settings-picture.png")));

    click(item("removePictureButton"));
    QTRY_VERIFY_WITH_TIMEOUT(annPicture() == std::optional<std::string>(""), kUiTimeoutMs);
    QTRY_VERIFY(!item("removePictureButton")->isVisible());
    QVERIFY(QMetaObject::invokeMethod(sheet, "close"));
    QTRY_VERIFY(!sheet->property("visible").toBool());
}

// The server goes away; "Retry now" in the banner tries at once instead of
// when the backoff says, and the app is back online.
void AppEndToEnd::retryNowReconnectsAtOnce()
{
    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    m_window->setWidth(1000);
    QVERIFY(m_server.terminate());
    // Failed attempts while it is down stretch the wait to a few seconds.
    QTRY_VERIFY_WITH_TIMEOUT(client->connectionState() == KithClient::Reconnecting &&
                                 client->nextRetryIn() >= 4,
                             60'000);
    QVERIFY(m_server.restart());
    QQuickItem *retry = item("retryNow");
    QVERIFY(retry && retry->isVisible());
    // Still waiting, seconds from the next attempt: only the button can
    // start one now.
    QCOMPARE(client->connectionState(), KithClient::Reconnecting);
    QVERIFY(client->nextRetryIn() >= 2);
    QTest::mouseClick(
        m_window, Qt::LeftButton, {},
        retry->mapToScene(QPointF(retry->width() / 2, retry->height() / 2)).toPoint());
    QVERIFY2(client->connectionState() == KithClient::Connecting ||
                 client->connectionState() == KithClient::Online,
             "Retry now did not try");
    QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), kUiTimeoutMs);
}

// A server with its own certificate (kithd's default): the window shows the
// trust prompt with the server's fingerprint, connects once it is trusted,
// and after the server got a new key refuses with the warning until the new
// key is accepted deliberately.
void AppEndToEnd::trustPromptForAServerOfItsOwn()
{
    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    kith::test::TestServer server;
    server.useOwnCertificate();
    QVERIFY(server.start());
    const auto servedFingerprint = [&server] {
        const auto cert = QSslCertificate::fromPath(
            QDir(server.dataDir()).filePath(QStringLiteral("tls-cert.pem")));
        return cert.isEmpty() ? QByteArray() : kith::certificateFingerprint(cert.first().toDer());
    };
    const QByteArray first = servedFingerprint();

    client->logout();
    QTRY_VERIFY(!client->hasSession());
    client->registerAccount(server.url(), QStringLiteral("dora"), kAnnPassword);
    QQuickItem *prompt = item("trustPrompt");
    QVERIFY(prompt);
    QTRY_VERIFY_WITH_TIMEOUT(prompt->isVisible(), kUiTimeoutMs);
    QCOMPARE(prompt->property("fingerprint").toString(), kith::fingerprintHex(first));
    QVERIFY(!prompt->property("keyChanged").toBool());
    const auto click = [this](const char *name) {
        QQuickItem *button = item(name);
        QVERIFY(button && button->isVisible());
        QTest::mouseClick(
            m_window, Qt::LeftButton, {},
            button->mapToScene(QPointF(button->width() / 2, button->height() / 2)).toPoint());
    };
    click("trustButton");
    QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), kUiTimeoutMs);
    QVERIFY(!prompt->isVisible());

    // The server comes back with a new key.
    QVERIFY(server.terminate());
    const QDir data(server.dataDir());
    QVERIFY(QFile::remove(data.filePath(QStringLiteral("tls-key.pem"))));
    QVERIFY(QFile::remove(data.filePath(QStringLiteral("tls-cert.pem"))));
    QVERIFY(server.start());
    const QByteArray second = servedFingerprint();
    client->retryNow();
    QTRY_VERIFY_WITH_TIMEOUT(prompt->isVisible() && prompt->property("keyChanged").toBool(),
                             90'000);
    QCOMPARE(prompt->property("fingerprint").toString(), kith::fingerprintHex(second));
    QVERIFY(!client->isOnline());
    QVERIFY(!item("trustButton")->isEnabled());
    m_window->setWidth(1000);
    QTRY_COMPARE(qRound(prompt->width()), 1000);
    QVERIFY(
        m_window->grabWindow().save(QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-key-changed.png")));
    m_window->setWidth(380);
    QTRY_COMPARE(qRound(prompt->width()), 380);
    QVERIFY(m_window->grabWindow().save(
        QStringLiteral(KITH_ARTIFACT_DIR "/kith-e2e-key-changed-phone.png")));
    click("trustConfirmChange");
    QTRY_VERIFY(item("trustButton")->isEnabled());
    click("trustButton");
    QTRY_VERIFY_WITH_TIMEOUT(client->isOnline(), kUiTimeoutMs);
    QVERIFY(!prompt->isVisible());
}

QTEST_MAIN(AppEndToEnd)

#include "tst_app_e2e.moc"
