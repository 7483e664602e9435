#pragma once
// VoiceRecorder: records a voice note from the microphone into a file of its
// own in the app's cache folder, for the composer's recording bar. Built on Qt
// Multimedia where the app was built with it (QMediaCaptureSession,
// QAudioInput, QMediaRecorder); without it `available` is false and the
// composer offers no microphone, with the same QML.
//
// States: Idle → start() → Recording → finish() → Stopping → Finished (the
// file and its length) or Failed (a sentence saying why). cancel() goes back
// to Idle at once and removes the file once the platform lets go of it. At
// maxDurationMs (15 min) the recording finishes by itself and keeps what it
// has (limitReached). `level` is how loud the microphone is while recording
// (0..1), so that a muted or wrong microphone shows before a minute of
// silence is sent: Qt 6.4's recorder reports no level, so the Qt Multimedia
// engine reads the same input a second time for it, at a low rate.

#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <memory>

#ifdef KITH_HAVE_MULTIMEDIA
#include <QList>
#include <QMediaFormat>

#include <functional>
#include <optional>
#endif

namespace kith::app {

// What a VoiceRecorder needs of the platform: Qt Multimedia's recorder in the
// app, a scripted one in tests.
class VoiceRecorderEngine : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    // An input device is there now (inputsChanged when that changes).
    [[nodiscard]] virtual bool hasInput() const = 0;
    // The file name suffix of what it records ("m4a"); empty when it can
    // encode no audio format at all.
    [[nodiscard]] virtual QString suffix() const = 0;
    // Starts writing to `path`: durationChanged as the recording grows, then,
    // after stop(), stopped() with where the complete file is and its length
    // (what was still on its way at the stop included; 0: not known);
    // failed() at any point when it cannot go on.
    virtual void start(const QString &path) = 0;
    virtual void stop() = 0;

signals:
    void inputsChanged();
    void durationChanged(qint64 ms);
    // How loud the input is now, 0 (silence, or not known) to 1 (full scale).
    void levelChanged(qreal level);
    void stopped(const QString &path, qint64 durationMs);
    void failed(const QString &message);
};

#ifdef KITH_HAVE_MULTIMEDIA
// A container and codec the recorder writes, with its file name suffix.
struct VoiceFormat
{
    QMediaFormat::FileFormat fileFormat = QMediaFormat::UnspecifiedFormat;
    QMediaFormat::AudioCodec codec = QMediaFormat::AudioCodec::Unspecified;
    QString suffix;
};

// The format to record in, from what the backend can encode: `formats` and,
// for each, `codecsOf(format)`. Opus in Ogg first, then AAC in MPEG-4 audio
// (.m4a), then other compact ones, then any audio-only format with any codec;
// nullopt when there is none.
[[nodiscard]] std::optional<VoiceFormat> chooseVoiceFormat(
    const QList<QMediaFormat::FileFormat> &formats,
    const std::function<QList<QMediaFormat::AudioCodec>(QMediaFormat::FileFormat)> &codecsOf);
#endif

// A meter's reading for `peak`, the largest magnitude of a stretch of
// samples scaled to -1..1: 0 at -60 dBFS and below, 1 at full scale, even
// in decibels (steps a person hears as even).
[[nodiscard]] qreal meterLevel(float peak);

class VoiceRecorder : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(bool available READ isAvailable CONSTANT)
    Q_PROPERTY(bool hasInput READ hasInput NOTIFY hasInputChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(qint64 elapsed READ elapsed NOTIFY elapsedChanged)
    // How loud the microphone is while recording (0..1); 0 otherwise.
    Q_PROPERTY(qreal level READ level NOTIFY levelChanged)
    Q_PROPERTY(
        qint64 maxDurationMs READ maxDurationMs WRITE setMaxDurationMs NOTIFY maxDurationMsChanged)
    // The recording stopped by itself at maxDurationMs.
    Q_PROPERTY(bool limitReached READ limitReached NOTIFY stateChanged)
    // The finished recording (a file: URL), empty before.
    Q_PROPERTY(QUrl fileUrl READ fileUrl NOTIFY stateChanged)
    Q_PROPERTY(QString error READ error NOTIFY stateChanged)
    // Where recordings go (default: the cache folder's "recordings").
    Q_PROPERTY(QString folder READ folder WRITE setFolder NOTIFY folderChanged)
public:
    enum State { Idle, Recording, Stopping, Finished, Failed };
    Q_ENUM(State)

    static constexpr qint64 kDefaultMaxDurationMs = 15 * 60 * 1000;
    // How long the platform gets to finish the file after stop().
    static constexpr int kStopTimeoutMs = 10000;

    explicit VoiceRecorder(QObject *parent = nullptr);
    // With this engine (tests); null: none, as without Qt Multimedia.
    VoiceRecorder(std::unique_ptr<VoiceRecorderEngine> engine, QObject *parent = nullptr);
    ~VoiceRecorder() override;

    [[nodiscard]] bool isAvailable() const;
    [[nodiscard]] bool hasInput() const;
    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] qint64 elapsed() const { return m_elapsed; }
    [[nodiscard]] qreal level() const { return m_level; }
    [[nodiscard]] qint64 maxDurationMs() const { return m_maxDurationMs; }
    void setMaxDurationMs(qint64 ms);
    [[nodiscard]] bool limitReached() const { return m_limitReached; }
    [[nodiscard]] QUrl fileUrl() const;
    [[nodiscard]] QString filePath() const { return m_state == Finished ? m_path : QString(); }
    [[nodiscard]] QString error() const { return m_error; }
    [[nodiscard]] QString folder() const { return m_folder; }
    void setFolder(const QString &folder);
    void setStopTimeoutMs(int ms) { m_stopTimer.setInterval(ms); }

    // False (and Failed, with why) when it cannot start; refused while a
    // recording is under way or still being let go of.
    Q_INVOKABLE bool start();
    // Stops and keeps the recording: Finished once the file is complete.
    Q_INVOKABLE void finish();
    // Stops and drops the recording: Idle at once, the file removed.
    Q_INVOKABLE void cancel();
    // Forgets a finished or failed recording, keeping its file (it is being
    // sent): Idle, ready for the next.
    Q_INVOKABLE void reset();

signals:
    void hasInputChanged();
    void stateChanged();
    void elapsedChanged();
    void levelChanged();
    void maxDurationMsChanged();
    void folderChanged();
    // The recording is complete: hand it on (durationMs: its length).
    void finished(const QUrl &fileUrl, qint64 durationMs);

private:
    void setState(State state);
    void setLevel(qreal level);
    void fail(const QString &message);
    void onDuration(qint64 ms);
    void onStopped(const QString &path, qint64 durationMs);
    void onFailed(const QString &message);
    [[nodiscard]] QString newPath() const;

    std::unique_ptr<VoiceRecorderEngine> m_engine;
    State m_state = Idle;
    qint64 m_elapsed = 0;
    qreal m_level = 0;
    qint64 m_maxDurationMs = kDefaultMaxDurationMs;
    bool m_limitReached = false;
    // The engine still holds a recording that was cancelled: it is removed
    // when let go of, and no new one starts before.
    bool m_discarding = false;
    QString m_path;
    QString m_error;
    QString m_folder;
    QTimer m_stopTimer;
};

} // namespace kith::app
