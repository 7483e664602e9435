#include "voice_recorder.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QStandardPaths>
#include <QUuid>

#include <algorithm>
#include <utility>

#include <cmath>

#ifdef KITH_HAVE_MULTIMEDIA
#include <QAudioDevice>
#include <QAudioInput>
#include <QAudioSource>
#include <QMediaCaptureSession>
#include <QMediaDevices>
#include <QMediaRecorder>
#endif

namespace kith::app {

Q_LOGGING_CATEGORY(lcVoice, "kith.app.voice")

#ifdef KITH_HAVE_MULTIMEDIA
std::optional<VoiceFormat> chooseVoiceFormat(
    const QList<QMediaFormat::FileFormat> &formats,
    const std::function<QList<QMediaFormat::AudioCodec>(QMediaFormat::FileFormat)> &codecsOf)
{
    using F = QMediaFormat;
    using C = QMediaFormat::AudioCodec;
    // Audio-only containers, with the suffix a recording of theirs gets.
    static const QList<std::pair<F::FileFormat, QString>> audioFormats{
        {F::Mpeg4Audio, QStringLiteral("m4a")}, {F::AAC, QStringLiteral("aac")},
        {F::MP3, QStringLiteral("mp3")},        {F::FLAC, QStringLiteral("flac")},
        {F::Wave, QStringLiteral("wav")},       {F::WMA, QStringLiteral("wma")}};
    // Small files for speech first; Ogg and WebM are audio here too.
    static const QList<VoiceFormat> preferred{
        {F::Ogg, C::Opus, QStringLiteral("ogg")},   {F::Mpeg4Audio, C::AAC, QStringLiteral("m4a")},
        {F::WebM, C::Opus, QStringLiteral("webm")}, {F::Ogg, C::Vorbis, QStringLiteral("ogg")},
        {F::MP3, C::MP3, QStringLiteral("mp3")},    {F::AAC, C::AAC, QStringLiteral("aac")},
        {F::FLAC, C::FLAC, QStringLiteral("flac")}, {F::Wave, C::Wave, QStringLiteral("wav")}};
    for (const VoiceFormat &format : preferred)
        if (formats.contains(format.fileFormat) &&
            codecsOf(format.fileFormat).contains(format.codec))
            return format;
    for (const auto &[fileFormat, suffix] : audioFormats) {
        if (!formats.contains(fileFormat))
            continue;
        const QList<C> codecs = codecsOf(fileFormat);
        if (!codecs.isEmpty())
            return VoiceFormat{fileFormat, codecs.first(), suffix};
    }
    return std::nullopt;
}

namespace {
// Reads the input a second time, only to tell how loud it is: Qt 6.4's
// recorder reports no level. 8 kHz mono is plenty for a meter. Whatever
// goes wrong here stays here: the meter shows nothing, the recording goes on.
class InputMeter : public QObject
{
public:
    // A member of `engine`, whose levelChanged it emits.
    explicit InputMeter(VoiceRecorderEngine *engine)
        : m_engine(engine)
    {}

    void start(const QAudioDevice &device)
    {
        stop();
        QAudioFormat format;
        format.setSampleRate(8000);
        format.setChannelCount(1);
        format.setSampleFormat(QAudioFormat::Int16);
        if (!device.isFormatSupported(format))
            format = device.preferredFormat();
        if (!format.isValid() || format.bytesPerFrame() <= 0)
            return;
        m_format = format;
        m_source = std::make_unique<QAudioSource>(device, format);
        m_source->setBufferSize(format.bytesForDuration(kReadingUs * 4));
        m_io = m_source->start();
        if (!m_io) {
            qCInfo(lcVoice) << "no input level: the input could not be opened a second time";
            m_source.reset();
            return;
        }
        connect(m_io, &QIODevice::readyRead, this, &InputMeter::read);
    }

    void stop()
    {
        if (!m_source)
            return;
        m_source->stop();
        m_source.reset();
        m_io = nullptr;
        m_peak = 0;
        m_frames = 0;
        emit m_engine->levelChanged(0);
    }

private:
    // One reading per this much sound (50 ms: 20 a second).
    static constexpr qint64 kReadingUs = 50'000;

    void read()
    {
        const QByteArray bytes = m_io->readAll();
        const int frameBytes = m_format.bytesPerFrame();
        const int sampleBytes = m_format.bytesPerSample();
        const qint32 perReading = m_format.framesForDuration(kReadingUs);
        for (qsizetype at = 0; at + frameBytes <= bytes.size(); at += frameBytes) {
            for (int c = 0; c < m_format.channelCount(); ++c)
                m_peak = std::max(m_peak, std::abs(m_format.normalizedSampleValue(
                                              bytes.constData() + at + c * sampleBytes)));
            if (++m_frames >= perReading) {
                emit m_engine->levelChanged(meterLevel(m_peak));
                m_peak = 0;
                m_frames = 0;
            }
        }
    }

    VoiceRecorderEngine *m_engine;
    QAudioFormat m_format;
    std::unique_ptr<QAudioSource> m_source;
    QIODevice *m_io = nullptr;
    float m_peak = 0;
    qint32 m_frames = 0;
};

// Qt Multimedia's recorder. The capture session is made at the first
// recording, so that a composer that never records costs one device watcher.
class MultimediaEngine : public VoiceRecorderEngine
{
public:
    explicit MultimediaEngine(QObject *parent = nullptr)
        : VoiceRecorderEngine(parent)
    {
        connect(&m_devices, &QMediaDevices::audioInputsChanged, this,
                &VoiceRecorderEngine::inputsChanged);
        QMediaFormat any;
        m_format = chooseVoiceFormat(
            any.supportedFileFormats(QMediaFormat::Encode),
            [](QMediaFormat::FileFormat fileFormat) {
                return QMediaFormat(fileFormat).supportedAudioCodecs(QMediaFormat::Encode);
            });
    }

    bool hasInput() const override { return !QMediaDevices::audioInputs().isEmpty(); }
    QString suffix() const override { return m_format ? m_format->suffix : QString(); }

    void start(const QString &path) override
    {
        if (!m_format)
            return emit failed(tr("This system can record in no audio format."));
        if (!m_recorder) {
            m_recorder = std::make_unique<QMediaRecorder>();
            m_input = std::make_unique<QAudioInput>();
            m_session.setAudioInput(m_input.get());
            m_session.setRecorder(m_recorder.get());
            m_firstSound.setSingleShot(true);
            m_firstSound.setInterval(kFirstSoundMs);
            connect(&m_firstSound, &QTimer::timeout, this, [this] {
                // Qt 6.4's FFmpeg backend now and then starts a recording
                // that never gets a sample: once more from the start.
                if (++m_attempts >= kAttempts)
                    return emit failed(tr("The microphone gave no sound."));
                qCInfo(lcVoice) << "no sound" << kFirstSoundMs << "ms into the recording: try"
                                << m_attempts + 1 << "of" << kAttempts;
                m_restarting = true;
                m_recorder->stop();
            });
            connect(m_recorder.get(), &QMediaRecorder::durationChanged, this, [this](qint64 ms) {
                if (m_restarting)
                    return;
                // The meter opens the input a second time only once the
                // recorder has its sound: opened beside a recorder still
                // starting, Qt 6.4's FFmpeg backend got none.
                if (m_firstSound.isActive())
                    m_meter.start(m_device);
                m_firstSound.stop();
                emit durationChanged(ms);
            });
            connect(m_recorder.get(), &QMediaRecorder::errorOccurred, this,
                    [this](QMediaRecorder::Error, const QString &message) {
                        m_firstSound.stop();
                        m_meter.stop();
                        emit failed(message.isEmpty() ? tr("The microphone could not be recorded.")
                                                      : message);
                    });
            connect(m_recorder.get(), &QMediaRecorder::recorderStateChanged, this,
                    [this](QMediaRecorder::RecorderState state) {
                        if (state != QMediaRecorder::StoppedState)
                            return;
                        if (std::exchange(m_restarting, false)) {
                            QFile::remove(m_writePath);
                            return record();
                        }
                        m_firstSound.stop();
                        qCInfo(lcVoice) << "recorded" << m_recorder->duration() << "ms";
                        emit stopped(moveIntoPlace(), m_recorder->duration());
                    });
        }
        // The device that is the default now, not the one at the first recording.
        m_device = QMediaDevices::defaultAudioInput();
        m_input->setDevice(m_device);
        QMediaFormat format(m_format->fileFormat);
        format.setAudioCodec(m_format->codec);
        m_recorder->setMediaFormat(format);
        m_path = path;
        // Qt 6.4's FFmpeg backend opens the output URL's encoded form, so a
        // path with a space or anything else URL-encoded is never written:
        // such a recording is made in the temporary folder and moved.
        m_writePath = path;
        if (QUrl::fromLocalFile(path).toEncoded().contains('%'))
            m_writePath = QDir(QDir::tempPath())
                              .filePath(QStringLiteral("kith-voice-%1.%2")
                                            .arg(QUuid::createUuid().toString(QUuid::Id128),
                                                 m_format->suffix));
        m_attempts = 0;
        m_restarting = false;
        record();
    }

    void stop() override
    {
        m_meter.stop();
        m_firstSound.stop();
        m_restarting = false;
        if (m_recorder)
            m_recorder->stop();
    }

private:
    // Without a sample this long after a start, it starts again, twice at most.
    static constexpr int kFirstSoundMs = 2500;
    static constexpr int kAttempts = 3;

    void record()
    {
        m_recorder->setOutputLocation(QUrl::fromLocalFile(m_writePath));
        m_firstSound.start();
        m_recorder->record();
    }

    // Where the finished file is: the path asked for, once moved there.
    QString moveIntoPlace()
    {
        const QUrl actual = m_recorder->actualLocation();
        const QString written = actual.isLocalFile() ? actual.toLocalFile() : m_writePath;
        if (written == m_path || !QFileInfo::exists(written))
            return written;
        QFile::remove(m_path);
        if (QFile::rename(written, m_path) ||
            (QFile::copy(written, m_path) && QFile::remove(written)))
            return m_path;
        return written;
    }

    QMediaDevices m_devices;
    std::optional<VoiceFormat> m_format;
    QMediaCaptureSession m_session;
    std::unique_ptr<QAudioInput> m_input;
    std::unique_ptr<QMediaRecorder> m_recorder;
    QTimer m_firstSound;
    InputMeter m_meter{this};
    QAudioDevice m_device;
    int m_attempts = 0;
    bool m_restarting = false;
    QString m_path;
    QString m_writePath;
};
} // namespace

VoiceRecorder::VoiceRecorder(QObject *parent)
    : VoiceRecorder(std::make_unique<MultimediaEngine>(), parent)
{}
#else
VoiceRecorder::VoiceRecorder(QObject *parent)
    : VoiceRecorder(nullptr, parent)
{}
#endif

qreal meterLevel(float peak)
{
    constexpr qreal kFloorDb = -60;
    if (!(peak > 0))
        return 0;
    const qreal db = 20 * std::log10(qreal(std::min(peak, 1.0f)));
    return std::clamp((db - kFloorDb) / -kFloorDb, qreal(0), qreal(1));
}

VoiceRecorder::VoiceRecorder(std::unique_ptr<VoiceRecorderEngine> engine, QObject *parent)
    : QObject(parent)
    , m_engine(std::move(engine))
    , m_folder(QStandardPaths::writableLocation(QStandardPaths::CacheLocation) +
               QStringLiteral("/recordings"))
{
    m_stopTimer.setSingleShot(true);
    m_stopTimer.setInterval(kStopTimeoutMs);
    connect(&m_stopTimer, &QTimer::timeout, this, [this] {
        // The platform never let go of the file: whatever is there is not whole.
        const bool discarding = std::exchange(m_discarding, false);
        QFile::remove(m_path);
        if (!discarding)
            fail(tr("The recording could not be finished."));
    });
    if (!m_engine)
        return;
    connect(m_engine.get(), &VoiceRecorderEngine::inputsChanged, this,
            &VoiceRecorder::hasInputChanged);
    connect(m_engine.get(), &VoiceRecorderEngine::durationChanged, this,
            &VoiceRecorder::onDuration);
    connect(m_engine.get(), &VoiceRecorderEngine::stopped, this, &VoiceRecorder::onStopped);
    connect(m_engine.get(), &VoiceRecorderEngine::failed, this, &VoiceRecorder::onFailed);
    connect(m_engine.get(), &VoiceRecorderEngine::levelChanged, this, [this](qreal level) {
        if (m_state == Recording)
            setLevel(level);
    });
}

VoiceRecorder::~VoiceRecorder()
{
    // A recording under way when the app goes is not a voice note anyone chose to send.
    if (m_engine && (m_state == Recording || m_state == Stopping || m_discarding)) {
        m_engine->disconnect(this);
        m_engine->stop();
        QFile::remove(m_path);
    }
}

bool VoiceRecorder::isAvailable() const
{
    return m_engine && !m_engine->suffix().isEmpty();
}

bool VoiceRecorder::hasInput() const
{
    return m_engine && m_engine->hasInput();
}

void VoiceRecorder::setMaxDurationMs(qint64 ms)
{
    ms = std::max<qint64>(1000, ms);
    if (m_maxDurationMs == ms)
        return;
    m_maxDurationMs = ms;
    emit maxDurationMsChanged();
}

QUrl VoiceRecorder::fileUrl() const
{
    return m_state == Finished ? QUrl::fromLocalFile(m_path) : QUrl();
}

void VoiceRecorder::setFolder(const QString &folder)
{
    if (m_folder == folder)
        return;
    m_folder = folder;
    emit folderChanged();
}

void VoiceRecorder::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    if (state != Recording)
        setLevel(0);
    emit stateChanged();
}

void VoiceRecorder::setLevel(qreal level)
{
    level = std::clamp(level, qreal(0), qreal(1));
    if (qFuzzyCompare(level + 1, m_level + 1))
        return;
    m_level = level;
    emit levelChanged();
}

void VoiceRecorder::fail(const QString &message)
{
    m_stopTimer.stop();
    m_error = message;
    if (m_state == Failed)
        emit stateChanged(); // a new error in the same state
    else
        setState(Failed);
}

QString VoiceRecorder::newPath() const
{
    // Letters, digits and dashes only: Qt 6.4's FFmpeg backend writes to the
    // output URL's encoded form, so a space would become "%20".
    const QString stamp =
        QDateTime::currentDateTime().toString(QStringLiteral("yyyy-MM-dd-hhmmss-zzz"));
    const QString suffix = m_engine->suffix();
    QString path = QStringLiteral("%1/voice-note-%2.%3").arg(m_folder, stamp, suffix);
    for (int n = 2; QFileInfo::exists(path); ++n)
        path = QStringLiteral("%1/voice-note-%2-%3.%4").arg(m_folder, stamp).arg(n).arg(suffix);
    return path;
}

bool VoiceRecorder::start()
{
    if (m_state == Recording || m_state == Stopping || m_discarding)
        return false;
    if (!isAvailable()) {
        fail(tr("Recording needs Qt Multimedia, which this build of Kith lacks."));
        return false;
    }
    if (!m_engine->hasInput()) {
        fail(tr("No microphone found."));
        return false;
    }
    if (!QDir().mkpath(m_folder)) {
        fail(tr("Cannot write to %1.").arg(QDir::toNativeSeparators(m_folder)));
        return false;
    }
    // Recorded a week ago or more: sent long since (the sender's copy is in
    // the file cache) or never will be.
    const QDateTime weekAgo = QDateTime::currentDateTime().addDays(-7);
    for (const QFileInfo &old : QDir(m_folder).entryInfoList(QDir::Files))
        if (old.lastModified() < weekAgo)
            QFile::remove(old.absoluteFilePath());
    m_path = newPath();
    m_error.clear();
    m_limitReached = false;
    if (m_elapsed != 0) {
        m_elapsed = 0;
        emit elapsedChanged();
    }
    setState(Recording);
    m_engine->start(m_path);
    return m_state == Recording;
}

void VoiceRecorder::finish()
{
    if (m_state != Recording)
        return;
    setState(Stopping);
    m_stopTimer.start();
    m_engine->stop();
}

void VoiceRecorder::cancel()
{
    if (m_state == Recording || m_state == Stopping) {
        m_discarding = true;
        m_stopTimer.start();
        m_engine->stop();
    } else if (m_state == Finished) {
        QFile::remove(m_path);
    }
    m_error.clear();
    setState(Idle);
}

void VoiceRecorder::reset()
{
    if (m_state != Finished && m_state != Failed)
        return;
    m_error.clear();
    setState(Idle);
}

void VoiceRecorder::onDuration(qint64 ms)
{
    if (m_state != Recording)
        return;
    m_elapsed = ms;
    emit elapsedChanged();
    if (ms >= m_maxDurationMs) {
        // The cap: stop here and keep what is there.
        m_limitReached = true;
        finish();
    }
}

void VoiceRecorder::onStopped(const QString &path, qint64 durationMs)
{
    if (!path.isEmpty() && path != m_path) {
        // The platform chose the name in the end (a suffix of its own).
        QFile::remove(m_path);
        m_path = path;
    }
    m_stopTimer.stop();
    if (std::exchange(m_discarding, false)) {
        QFile::remove(m_path);
        return;
    }
    if (m_state != Stopping && m_state != Recording)
        return;
    // What was still on its way at the stop is in the file too.
    if (durationMs > m_elapsed) {
        m_elapsed = durationMs;
        emit elapsedChanged();
    }
    if (m_elapsed <= 0 || QFileInfo(m_path).size() <= 0) {
        QFile::remove(m_path);
        return fail(tr("Nothing was recorded: the microphone gave no sound."));
    }
    setState(Finished);
    emit finished(fileUrl(), m_elapsed);
}

void VoiceRecorder::onFailed(const QString &message)
{
    m_stopTimer.stop();
    const bool discarding = std::exchange(m_discarding, false);
    const bool active = m_state == Recording || m_state == Stopping;
    if (!discarding && !active)
        return;
    // Failed first: a stopped() that the stop below brings changes nothing.
    if (active)
        fail(message);
    m_engine->stop();
    QFile::remove(m_path);
}

} // namespace kith::app
