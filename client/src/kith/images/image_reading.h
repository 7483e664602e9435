#pragma once
// Reading images a user sends or receives, bounded: the size a file claims is
// read first and anything over kMaxDecodePixels is refused before a pixel is
// allocated, and a file is decoded at the size it is shown, not at its own.
// Used by the app (its bubbles, previews and viewer) and by kith-cli (the
// size and thumbnail of an image it sends); needs Qt Gui, not a display.

#include <QByteArray>
#include <QImage>
#include <QSize>
#include <QString>

class QImageReader;

namespace kith::images {

// Bounds of what is decoded: a claimed size past them is not read at all.
constexpr qint64 kMaxDecodePixels = 40'000'000;
constexpr int kMaxThumbnailSide = 160;
// QImageReader's allocation limit, in MiB (Qt's default is 256).
constexpr int kImageAllocationLimitMiB = 192;

// The sender's reading of an image file: its size after the EXIF rotation and
// a small JPEG (or PNG, when it has transparency) of at most
// kith::kMaxThumbnailBytes. False for a file that is not an image this can read.
bool inspectImage(const QString &path, QSize &size, QByteArray &thumbnail);

// Reads `reader`'s image scaled to fit `wanted` (its own size when empty),
// refusing sizes that are missing, zero or past kMaxDecodePixels. A null
// image on refusal or a decode error; `size` gets the image's own size.
QImage readBounded(QImageReader &reader, const QSize &wanted, QSize *size = nullptr);

// A profile picture from an image file: read bounded (as readBounded, at
// about the size needed), the centred square of it, kAvatarSide pixels a
// side, as PNG (JPEG when that would pass kith::kMaxAvatarBytes). `format`
// gets "png" or "jpeg". Empty, with `error` set, for a file that is not an
// image this can read.
constexpr int kAvatarSide = 256;
QByteArray avatarImage(const QString &path, QString *format, QString *error);

// The image's size as shown: EXIF rotations by 90° swap the sides.
QSize orientedSize(QImageReader &reader, QSize size);

} // namespace kith::images
