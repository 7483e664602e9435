#pragma once
// Media: what the chat needs of files and images that QML has no API for.
// Images from other people are decoded only here, bounded: the size the file
// claims is read first and anything over kMaxDecodePixels is refused before a
// pixel is allocated; a file is decoded at the size it is shown
// (sourceSize), not at its own. The "kithmedia" image provider serves
// thumbnails (image://kithmedia/thumb/<base64url of the bytes>) and files on
// this device (image://kithmedia/file/<hex of the path>); the singleton
// installs it on the engine that makes it.

#include <QByteArray>
#include <QObject>
#include <QQuickImageProvider>
#include <QSize>
#include <QUrl>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

class QImageReader;
class QQmlEngine;
class QJSEngine;

namespace kith::app {

// Bounds of what is decoded: a claimed size past them is not read at all.
constexpr qint64 kMaxDecodePixels = 40'000'000;
constexpr int kMaxThumbnailSide = 160;
// QImageReader's allocation limit for the app, in MiB (Qt's default is 256).
constexpr int kImageAllocationLimitMiB = 192;

// The sender's reading of an image file: its size after the EXIF rotation and
// a small JPEG (or PNG, when it has transparency) of at most
// kith::kMaxThumbnailBytes. False for a file that is not an image this can read.
bool inspectImage(const QString &path, QSize &size, QByteArray &thumbnail);

// Reads `reader`'s image scaled to fit `wanted` (its own size when empty),
// refusing sizes that are missing, zero or past kMaxDecodePixels. A null
// image on refusal or a decode error; `size` gets the image's own size.
QImage readBounded(QImageReader &reader, const QSize &wanted, QSize *size = nullptr);

class MediaImageProvider : public QQuickImageProvider
{
public:
    MediaImageProvider();
    QImage requestImage(const QString &id, QSize *size, const QSize &requestedSize) override;
};

class Media : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
public:
    // QML makes it through create(), which installs the image provider (Qt
    // 6.4 prefers a default constructor to create(), hence none).
    explicit Media(QObject *parent);
    static Media *create(QQmlEngine *qml, QJSEngine *js);

    // image:// sources for a thumbnail's bytes and for a file on this device.
    Q_INVOKABLE QString thumbnailSource(const QByteArray &bytes) const;
    Q_INVOKABLE QString imageSource(const QUrl &file) const;
    // A file picked or dropped, for the preview before sending: {name, size,
    // isImage, width, height, url}; an empty map when it is not a readable file.
    Q_INVOKABLE QVariantMap describe(const QUrl &file) const;
    // Whether the clipboard holds an image, and that image saved as a PNG in
    // a folder of the app's (its file URL; empty when there is none).
    Q_INVOKABLE bool clipboardHasImage() const;
    Q_INVOKABLE QUrl saveClipboardImage() const;
    // Copies a file on this device to where the user chose (a file URL).
    Q_INVOKABLE bool saveCopy(const QUrl &from, const QUrl &to) const;
    Q_INVOKABLE QUrl folderOf(const QUrl &file) const;
    // "12 KB", "3.4 MB".
    Q_INVOKABLE QString formatSize(qint64 bytes) const;
    // Dropped URLs kept to files on this device.
    Q_INVOKABLE QList<QUrl> localFiles(const QList<QUrl> &urls) const;
};

} // namespace kith::app
