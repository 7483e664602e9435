#pragma once
// VoicePlayer: plays one audio file on this device for a voice note's bubble,
// with a position to seek. Built on Qt Multimedia where the app was built
// with it; without it `available` is false and play() does nothing, so the
// bubble offers to open the file elsewhere instead.

#include <QObject>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <memory>

namespace kith::app {

// Picks Qt Multimedia's FFmpeg backend where it is installed, unless
// QT_MEDIA_BACKEND says otherwise: Qt 6.4's GStreamer backend crashes on
// systems without GStreamer's base plugins. Call before any player exists.
void chooseMediaBackend();

class VoicePlayer : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(bool available READ isAvailable CONSTANT)
    Q_PROPERTY(QUrl source READ source WRITE setSource NOTIFY sourceChanged)
    Q_PROPERTY(bool playing READ isPlaying NOTIFY playingChanged)
    Q_PROPERTY(qint64 position READ position NOTIFY positionChanged)
    // From the file once it is loaded; 0 before.
    Q_PROPERTY(qint64 duration READ duration NOTIFY durationChanged)
    Q_PROPERTY(QString error READ error NOTIFY errorChanged)
public:
    explicit VoicePlayer(QObject *parent = nullptr);
    ~VoicePlayer() override;

    [[nodiscard]] static bool isAvailable();
    [[nodiscard]] QUrl source() const { return m_source; }
    void setSource(const QUrl &source);
    [[nodiscard]] bool isPlaying() const;
    [[nodiscard]] qint64 position() const;
    [[nodiscard]] qint64 duration() const;
    [[nodiscard]] QString error() const { return m_error; }

    Q_INVOKABLE void play();
    Q_INVOKABLE void pause();
    Q_INVOKABLE void toggle();
    Q_INVOKABLE void seek(qint64 positionMs);

signals:
    void sourceChanged();
    void playingChanged();
    void positionChanged();
    void durationChanged();
    void errorChanged();

private:
    struct Backend;
    std::unique_ptr<Backend> d;
    QUrl m_source;
    QString m_error;
};

} // namespace kith::app
