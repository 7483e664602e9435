#include "voice_player.h"

#include <QDir>
#include <QLibraryInfo>

#ifdef KITH_HAVE_MULTIMEDIA
#include <QAudioOutput>
#include <QMediaPlayer>
#endif

namespace kith::app {

void chooseMediaBackend()
{
    if (qEnvironmentVariableIsSet("QT_MEDIA_BACKEND"))
        return;
    const QDir plugins(QLibraryInfo::path(QLibraryInfo::PluginsPath) +
                       QStringLiteral("/multimedia"));
    if (!plugins.entryList({QStringLiteral("*ffmpegmediaplugin*")}, QDir::Files).isEmpty())
        qputenv("QT_MEDIA_BACKEND", "ffmpeg");
}

#ifdef KITH_HAVE_MULTIMEDIA
struct VoicePlayer::Backend
{
    QMediaPlayer player;
    QAudioOutput output;
};

VoicePlayer::VoicePlayer(QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Backend>())
{
    d->player.setAudioOutput(&d->output);
    connect(&d->player, &QMediaPlayer::playbackStateChanged, this, &VoicePlayer::playingChanged);
    connect(&d->player, &QMediaPlayer::positionChanged, this, &VoicePlayer::positionChanged);
    connect(&d->player, &QMediaPlayer::durationChanged, this, &VoicePlayer::durationChanged);
    connect(&d->player, &QMediaPlayer::errorOccurred, this,
            [this](QMediaPlayer::Error, const QString &message) {
                m_error = message;
                emit errorChanged();
            });
    // Played to the end: back to the start, ready to play again.
    connect(&d->player, &QMediaPlayer::mediaStatusChanged, this,
            [this](QMediaPlayer::MediaStatus status) {
                if (status == QMediaPlayer::EndOfMedia)
                    d->player.setPosition(0);
            });
}

bool VoicePlayer::isAvailable()
{
    return true;
}

void VoicePlayer::setSource(const QUrl &source)
{
    if (m_source == source)
        return;
    m_source = source;
    // Only files on this device: a voice note is fetched first.
    d->player.setSource(source.isLocalFile() ? source : QUrl());
    if (!m_error.isEmpty()) {
        m_error.clear();
        emit errorChanged();
    }
    emit sourceChanged();
}

bool VoicePlayer::isPlaying() const
{
    return d->player.playbackState() == QMediaPlayer::PlayingState;
}

qint64 VoicePlayer::position() const
{
    return d->player.position();
}

qint64 VoicePlayer::duration() const
{
    return d->player.duration();
}

void VoicePlayer::play()
{
    if (!d->player.source().isEmpty())
        d->player.play();
}

void VoicePlayer::pause()
{
    d->player.pause();
}

void VoicePlayer::seek(qint64 positionMs)
{
    d->player.setPosition(std::max<qint64>(0, positionMs));
}
#else
struct VoicePlayer::Backend
{};

VoicePlayer::VoicePlayer(QObject *parent)
    : QObject(parent)
{}

bool VoicePlayer::isAvailable()
{
    return false;
}

void VoicePlayer::setSource(const QUrl &source)
{
    if (m_source == source)
        return;
    m_source = source;
    emit sourceChanged();
}

bool VoicePlayer::isPlaying() const
{
    return false;
}

qint64 VoicePlayer::position() const
{
    return 0;
}

qint64 VoicePlayer::duration() const
{
    return 0;
}

void VoicePlayer::play() {}

void VoicePlayer::pause() {}

void VoicePlayer::seek(qint64) {}
#endif

VoicePlayer::~VoicePlayer() = default;

void VoicePlayer::toggle()
{
    if (isPlaying())
        pause();
    else
        play();
}

} // namespace kith::app
