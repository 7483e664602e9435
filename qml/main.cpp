// kith: the desktop app. Parses the command line, makes sure only one
// instance runs per user session, and loads the QML window.

#include "kith/client/kith_client.h"
#include "kith/client/transfer_queue.h"
#include "media.h"
#include "message_text.h"
#include "single_instance.h"
#include "voice_player.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QImageReader>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QUrl>
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

int main(int argc, char *argv[])
{
    kith::app::chooseMediaBackend();
    // QApplication rather than QGuiApplication: the tray icon is a Qt Widgets class.
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Kith"));
    QApplication::setApplicationName(QStringLiteral("kith"));
    QApplication::setApplicationDisplayName(QStringLiteral("Kith"));
    QApplication::setApplicationVersion(QStringLiteral(KITH_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("kith"));
    QApplication::setQuitOnLastWindowClosed(false);
    // Emoji in colour in plain text too (the composer), not in the first
    // black-and-white font that has them.
    kith::app::MessageText::preferColourEmoji();

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Kith: chat with your team on your own server."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption serverOption(QStringLiteral("server"),
                                          QStringLiteral("Server address (ws:// or wss://)."),
                                          QStringLiteral("url"));
    const QCommandLineOption userOption(QStringLiteral("user"),
                                        QStringLiteral("Log in as this user at start."),
                                        QStringLiteral("name"));
    const QCommandLineOption passwordOption(
        QStringLiteral("password"), QStringLiteral("Password for --user."), QStringLiteral("pw"));
    const QCommandLineOption registerOption(
        QStringLiteral("register"),
        QStringLiteral("Create the --user account instead of logging in."));
    const QCommandLineOption themeOption(QStringLiteral("theme"),
                                         QStringLiteral("Palette: system, light or dark."),
                                         QStringLiteral("scheme"));
    const QCommandLineOption newInstanceOption(
        QStringLiteral("new-instance"),
        QStringLiteral("Run even when Kith is already running (another account)."));
    parser.addOptions(
        {serverOption, userOption, passwordOption, registerOption, themeOption, newInstanceOption});
    parser.process(app);

    // Images come from other people: every decode in the app is bounded.
    QImageReader::setAllocationLimit(kith::app::kImageAllocationLimitMiB);
    // Images sent get their size and a thumbnail, so the bubble has its shape at once.
    kith::client::TransferQueue::setImageInspector(&kith::app::inspectImage);
    // A profile picture chosen is made a small square before it is sent.
    kith::client::KithClient::setAvatarEncoder(&kith::app::avatarImage);

    kith::app::SingleInstance instance;
    if (!parser.isSet(newInstanceOption) && instance.notifyRunningInstance())
        return 0;

    QQmlApplicationEngine engine;
    // Qt 6.4 does not look for modules under the resource root by itself.
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    engine.setInitialProperties({
        {QStringLiteral("startServer"), parser.value(serverOption)},
        {QStringLiteral("startUser"), parser.value(userOption)},
        {QStringLiteral("startPassword"), parser.value(passwordOption)},
        {QStringLiteral("startRegister"), parser.isSet(registerOption)},
        {QStringLiteral("startTheme"), parser.value(themeOption)},
    });
    QObject::connect(
        &engine, &QQmlApplicationEngine::objectCreated, &app,
        [](QObject *object, const QUrl &) {
            if (!object)
                QCoreApplication::exit(1);
        },
        Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Kith/App/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;

    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
    QObject::connect(&instance, &kith::app::SingleInstance::activationRequested, window, [window] {
        window->show();
        window->raise();
        window->requestActivate();
    });
    return app.exec();
}
