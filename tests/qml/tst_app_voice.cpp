// A real voice note through the whole window: a PulseAudio daemon of the
// test's own (a sine source as the microphone, a null sink as the speaker,
// in a temporary runtime folder, stopped by its PID), a real kithd, the app's
// Main.qml logged in as ann, kith-cli and a protocol client as bob. ann
// records two seconds from the composer's microphone and sends them; bob's
// message is a voice note with a sane length, the file he downloads is the
// bytes ann recorded and plays to its end; bob sends it back as a voice note
// and ann's bubble plays it. Skipped ("kith-test-skip: ") where no PulseAudio
// daemon can be started. Screenshots of the composer, the recording bar and
// the bubbles go under the build folder.

#include "kith/client/kith_client.h"
#include "kith/client/message_list_model.h"
#include "kith/client/transfer_queue.h"
#include "kith/sha256.h"
#include "media.h"
#include "message_text.h"
#include "test_client.h"
#include "test_server.h"
#include "voice_player.h"
#include "voice_recorder.h"

#include <QAbstractItemModel>
#include <QApplication>
#include <QAudioDevice>
#include <QAudioOutput>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>
#include <QMediaDevices>
#include <QMediaPlayer>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

#include <cstdio>

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
using kith::client::MessageListModel;

namespace {
constexpr int kUiTimeoutMs = 30'000;
constexpr int kCliTimeoutMs = 60'000;
const QString kAnnPassword = QStringLiteral("ann's long password");
const QString kBobPassword = QStringLiteral("bob's long password");

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

// The last voice note of the model sent by ann (own) or not, or -1.
int lastVoiceNote(const QAbstractItemModel *model, bool own)
{
    for (int row = model->rowCount() - 1; row >= 0; --row)
        if (roleValue(model, row, "isVoiceNote").toBool() &&
            roleValue(model, row, "isOwn").toBool() == own)
            return row;
    return -1;
}
} // namespace

class AppVoice : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase();
    void recordsSendsAndThePeerPlaysIt();
    void cleanupTestCase();

private:
    // Starts pulseaudio with a sine source and a null sink; false with why not.
    bool startPulse(QString *whyNot);
    QByteArray bob(const QStringList &args, bool *ok);
    QQuickItem *item(const char *objectName) const
    {
        return m_window->findChild<QQuickItem *>(QLatin1String(objectName));
    }
    void click(QQuickItem *target)
    {
        QVERIFY(target);
        QTest::mouseClick(
            m_window, Qt::LeftButton, {},
            target->mapToScene(QPointF(target->width() / 2, target->height() / 2)).toPoint());
    }
    // The window in both palettes, at its width now.
    void shoot(const QString &name)
    {
        QTest::qWait(300);
        QVERIFY(m_window->grabWindow().save(
            QStringLiteral(KITH_ARTIFACT_DIR "/voicerec-%1-light.png").arg(name)));
        m_window->setProperty("startTheme", QStringLiteral("dark"));
        QTest::qWait(100);
        QVERIFY(m_window->grabWindow().save(
            QStringLiteral(KITH_ARTIFACT_DIR "/voicerec-%1-dark.png").arg(name)));
        m_window->setProperty("startTheme", QStringLiteral("light"));
    }

    QTemporaryDir m_home;
    QProcess m_pulse;
    kith::test::TestServer m_server;
    std::unique_ptr<QQmlApplicationEngine> m_engine;
    QQuickWindow *m_window = nullptr;
};

bool AppVoice::startPulse(QString *whyNot)
{
    const QString binary = QStandardPaths::findExecutable(QStringLiteral("pulseaudio"));
    if (binary.isEmpty()) {
        *whyNot = QStringLiteral("needs pulseaudio (the Debian package) for a microphone");
        return false;
    }
    const QString runtime = m_home.filePath(QStringLiteral("pulse-runtime"));
    QDir().mkpath(runtime + QStringLiteral("/pulse"));
    QFile::setPermissions(runtime, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    const QString socket = runtime + QStringLiteral("/pulse/native");
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    // Its state and cookie in the test's folders, never a person's.
    env.insert(QStringLiteral("HOME"), runtime);
    env.insert(QStringLiteral("XDG_RUNTIME_DIR"), runtime);
    env.insert(QStringLiteral("XDG_CONFIG_HOME"), runtime + QStringLiteral("/config"));
    env.remove(QStringLiteral("PULSE_SERVER"));
    m_pulse.setProcessEnvironment(env);
    // To a file, not a pipe nobody reads: a chatty daemon never blocks on it.
    const QString log = runtime + QStringLiteral("/pulseaudio.log");
    m_pulse.setProcessChannelMode(QProcess::MergedChannels);
    m_pulse.setStandardOutputFile(log);
    m_pulse.start(
        binary,
        {QStringLiteral("-n"), QStringLiteral("--daemonize=no"),
         QStringLiteral("--exit-idle-time=-1"), QStringLiteral("--use-pid-file=no"),
         QStringLiteral("--disallow-module-loading"), QStringLiteral("--log-target=stderr"),
         QStringLiteral("-L"),
         QStringLiteral("module-native-protocol-unix socket=%1 auth-anonymous=1").arg(socket),
         QStringLiteral("-L"), QStringLiteral("module-null-sink sink_name=kith_speaker"),
         QStringLiteral("-L"),
         QStringLiteral("module-sine-source source_name=kith_mic frequency=440")});
    if (!m_pulse.waitForStarted(10'000)) {
        *whyNot = QStringLiteral("pulseaudio did not start: ") + m_pulse.errorString();
        return false;
    }
    QDeadlineTimer deadline(15'000);
    while (!QFileInfo::exists(socket) && m_pulse.state() == QProcess::Running &&
           !deadline.hasExpired())
        m_pulse.waitForFinished(100);
    if (!QFileInfo::exists(socket) || m_pulse.state() != QProcess::Running) {
        QFile output(log);
        *whyNot = QStringLiteral("pulseaudio did not come up: ") +
                  (output.open(QIODevice::ReadOnly)
                       ? QString::fromLocal8Bit(output.readAll()).trimmed().right(400)
                       : QStringLiteral("no log"));
        return false;
    }
    // This process, and whatever it starts, speaks to that daemon only.
    qputenv("PULSE_SERVER", ("unix:" + socket).toUtf8());
    return true;
}

void AppVoice::initTestCase()
{
    QVERIFY(m_home.isValid());
    qputenv("XDG_DATA_HOME", m_home.filePath(QStringLiteral("app-data")).toUtf8());
    qputenv("XDG_CONFIG_HOME", m_home.filePath(QStringLiteral("app-config")).toUtf8());
    qputenv("XDG_CACHE_HOME", m_home.filePath(QStringLiteral("app-cache")).toUtf8());
    // As main() does, before anything in this process looks for audio devices.
    kith::app::chooseMediaBackend();
    QString whyNot;
    if (!startPulse(&whyNot)) {
        std::printf("kith-test-skip: %s\n", qPrintable(whyNot));
        std::fflush(stdout);
        QSKIP("no PulseAudio daemon of the test's own");
    }
    QTRY_VERIFY_WITH_TIMEOUT(!QMediaDevices::audioInputs().isEmpty(), 15'000);
    QVERIFY(m_server.start());

    QCoreApplication::setOrganizationName(QStringLiteral("KithTest"));
    QImageReader::setAllocationLimit(kith::app::kImageAllocationLimitMiB);
    kith::app::MessageText::preferColourEmoji();
    kith::client::TransferQueue::setImageInspector(&kith::app::inspectImage);

    bool ok = false;
    bob({QStringLiteral("register"), QStringLiteral("bob"), kBobPassword}, &ok);
    QVERIFY(ok);
}

void AppVoice::cleanupTestCase()
{
    m_engine.reset();
    if (m_pulse.state() != QProcess::NotRunning) {
        m_pulse.terminate(); // SIGTERM to the PID it started
        if (!m_pulse.waitForFinished(10'000)) {
            m_pulse.kill();
            m_pulse.waitForFinished();
        }
    }
}

QByteArray AppVoice::bob(const QStringList &args, bool *ok)
{
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_DATA_HOME"), m_home.filePath(QStringLiteral("cli-bob")));
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(KITH_CLI_PATH),
                  QStringList{QStringLiteral("--server"), m_server.url().toString(),
                              QStringLiteral("--user"), QStringLiteral("bob"),
                              QStringLiteral("--password"), kBobPassword} +
                      args);
    const bool finished = process.waitForFinished(kCliTimeoutMs);
    if (!finished)
        process.kill();
    *ok = finished && process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
    if (!*ok)
        qWarning() << "kith-cli" << args << "failed:" << process.readAllStandardError();
    return process.readAllStandardOutput();
}

void AppVoice::recordsSendsAndThePeerPlaysIt()
{
    m_engine = std::make_unique<QQmlApplicationEngine>();
    m_engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
    m_engine->setInitialProperties({
        {QStringLiteral("startServer"), m_server.url().toString()},
        {QStringLiteral("startUser"), QStringLiteral("ann")},
        {QStringLiteral("startPassword"), kAnnPassword},
        {QStringLiteral("startRegister"), true},
        {QStringLiteral("startTheme"), QStringLiteral("light")},
        {QStringLiteral("width"), 1000},
        {QStringLiteral("height"), 640},
    });
    m_engine->load(QUrl(QStringLiteral("qrc:/qt/qml/Kith/App/Main.qml")));
    QCOMPARE(m_engine->rootObjects().size(), 1);
    m_window = qobject_cast<QQuickWindow *>(m_engine->rootObjects().constFirst());
    QVERIFY(m_window);
    auto *client =
        m_engine->singletonInstance<KithClient *>(qmlTypeId("Kith.Client", 1, 0, "KithClient"));
    QVERIFY(client);
    QTRY_VERIFY_WITH_TIMEOUT(client->hasSession() && client->isOnline(), kUiTimeoutMs);

    bool ok = false;
    const QString ask = QStringLiteral("Can you hum the tune from the demo?");
    bob({QStringLiteral("send"), QStringLiteral("ann"), ask}, &ok);
    QVERIFY(ok);
    QAbstractItemModel *conversations = client->conversations();
    QTRY_VERIFY_WITH_TIMEOUT(findRow(conversations, "lastMessage", ask) >= 0, kUiTimeoutMs);
    const QString conversationId =
        roleValue(conversations, findRow(conversations, "lastMessage", ask), "conversationId")
            .toString();
    QVERIFY(QMetaObject::invokeMethod(m_window, "openConversation", Q_ARG(QVariant, conversationId),
                                      Q_ARG(QVariant, 0)));
    QQuickItem *chatView = item("chatView");
    QVERIFY(chatView && chatView->isVisible());
    auto *messages = chatView->property("messages").value<QAbstractItemModel *>();
    QVERIFY(messages);
    QTRY_VERIFY_WITH_TIMEOUT(findRow(messages, "text", ask) >= 0, kUiTimeoutMs);

    // An empty message: the microphone where Send is, usable.
    QQuickItem *mic = item("micButton");
    QVERIFY(mic);
    QTRY_VERIFY_WITH_TIMEOUT(mic->isVisible() && mic->isEnabled(), kUiTimeoutMs);
    QVERIFY(!item("sendButton")->isVisible());
    shoot(QStringLiteral("composer-wide"));

    // Record two seconds.
    QObject *composer = item("composer");
    QVERIFY(composer);
    auto *recorder = composer->property("recorder").value<QObject *>();
    QVERIFY(recorder);
    click(mic);
    QTRY_VERIFY(item("recordingBar")->isVisible());
    QVERIFY(!item("composerInput")->isVisible());
    // The bar as the time runs, then on to two seconds.
    QTRY_VERIFY_WITH_TIMEOUT(recorder->property("elapsed").toLongLong() >= 500 ||
                                 recorder->property("state").toInt() ==
                                     kith::app::VoiceRecorder::Failed,
                             kUiTimeoutMs);
    // The meter hears the sine (a silent or unreadable input reads 0).
    QTRY_VERIFY_WITH_TIMEOUT(recorder->property("level").toDouble() > 0.2 ||
                                 recorder->property("state").toInt() !=
                                     kith::app::VoiceRecorder::Recording,
                             kUiTimeoutMs);
    QVERIFY2(item("levelMeter")->property("lit").toInt() > 0,
             qPrintable(QString::number(recorder->property("level").toDouble())));
    shoot(QStringLiteral("recording-wide"));
    m_window->setWidth(400);
    QTRY_COMPARE(item("chatSlot")->x(), 0.0);
    shoot(QStringLiteral("recording-narrow"));
    m_window->setWidth(1000);
    QTRY_VERIFY_WITH_TIMEOUT(recorder->property("elapsed").toLongLong() >= 2000 ||
                                 recorder->property("state").toInt() ==
                                     kith::app::VoiceRecorder::Failed,
                             kUiTimeoutMs);
    QVERIFY2(recorder->property("state").toInt() == kith::app::VoiceRecorder::Recording,
             qPrintable(recorder->property("error").toString()));

    // Enter sends it once the file is finished.
    m_window->requestActivate();
    QTRY_VERIFY(m_window->isActive());
    QTRY_VERIFY(item("recordingBar")->hasActiveFocus());
    QTest::keyClick(m_window, Qt::Key_Return);
    QTRY_VERIFY_WITH_TIMEOUT(
        recorder->property("state").toInt() == kith::app::VoiceRecorder::Idle ||
            recorder->property("state").toInt() == kith::app::VoiceRecorder::Failed,
        kUiTimeoutMs);
    QVERIFY2(recorder->property("state").toInt() == kith::app::VoiceRecorder::Idle,
             qPrintable(recorder->property("error").toString()));
    int own = -1;
    QTRY_VERIFY_WITH_TIMEOUT((own = lastVoiceNote(messages, true)) >= 0 &&
                                 roleValue(messages, own, "seq").toLongLong() > 0,
                             kUiTimeoutMs);
    QTRY_VERIFY(!item("recordingBar")->isVisible());
    const qint64 seq = roleValue(messages, own, "seq").toLongLong();
    const int durationMs = roleValue(messages, own, "durationMs").toInt();
    // Two seconds asked for; the stop comes a little after on a busy machine.
    QVERIFY2(durationMs >= 1900 && durationMs <= 15'000, qPrintable(QString::number(durationMs)));
    const QString recorded = roleValue(messages, own, "fileUrl").toUrl().toLocalFile();
    QVERIFY(QFileInfo(recorded).size() > 0);

    // bob's message says voice note, with that length.
    kith::test::TestClient peer;
    QVERIFY(peer.connectAndLogin(m_server.url(), QStringLiteral("bob"), kBobPassword));
    const auto history = peer.pullAll(conversationId);
    QVERIFY(history);
    const kith::v1::Message *note = nullptr;
    for (const auto &m : *history)
        if (m.seq() == quint64(seq))
            note = &m;
    QVERIFY(note && note->content().has_file());
    const kith::v1::FileRef &ref = note->content().file();
    QVERIFY(ref.voice_note());
    QCOMPARE(int(ref.duration_ms()), durationMs);
    QVERIFY2(QString::fromStdString(ref.mime_type()).startsWith(QStringLiteral("audio/")),
             ref.mime_type().c_str());

    // The bytes bob downloads are ann's recording, and they play to the end.
    const QString fetched =
        m_home.filePath(QStringLiteral("bob-voice.") + QFileInfo(recorded).suffix());
    bob({QStringLiteral("download"), QStringLiteral("ann"), QString::number(seq), fetched}, &ok);
    QVERIFY(ok);
    {
        QFile mine(recorded);
        QFile theirs(fetched);
        QVERIFY(mine.open(QIODevice::ReadOnly) && theirs.open(QIODevice::ReadOnly));
        QVERIFY(mine.readAll() == theirs.readAll());
    }
    {
        QMediaPlayer player;
        QAudioOutput speaker;
        player.setAudioOutput(&speaker);
        QString error;
        connect(&player, &QMediaPlayer::errorOccurred, this,
                [&error](QMediaPlayer::Error, const QString &message) { error = message; });
        player.setSource(QUrl::fromLocalFile(fetched));
        QTRY_VERIFY_WITH_TIMEOUT(
            player.mediaStatus() == QMediaPlayer::LoadedMedia || !error.isEmpty(), kUiTimeoutMs);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QVERIFY2(qAbs(player.duration() - durationMs) <= 1000,
                 qPrintable(QStringLiteral("%1 vs %2").arg(player.duration()).arg(durationMs)));
        player.play();
        QTRY_VERIFY_WITH_TIMEOUT(
            player.mediaStatus() == QMediaPlayer::EndOfMedia || !error.isEmpty(), kUiTimeoutMs);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    // bob sends it back as a voice note from the command line: ann's bubble
    // has its length, fetches it by itself and plays it.
    bob({QStringLiteral("send-file"), QStringLiteral("ann"), fetched,
         QStringLiteral("--voice-note"), QString::number(durationMs)},
        &ok);
    QVERIFY(ok);
    int theirs = -1;
    QTRY_VERIFY_WITH_TIMEOUT((theirs = lastVoiceNote(messages, false)) >= 0 &&
                                 roleValue(messages, theirs, "fileState").toInt() ==
                                     int(MessageListModel::Ready),
                             kUiTimeoutMs);
    QCOMPARE(roleValue(messages, theirs, "durationMs").toInt(), durationMs);
    QQuickItem *timeline = item("messageList");
    QMetaObject::invokeMethod(timeline, "positionViewAtIndex", Q_ARG(int, theirs), Q_ARG(int, 0));
    QQuickItem *bubble = nullptr;
    QTRY_VERIFY(QMetaObject::invokeMethod(timeline, "itemAtIndex",
                                          Q_RETURN_ARG(QQuickItem *, bubble), Q_ARG(int, theirs)) &&
                bubble);
    auto *card = bubble->findChild<QQuickItem *>(QStringLiteral("audioCard"));
    QVERIFY(card && card->isVisible());
    auto *seekBar = card->findChild<QQuickItem *>(QStringLiteral("seekBar"));
    QVERIFY(seekBar);
    QTRY_VERIFY(seekBar->isEnabled());
    auto *time = card->findChild<QQuickItem *>(QStringLiteral("audioTime"));
    QVERIFY(time);
    QTRY_VERIFY(QRegularExpression(QStringLiteral("^0:[0-9][0-9]$"))
                    .match(time->property("text").toString())
                    .hasMatch());
    click(card->findChild<QQuickItem *>(QStringLiteral("playButton")));
    QTRY_VERIFY_WITH_TIMEOUT(seekBar->property("value").toDouble() > 0, kUiTimeoutMs);
    QTRY_VERIFY(time->property("text").toString().contains(u'/'));

    QMetaObject::invokeMethod(timeline, "positionViewAtEnd");
    shoot(QStringLiteral("bubbles-wide"));
    m_window->setWidth(400);
    QTRY_COMPARE(item("chatSlot")->x(), 0.0);
    shoot(QStringLiteral("bubbles-narrow"));
    m_window->setWidth(1000);
    // Esc in the window drops a recording (and its file), not the chat.
    const QDir recordings(recorder->property("folder").toString());
    const QStringList kept = recordings.entryList(QDir::Files);
    QCOMPARE(kept.size(), 1); // the one sent, until the upload is long done
    click(item("micButton"));
    QTRY_VERIFY(item("recordingBar")->isVisible());
    QTRY_VERIFY_WITH_TIMEOUT(recordings.entryList(QDir::Files).size() == 2, kUiTimeoutMs);
    QTest::keyClick(m_window, Qt::Key_Escape);
    QTRY_VERIFY(!item("recordingBar")->isVisible());
    QVERIFY(item("chatView")->isVisible());
    QCOMPARE(m_window->property("currentConversationId").toString(), conversationId);
    QTRY_COMPARE_WITH_TIMEOUT(recordings.entryList(QDir::Files), kept, kUiTimeoutMs);
    QCOMPARE(lastVoiceNote(messages, true), own);
    qInfo("screenshots in %s", KITH_ARTIFACT_DIR);
}

QTEST_MAIN(AppVoice)
#include "tst_app_voice.moc"
