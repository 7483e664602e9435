#include "media.h"

#include <QBuffer>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QImageReader>
#include <QImageWriter>
#include <QLocale>
#include <QMimeData>
#include <QMimeDatabase>
#include <QQmlEngine>
#include <QStandardPaths>

#include <algorithm>

namespace kith::app {

namespace {
constexpr int kMaxThumbnailBytes = 16 * 1024; // kith::kMaxThumbnailBytes
constexpr auto kProvider = "kithmedia";
} // namespace

MediaImageProvider::MediaImageProvider()
    : QQuickImageProvider(QQuickImageProvider::Image, ForceAsynchronousImageLoading)
{}

QImage MediaImageProvider::requestImage(const QString &id, QSize *size, const QSize &requestedSize)
{
    QImage image;
    if (id.startsWith(QLatin1String("thumb/"))) {
        const QByteArray bytes = QByteArray::fromBase64(
            id.mid(6).toLatin1(), QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        if (bytes.size() <= kMaxThumbnailBytes) {
            QBuffer buffer;
            buffer.setData(bytes);
            buffer.open(QIODevice::ReadOnly);
            QImageReader reader(&buffer);
            // A thumbnail is small: one that claims more is not one.
            if (const QSize claimed = reader.size(); claimed.isValid() &&
                                                     claimed.width() <= 4 * kMaxThumbnailSide &&
                                                     claimed.height() <= 4 * kMaxThumbnailSide)
                image = readBounded(reader, requestedSize);
        }
    } else if (id.startsWith(QLatin1String("file/"))) {
        const QString path = QString::fromUtf8(QByteArray::fromHex(id.mid(5).toLatin1()));
        QImageReader reader(path);
        image = readBounded(reader, requestedSize);
    }
    if (size)
        *size = image.size();
    return image;
}

Media::Media(QObject *parent)
    : QObject(parent)
{}

Media *Media::create(QQmlEngine *qml, QJSEngine *)
{
    if (qml && !qml->imageProvider(QLatin1String(kProvider)))
        qml->addImageProvider(QLatin1String(kProvider), new MediaImageProvider);
    return new Media(nullptr);
}

QString Media::thumbnailSource(const QByteArray &bytes) const
{
    if (bytes.isEmpty() || bytes.size() > kMaxThumbnailBytes)
        return {};
    return QStringLiteral("image://kithmedia/thumb/") +
           QString::fromLatin1(
               bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

QString Media::imageSource(const QUrl &file) const
{
    if (!file.isLocalFile())
        return {};
    return QStringLiteral("image://kithmedia/file/") +
           QString::fromLatin1(file.toLocalFile().toUtf8().toHex());
}

QVariantMap Media::describe(const QUrl &file) const
{
    const QFileInfo info(file.isLocalFile() ? file.toLocalFile() : file.toString());
    if (!info.isFile() || !info.isReadable())
        return {};
    QVariantMap map{{QStringLiteral("name"), info.fileName()},
                    {QStringLiteral("size"), info.size()},
                    {QStringLiteral("url"), QUrl::fromLocalFile(info.absoluteFilePath())},
                    {QStringLiteral("isImage"), false},
                    {QStringLiteral("width"), 0},
                    {QStringLiteral("height"), 0}};
    QImageReader reader(info.absoluteFilePath());
    reader.setAutoTransform(true);
    const QSize size = reader.size();
    if (reader.canRead() && size.isValid() && !size.isEmpty() &&
        qint64(size.width()) * size.height() <= kMaxDecodePixels) {
        const QSize shown = orientedSize(reader, size);
        map.insert(QStringLiteral("isImage"), true);
        map.insert(QStringLiteral("width"), shown.width());
        map.insert(QStringLiteral("height"), shown.height());
    }
    return map;
}

bool Media::clipboardHasImage() const
{
    const QMimeData *data = QGuiApplication::clipboard()->mimeData();
    return data && data->hasImage();
}

QUrl Media::saveClipboardImage() const
{
    const QMimeData *data = QGuiApplication::clipboard()->mimeData();
    if (!data || !data->hasImage())
        return {};
    const QImage image = qvariant_cast<QImage>(data->imageData());
    if (image.isNull())
        return {};
    const QString dir =
        QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/pasted");
    if (!QDir().mkpath(dir))
        return {};
    // Pasted a week ago or more: sent long since (the sender's copy is in the
    // file cache) or never will be.
    const QDateTime weekAgo = QDateTime::currentDateTime().addDays(-7);
    for (const QFileInfo &old : QDir(dir).entryInfoList(QDir::Files))
        if (old.lastModified() < weekAgo)
            QFile::remove(old.absoluteFilePath());
    const QString path =
        dir +
        QStringLiteral("/Pasted image %1.png")
            .arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyy-MM-dd hh.mm.ss.zzz")));
    return image.save(path, "PNG") ? QUrl::fromLocalFile(path) : QUrl();
}

bool Media::saveCopy(const QUrl &from, const QUrl &to) const
{
    if (!from.isLocalFile() || !to.isLocalFile())
        return false;
    const QString target = to.toLocalFile();
    if (QFileInfo::exists(target) && !QFile::remove(target))
        return false;
    return QFile::copy(from.toLocalFile(), target);
}

QUrl Media::folderOf(const QUrl &file) const
{
    return file.isLocalFile() ? QUrl::fromLocalFile(QFileInfo(file.toLocalFile()).absolutePath())
                              : QUrl();
}

QString Media::formatSize(qint64 bytes) const
{
    return QLocale().formattedDataSize(std::max<qint64>(0, bytes), 1,
                                       QLocale::DataSizeTraditionalFormat);
}

QList<QUrl> Media::localFiles(const QList<QUrl> &urls) const
{
    QList<QUrl> files;
    for (const QUrl &url : urls)
        if (url.isLocalFile() && QFileInfo(url.toLocalFile()).isFile())
            files << url;
    return files;
}

} // namespace kith::app
