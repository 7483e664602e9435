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

#include "image_reading.h"

class QQmlEngine;
class QJSEngine;

namespace kith::app {

// The bounded image reading lives in kith::images (kith-cli uses it too).
using images::avatarImage;
using images::inspectImage;
using images::kImageAllocationLimitMiB;
using images::kMaxDecodePixels;
using images::kMaxThumbnailSide;
using images::orientedSize;
using images::readBounded;

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
