// kith-app-bench: figures for the app (not a test: it prints, it never
// fails on a time). Two steps, so the writing of the cache is not measured:
//
//   kith-app-bench seed --data DIR [--conversations 50] [--messages 200000] [--biggest 10000]
//     writes the local store of one account under DIR (as XDG_DATA_HOME):
//     conversations with cached messages, the biggest with --biggest of them,
//     and a saved session for a server that is not there (the app then shows
//     the cache and keeps retrying, which is the cold start the UI promises).
//   kith-app-bench run --data DIR [--fling 10000]
//     starts the app's window on that store in this process, like `kith`
//     does, and prints one JSON line: the time from process start (and from
//     main) to the first frame that shows the conversation list; VmRSS after
//     opening the biggest chat; and the frame times, from the window's
//     frameSwapped signal, while flinging back through --fling messages of it
//     (pages load as it goes).

#include "kith/client/local_store.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QAbstractItemModel>
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSettings>
#include <QStandardPaths>
#include <QTimer>
#include <QtQml/qqmlextensionplugin.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

Q_IMPORT_QML_PLUGIN(Kith_ClientPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ThemePlugin)
Q_IMPORT_QML_PLUGIN(Kith_LoginPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ConversationsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_ChatPlugin)
Q_IMPORT_QML_PLUGIN(Kith_GroupsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_SearchPlugin)
Q_IMPORT_QML_PLUGIN(Kith_SettingsPlugin)
Q_IMPORT_QML_PLUGIN(Kith_AppPlugin)

using namespace kith;
using namespace kith::client;

namespace {

// Nothing listens on the discard port: the app stays offline on its cache.
const QUrl kServer(QStringLiteral("ws://127.0.0.1:9/"));
const QString kUser = QStringLiteral("bench");
constexpr quint64 kMe = 1;
constexpr int kPage = 2'000; // messages per store transaction while seeding

// Seconds since this process was started by the kernel (/proc/self/stat
// field 22 against /proc/uptime), so dynamic linking and Qt's start count.
double secondsSinceExec()
{
    QFile stat(QStringLiteral("/proc/self/stat"));
    QFile uptime(QStringLiteral("/proc/uptime"));
    if (!stat.open(QIODevice::ReadOnly) || !uptime.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray line = stat.readAll();
    // Fields after the command name, which is in parentheses and may hold spaces.
    const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
    const double startTicks = fields.value(19).toDouble(); // field 22 overall
    const double now = uptime.readAll().split(' ').value(0).toDouble();
    return now - startTicks / double(sysconf(_SC_CLK_TCK));
}

qint64 rssKiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    return -1;
}

void useDataFolder(const QString &dir)
{
    qputenv("XDG_DATA_HOME", QDir(dir).absolutePath().toUtf8());
    qputenv("XDG_CONFIG_HOME", QDir(dir).absoluteFilePath(QStringLiteral("config")).toUtf8());
    qputenv("KITH_NO_KEYCHAIN", "1");
}

int seed(const QCommandLineParser &args)
{
    const int conversations = std::max(1, args.value(QStringLiteral("conversations")).toInt());
    const int total = std::max(1, args.value(QStringLiteral("messages")).toInt());
    const int biggest = std::min(total, args.value(QStringLiteral("biggest")).toInt());
    const QString appData = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    const QString path = LocalStore::defaultPath(kServer, kUser, appData);
    QFile::remove(path);
    LocalStore store;
    if (auto opened = store.open(path); !opened) {
        std::fprintf(stderr, "cannot open %s: %s\n", qPrintable(path),
                     qPrintable(opened.error().message));
        return 1;
    }
    (void)store.setValue(QString::fromLatin1(LocalStore::kKeyUserId), QString::number(kMe));
    (void)store.setValue(QString::fromLatin1(LocalStore::kKeyServerUrl), kServer.toString());
    (void)store.setValue(QString::fromLatin1(LocalStore::kKeyUsername), kUser);
    // A session saved by an earlier version: the app moves it to its vault.
    (void)store.setValue(QString::fromLatin1(LocalStore::kKeyLegacyToken),
                         QStringLiteral("bench-token"));
    QSettings index(appData + QStringLiteral("/session.ini"), QSettings::IniFormat);
    index.setValue(QStringLiteral("last/server"), kServer.toString());
    index.setValue(QStringLiteral("last/username"), kUser);

    const qint64 start = QDateTime::currentMSecsSinceEpoch() - qint64(total) * 60'000;
    int written = 0;
    for (int c = 0; c < conversations; ++c) {
        const quint64 peer = kMe + 1 + quint64(c);
        v1::User user;
        user.set_id(peer);
        user.set_username(toStd(QStringLiteral("peer%1").arg(c)));
        user.set_display_name(toStd(QStringLiteral("Person %1").arg(c)));
        (void)store.upsertUser(user);
        const QString id = directConversationId(kMe, peer);
        const int rest = conversations > 1 ? (total - biggest) / (conversations - 1) : 0;
        const int count = c == 0 ? std::max(biggest, 1) : std::max(rest, 1);
        for (int from = 1; from <= count; from += kPage) {
            QList<v1::Message> page;
            const int to = std::min(count, from + kPage - 1);
            for (int seq = from; seq <= to; ++seq) {
                v1::Message m;
                m.set_conversation_id(toStd(id));
                m.set_seq(quint64(seq));
                m.set_server_id(quint64(written + seq));
                m.set_sender_user_id(seq % 3 == 0 ? kMe : peer);
                m.set_server_time_ms(start + qint64(written + seq) * 60'000);
                m.mutable_content()->mutable_text()->set_body(
                    toStd(QStringLiteral("message %1 of chat %2: %3")
                              .arg(seq)
                              .arg(c)
                              .arg(QStringLiteral("some words ").repeated(1 + seq % 17))));
                page << m;
            }
            if (auto stored = store.storeMessages(id, page, {quint64(from), quint64(to)});
                !stored) {
                std::fprintf(stderr, "store failed: %s\n", qPrintable(stored.error().message));
                return 1;
            }
        }
        written += count;
    }
    std::printf("seeded %d conversations, %d messages (biggest %d) in %s\n", conversations, written,
                biggest, qPrintable(path));
    return 0;
}

} // namespace

int main(int argc, char *argv[])
{
    QElapsedTimer sinceMain;
    sinceMain.start();
    // The data folder must be known before Qt resolves any path.
    QString data;
    for (int i = 1; i + 1 < argc; ++i)
        if (qstrcmp(argv[i], "--data") == 0)
            data = QString::fromLocal8Bit(argv[i + 1]);
    if (!data.isEmpty())
        useDataFolder(data);

    // Seeding needs no window (nor a display).
    bool seeding = false;
    for (int i = 1; i < argc; ++i)
        seeding |= qstrcmp(argv[i], "seed") == 0;
    std::unique_ptr<QCoreApplication> app;
    if (seeding)
        app = std::make_unique<QCoreApplication>(argc, argv);
    else
        app = std::make_unique<QApplication>(argc, argv);
    // The app's names: the same store paths as `kith`.
    QCoreApplication::setOrganizationName(QStringLiteral("Kith"));
    QCoreApplication::setApplicationName(QStringLiteral("kith"));
    if (!seeding)
        QApplication::setApplicationDisplayName(QStringLiteral("Kith"));

    QCommandLineParser args;
    args.setApplicationDescription(QStringLiteral("Cold start and frame times of the Kith app."));
    args.addHelpOption();
    args.addPositionalArgument(QStringLiteral("command"), QStringLiteral("seed or run"));
    args.addOptions({
        {QStringLiteral("data"), QStringLiteral("Data folder (XDG_DATA_HOME)."),
         QStringLiteral("dir")},
        {QStringLiteral("conversations"), QStringLiteral("seed: conversations."),
         QStringLiteral("n"), QStringLiteral("50")},
        {QStringLiteral("messages"), QStringLiteral("seed: cached messages in all."),
         QStringLiteral("n"), QStringLiteral("200000")},
        {QStringLiteral("biggest"), QStringLiteral("seed: messages of the biggest chat."),
         QStringLiteral("n"), QStringLiteral("10000")},
        {QStringLiteral("fling"), QStringLiteral("run: messages to fling back through."),
         QStringLiteral("n"), QStringLiteral("10000")},
    });
    args.process(*app);
    if (data.isEmpty() || args.positionalArguments().size() != 1)
        args.showHelp(2);
    const QString command = args.positionalArguments().constFirst();
    if (seeding)
        return seed(args);
    if (command != QLatin1String("run"))
        args.showHelp(2);

    QQmlApplicationEngine engine;
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    engine.setInitialProperties({{QStringLiteral("width"), 1000}, {QStringLiteral("height"), 700}});
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Kith/App/Main.qml")));
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().value(0));
    if (!window)
        return 1;
    QObject *list = window->findChild<QObject *>(QStringLiteral("conversationList"));
    QJsonObject out{{QStringLiteral("scenario"), QStringLiteral("app")}};

    // 1. Cold start: the first frame drawn with the conversations in it.
    enum class Phase { Starting, Opening, Flinging, Done } phase = Phase::Starting;
    QList<qint64> frameGaps;
    QElapsedTimer frameClock;
    qint64 lastFrame = -1;
    QObject::connect(window, &QQuickWindow::frameSwapped, window, [&] {
        if (phase == Phase::Starting && list && list->property("count").toInt() > 0) {
            out.insert(QStringLiteral("cold_start_ms"), qRound(secondsSinceExec() * 1000));
            out.insert(QStringLiteral("cold_start_from_main_ms"), sinceMain.elapsed());
            out.insert(QStringLiteral("conversations_shown"), list->property("count").toInt());
            phase = Phase::Opening;
        } else if (phase == Phase::Flinging) {
            const qint64 now = frameClock.elapsed();
            if (lastFrame >= 0)
                frameGaps << now - lastFrame;
            lastFrame = now;
        }
    });

    // 2. The biggest chat opened; 3. flung back through.
    QTimer step;
    int flingTarget = args.value(QStringLiteral("fling")).toInt();
    qint64 newestSeq = 0;
    int flicks = 0;
    step.setInterval(50);
    QObject::connect(&step, &QTimer::timeout, window, [&] {
        QQuickItem *timeline = window->findChild<QQuickItem *>(QStringLiteral("messageList"));
        if (phase == Phase::Opening) {
            if (list->property("count").toInt() == 0)
                return;
            // The biggest chat is the first seeded: "Person 0".
            auto *model = qvariant_cast<QAbstractItemModel *>(list->property("model"));
            QString id;
            for (int r = 0; model && r < model->rowCount(); ++r)
                if (model->data(model->index(r, 0), Qt::DisplayRole).toString() ==
                    QLatin1String("Person 0"))
                    id = model->data(model->index(r, 0), Qt::UserRole + 1).toString();
            QMetaObject::invokeMethod(window, "openConversation", Q_ARG(QVariant, id),
                                      Q_ARG(QVariant, 0));
            phase = Phase::Flinging;
            // Let the page load and draw before RSS and before flinging.
            step.stop();
            QTimer::singleShot(1500, window, [&] {
                out.insert(QStringLiteral("rss_after_open_kib"), rssKiB());
                auto *messages = qvariant_cast<QAbstractItemModel *>(
                    window->findChild<QQuickItem *>(QStringLiteral("messageList"))
                        ->property("model"));
                newestSeq =
                    messages->data(messages->index(messages->rowCount() - 1, 0), Qt::UserRole + 1)
                        .toLongLong();
                frameClock.start();
                lastFrame = -1;
                step.start();
            });
            return;
        }
        if (phase != Phase::Flinging || !timeline)
            return;
        // A fling ends when the view stops (at a bound Flickable may still
        // say "flicking" while nothing moves).
        static double lastY = 0;
        static int still = 0;
        const double y = timeline->property("contentY").toDouble();
        still = y == lastY ? still + 1 : 0;
        lastY = y;
        if (timeline->property("flicking").toBool() && still < 4)
            return;
        auto *messages = qvariant_cast<QAbstractItemModel *>(timeline->property("model"));
        const qint64 oldestShown =
            messages->data(messages->index(0, 0), Qt::UserRole + 1).toLongLong();
        if (newestSeq - oldestShown >= flingTarget || oldestShown <= 1 || flicks > 5000) {
            phase = Phase::Done;
            step.stop();
            QList<qint64> sorted = frameGaps;
            std::sort(sorted.begin(), sorted.end());
            const auto at = [&](double q) {
                return sorted.isEmpty() ? 0
                                        : sorted.at(qMin(sorted.size() - 1,
                                                         qsizetype(q * double(sorted.size()))));
            };
            out.insert(QStringLiteral("fling_messages"), qint64(newestSeq - oldestShown));
            out.insert(QStringLiteral("fling_flicks"), flicks);
            out.insert(QStringLiteral("frames"), qint64(sorted.size()));
            out.insert(QStringLiteral("frame_ms_p50"), at(0.5));
            out.insert(QStringLiteral("frame_ms_p99"), at(0.99));
            out.insert(QStringLiteral("frame_ms_max"), sorted.isEmpty() ? 0 : sorted.last());
            out.insert(QStringLiteral("frames_over_50ms"),
                       qint64(std::count_if(sorted.begin(), sorted.end(),
                                            [](qint64 gap) { return gap > 50; })));
            out.insert(QStringLiteral("rss_after_fling_kib"), rssKiB());
            std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
            std::fflush(stdout);
            QCoreApplication::quit();
            return;
        }
        // A hard fling upwards, as a reader's fast wheel or swipe.
        lastFrame = -1; // the pause between flicks is not a frame time
        timeline->setProperty("maximumFlickVelocity", 20'000);
        QMetaObject::invokeMethod(timeline, "flick", Q_ARG(qreal, 0), Q_ARG(qreal, 20'000));
        ++flicks;
    });
    step.start();
    // Never hang a measurement.
    QTimer::singleShot(600'000, app.get(), [] {
        std::fprintf(stderr, "kith-app-bench: gave up after 10 minutes\n");
        QCoreApplication::exit(1);
    });
    return app->exec();
}
