// The voice recorder's logic without a microphone: the format it picks from
// what a backend can encode, its states with a scripted engine (start,
// finish, a failure, a platform that never lets go of the file), cancel
// removing the file, and the cap that stops and keeps the recording.
#include "voice_recorder.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace kith::app;

namespace {
// Writes a file as a recorder would and reports what the test tells it to.
class ScriptedEngine : public VoiceRecorderEngine
{
public:
    bool input = true;
    QString fileSuffix = QStringLiteral("m4a");
    bool answerStop = true; // stopped() at once on stop()
    bool writeBytes = true;
    bool failOnStart = false;
    QString path;
    qint64 tail = 0; // the length stopped() reports
    int starts = 0;
    int stops = 0;

    bool hasInput() const override { return input; }
    QString suffix() const override { return fileSuffix; }

    void start(const QString &to) override
    {
        ++starts;
        path = to;
        if (failOnStart)
            return emit failed(QStringLiteral("device busy"));
        QFile file(path);
        if (file.open(QIODevice::WriteOnly) && writeBytes)
            file.write("recorded bytes");
    }

    void stop() override
    {
        ++stops;
        if (answerStop)
            emit stopped(path, tail);
    }

    void grow(qint64 ms) { emit durationChanged(ms); }
    void sound(qreal level) { emit levelChanged(level); }
    void letGo() { emit stopped(path, tail); }
};

struct Rig
{
    QTemporaryDir dir;
    ScriptedEngine *engine = nullptr;
    std::unique_ptr<VoiceRecorder> recorder;

    Rig()
    {
        auto owned = std::make_unique<ScriptedEngine>();
        engine = owned.get();
        recorder = std::make_unique<VoiceRecorder>(std::move(owned));
        recorder->setFolder(dir.filePath(QStringLiteral("recordings")));
    }
    [[nodiscard]] QStringList files() const
    {
        return QDir(recorder->folder()).entryList(QDir::Files);
    }
};
} // namespace

class TestVoiceRecorder : public QObject
{
    Q_OBJECT
private slots:
#ifdef KITH_HAVE_MULTIMEDIA
    void choosesFormatFromWhatCanBeEncoded_data()
    {
        using F = QMediaFormat;
        using C = QMediaFormat::AudioCodec;
        QTest::addColumn<QList<F::FileFormat>>("formats");
        QTest::addColumn<QList<QList<C>>>("codecs"); // per format, in the same order
        QTest::addColumn<int>("fileFormat");
        QTest::addColumn<int>("codec");
        QTest::addColumn<QString>("suffix");

        QTest::newRow("opus in ogg first")
            << QList<F::FileFormat>{F::Wave, F::Mpeg4Audio, F::Ogg}
            << QList<QList<C>>{{C::Wave}, {C::AAC, C::Opus}, {C::Vorbis, C::Opus}} << int(F::Ogg)
            << int(C::Opus) << QStringLiteral("ogg");
        // Qt 6.4's FFmpeg backend: Ogg with Vorbis only.
        QTest::newRow("aac in m4a next")
            << QList<F::FileFormat>{F::Ogg, F::WebM, F::Mpeg4Audio, F::Wave}
            << QList<QList<C>>{{C::Vorbis}, {C::Opus, C::Vorbis}, {C::MP3, C::AAC}, {C::Wave}}
            << int(F::Mpeg4Audio) << int(C::AAC) << QStringLiteral("m4a");
        QTest::newRow("opus in webm before vorbis")
            << QList<F::FileFormat>{F::Ogg, F::WebM} << QList<QList<C>>{{C::Vorbis}, {C::Opus}}
            << int(F::WebM) << int(C::Opus) << QStringLiteral("webm");
        QTest::newRow("wave when nothing else")
            << QList<F::FileFormat>{F::MPEG4, F::Wave} << QList<QList<C>>{{}, {C::Wave}}
            << int(F::Wave) << int(C::Wave) << QStringLiteral("wav");
        QTest::newRow("any audio format with any codec")
            << QList<F::FileFormat>{F::AVI, F::WMA} << QList<QList<C>>{{C::MP3}, {C::WMA}}
            << int(F::WMA) << int(C::WMA) << QStringLiteral("wma");
        QTest::newRow("a listed format without codecs is none")
            << QList<F::FileFormat>{F::Ogg, F::Mpeg4Audio} << QList<QList<C>>{{}, {}} << -1 << -1
            << QString();
        QTest::newRow("video containers only")
            << QList<F::FileFormat>{F::AVI, F::Matroska} << QList<QList<C>>{{C::MP3}, {C::Opus}}
            << -1 << -1 << QString();
        QTest::newRow("nothing") << QList<F::FileFormat>{} << QList<QList<C>>{} << -1 << -1
                                 << QString();
    }

    void choosesFormatFromWhatCanBeEncoded()
    {
        QFETCH(QList<QMediaFormat::FileFormat>, formats);
        QFETCH(QList<QList<QMediaFormat::AudioCodec>>, codecs);
        QFETCH(int, fileFormat);
        QFETCH(int, codec);
        QFETCH(QString, suffix);
        const auto chosen = chooseVoiceFormat(formats, [&](QMediaFormat::FileFormat format) {
            const qsizetype at = formats.indexOf(format);
            return at >= 0 ? codecs.value(at) : QList<QMediaFormat::AudioCodec>{};
        });
        if (fileFormat < 0) {
            QVERIFY(!chosen);
            return;
        }
        QVERIFY(chosen);
        QCOMPARE(int(chosen->fileFormat), fileFormat);
        QCOMPARE(int(chosen->codec), codec);
        QCOMPARE(chosen->suffix, suffix);
    }
#endif

    // The meter: silence and below -60 dBFS read 0, full scale 1, and the
    // steps between are even in decibels.
    void meterReadsDecibels()
    {
        QCOMPARE(meterLevel(0), 0.0);
        QCOMPARE(meterLevel(-1), 0.0);
        QCOMPARE(meterLevel(0.0001f), 0.0); // -80 dBFS
        QCOMPARE(meterLevel(1), 1.0);
        QCOMPARE(meterLevel(2), 1.0);
        QVERIFY(qAbs(meterLevel(0.1f) - 2.0 / 3) < 1e-6);  // -20 dBFS
        QVERIFY(qAbs(meterLevel(0.01f) - 1.0 / 3) < 1e-6); // -40 dBFS
        QVERIFY(meterLevel(0.5f) > meterLevel(0.25f));
    }

    // The level follows the engine while recording, and reads 0 before,
    // after, and for whatever the engine says once the recording stopped.
    void levelFollowsTheInputWhileRecording()
    {
        Rig rig;
        QSignalSpy levels(rig.recorder.get(), &VoiceRecorder::levelChanged);
        rig.engine->sound(0.8); // before a recording: not shown
        QCOMPARE(rig.recorder->level(), 0.0);
        QVERIFY(rig.recorder->start());
        rig.engine->grow(900);
        rig.engine->sound(0.5);
        QCOMPARE(rig.recorder->level(), 0.5);
        rig.engine->sound(0.25);
        QCOMPARE(rig.recorder->level(), 0.25);
        rig.engine->sound(3); // out of range: clamped
        QCOMPARE(rig.recorder->level(), 1.0);
        rig.engine->answerStop = false;
        rig.recorder->finish();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Stopping);
        QCOMPARE(rig.recorder->level(), 0.0);
        rig.engine->sound(0.7); // the tail of the input while the file is finished
        QCOMPARE(rig.recorder->level(), 0.0);
        rig.engine->letGo();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Finished);
        QCOMPARE(rig.recorder->level(), 0.0);
        QCOMPARE(levels.count(), 4);
    }

    void recordsAndFinishes()
    {
        Rig rig;
        QVERIFY(rig.recorder->isAvailable());
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Idle);
        QSignalSpy finished(rig.recorder.get(), &VoiceRecorder::finished);
        QVERIFY(rig.recorder->start());
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Recording);
        // A file of its own, named for what is recorded, in the folder.
        QVERIFY(rig.engine->path.startsWith(rig.recorder->folder() + u'/'));
        QVERIFY(rig.engine->path.endsWith(QStringLiteral(".m4a")));
        QVERIFY(rig.recorder->fileUrl().isEmpty());
        // Refused while one is under way.
        QVERIFY(!rig.recorder->start());
        QCOMPARE(rig.engine->starts, 1);

        rig.engine->grow(800);
        rig.engine->grow(1700);
        QCOMPARE(rig.recorder->elapsed(), 1700);
        rig.recorder->finish();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Finished);
        QCOMPARE(rig.recorder->fileUrl(), QUrl::fromLocalFile(rig.engine->path));
        QVERIFY(QFile::exists(rig.engine->path));
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(0).toUrl(), QUrl::fromLocalFile(rig.engine->path));
        QCOMPARE(finished.first().at(1).toLongLong(), 1700);
        QVERIFY(!rig.recorder->limitReached());

        // What was still on its way at the stop counts.
        rig.recorder->reset();
        rig.engine->tail = 2600;
        QVERIFY(rig.recorder->start());
        rig.engine->grow(1500);
        rig.recorder->finish();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Finished);
        QCOMPARE(rig.recorder->elapsed(), 2600);
        QCOMPARE(finished.last().at(1).toLongLong(), 2600);
        rig.engine->tail = 0;

        // Sent: forgotten here, the file kept for the upload.
        rig.recorder->reset();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Idle);
        QVERIFY(QFile::exists(rig.engine->path));

        // The next one starts from zero with a name of its own.
        const QString first = rig.engine->path;
        QVERIFY(rig.recorder->start());
        QCOMPARE(rig.recorder->elapsed(), 0);
        QVERIFY(rig.engine->path != first);
        QCOMPARE(rig.files().size(), 3);
    }

    void waitsForThePlatformToFinishTheFile()
    {
        Rig rig;
        rig.engine->answerStop = false;
        QVERIFY(rig.recorder->start());
        rig.engine->grow(500);
        rig.recorder->finish();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Stopping);
        QVERIFY(rig.recorder->fileUrl().isEmpty());
        // Durations after the stop do not move the clock.
        rig.engine->grow(900);
        QCOMPARE(rig.recorder->elapsed(), 500);
        rig.engine->letGo();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Finished);

        // A platform that never lets go: failed, and no half file kept.
        Rig stuck;
        stuck.engine->answerStop = false;
        stuck.recorder->setStopTimeoutMs(50);
        QVERIFY(stuck.recorder->start());
        stuck.recorder->finish();
        QTRY_COMPARE_WITH_TIMEOUT(stuck.recorder->state(), VoiceRecorder::Failed, 10000);
        QVERIFY(!stuck.recorder->error().isEmpty());
        QVERIFY(stuck.files().isEmpty());
    }

    void cancelRemovesTheFile()
    {
        Rig rig;
        QVERIFY(rig.recorder->start());
        rig.engine->grow(1200);
        QCOMPARE(rig.files().size(), 1);
        rig.recorder->cancel();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Idle);
        QCOMPARE(rig.engine->stops, 1);
        QVERIFY(rig.files().isEmpty());

        // Cancelled before the platform let go: removed once it does, and
        // nothing new starts meanwhile.
        rig.engine->answerStop = false;
        QSignalSpy finished(rig.recorder.get(), &VoiceRecorder::finished);
        QVERIFY(rig.recorder->start());
        rig.recorder->cancel();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Idle);
        QCOMPARE(rig.files().size(), 1);
        QVERIFY(!rig.recorder->start());
        rig.engine->letGo();
        QVERIFY(rig.files().isEmpty());
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Idle);
        QCOMPARE(finished.size(), 0);

        // A finished recording cancelled instead of sent.
        rig.engine->answerStop = true;
        QVERIFY(rig.recorder->start());
        rig.engine->grow(700);
        rig.recorder->finish();
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Finished);
        rig.recorder->cancel();
        QVERIFY(rig.files().isEmpty());
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Idle);
    }

    void capStopsAndKeepsTheRecording()
    {
        Rig rig;
        QCOMPARE(rig.recorder->maxDurationMs(), 15 * 60 * 1000);
        rig.recorder->setMaxDurationMs(3000);
        QSignalSpy finished(rig.recorder.get(), &VoiceRecorder::finished);
        QVERIFY(rig.recorder->start());
        rig.engine->grow(2999);
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Recording);
        rig.engine->grow(3010);
        QCOMPARE(rig.engine->stops, 1);
        QCOMPARE(rig.recorder->state(), VoiceRecorder::Finished);
        QVERIFY(rig.recorder->limitReached());
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(1).toLongLong(), 3010);
        QVERIFY(QFile::exists(rig.engine->path));
    }

    void failuresSayWhy()
    {
        {
            Rig rig;
            rig.engine->input = false;
            QVERIFY(!rig.recorder->hasInput());
            QVERIFY(!rig.recorder->start());
            QCOMPARE(rig.recorder->state(), VoiceRecorder::Failed);
            QCOMPARE(rig.recorder->error(), QStringLiteral("No microphone found."));
            QCOMPARE(rig.engine->starts, 0);
        }
        {
            Rig rig;
            rig.engine->failOnStart = true;
            QVERIFY(!rig.recorder->start());
            QCOMPARE(rig.recorder->state(), VoiceRecorder::Failed);
            QCOMPARE(rig.recorder->error(), QStringLiteral("device busy"));
            QVERIFY(rig.files().isEmpty());
            // It can be tried again.
            rig.engine->failOnStart = false;
            QVERIFY(rig.recorder->start());
            QCOMPARE(rig.recorder->state(), VoiceRecorder::Recording);
            QVERIFY(rig.recorder->error().isEmpty());
        }
        {
            // Failing mid-way drops the half file.
            Rig rig;
            QVERIFY(rig.recorder->start());
            rig.engine->grow(400);
            emit rig.engine->failed(QStringLiteral("device unplugged"));
            QCOMPARE(rig.recorder->state(), VoiceRecorder::Failed);
            QCOMPARE(rig.recorder->error(), QStringLiteral("device unplugged"));
            QVERIFY(rig.files().isEmpty());
        }
        {
            // A stop with an empty file: nothing to send.
            Rig rig;
            rig.engine->writeBytes = false;
            QVERIFY(rig.recorder->start());
            rig.engine->grow(700);
            rig.recorder->finish();
            QCOMPARE(rig.recorder->state(), VoiceRecorder::Failed);
            QVERIFY(rig.files().isEmpty());
        }
        {
            // A file but not one sample in it (the length never moved).
            Rig rig;
            QVERIFY(rig.recorder->start());
            rig.recorder->finish();
            QCOMPARE(rig.recorder->state(), VoiceRecorder::Failed);
            QVERIFY(rig.recorder->error().startsWith(QStringLiteral("Nothing was recorded")));
            QVERIFY(rig.files().isEmpty());
        }
        {
            // No engine at all (a build without Qt Multimedia).
            VoiceRecorder none{std::unique_ptr<VoiceRecorderEngine>()};
            QVERIFY(!none.isAvailable());
            QVERIFY(!none.hasInput());
            QVERIFY(!none.start());
            QCOMPARE(none.state(), VoiceRecorder::Failed);
        }
        {
            // An engine that can encode nothing is no recorder.
            Rig rig;
            rig.engine->fileSuffix.clear();
            QVERIFY(!rig.recorder->isAvailable());
            QVERIFY(!rig.recorder->start());
        }
    }

    void inputChangesAreReported()
    {
        Rig rig;
        QSignalSpy changed(rig.recorder.get(), &VoiceRecorder::hasInputChanged);
        rig.engine->input = false;
        emit rig.engine->inputsChanged();
        QCOMPARE(changed.size(), 1);
        QVERIFY(!rig.recorder->hasInput());
    }
};

QTEST_GUILESS_MAIN(TestVoiceRecorder)
#include "tst_voice_recorder.moc"
