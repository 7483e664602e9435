#include "image_reading.h"

#include "kith/content.h"
#include "kith/protocol.h"

#include <QBuffer>
#include <QImage>
#include <QImageReader>
#include <QImageWriter>
#include <QPainter>

namespace kith::images {

namespace {
QSize fitted(const QSize &size, const QSize &box)
{
    if (!box.isValid() || box.isEmpty() ||
        (size.width() <= box.width() && size.height() <= box.height()))
        return size;
    return size.scaled(box, Qt::KeepAspectRatio).expandedTo(QSize(1, 1));
}

QByteArray encode(const QImage &image, const char *format, int quality)
{
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QImageWriter writer(&buffer, format);
    writer.setQuality(quality);
    return writer.write(image) ? bytes : QByteArray();
}
} // namespace

QSize orientedSize(QImageReader &reader, QSize size)
{
    if (reader.autoTransform() &&
        (reader.transformation() & QImageIOHandler::TransformationRotate90))
        size.transpose();
    return size;
}

QImage readBounded(QImageReader &reader, const QSize &wanted, QSize *size)
{
    reader.setAutoTransform(true);
    QSize own = reader.size();
    if (!own.isValid() || own.isEmpty() ||
        qint64(own.width()) * qint64(own.height()) > kMaxDecodePixels)
        return {};
    own = orientedSize(reader, own);
    if (size)
        *size = own;
    const QSize target = fitted(own, wanted);
    if (target != own) {
        // The reader scales before the rotation: in its own orientation.
        QSize scaled = target;
        if (reader.transformation() & QImageIOHandler::TransformationRotate90)
            scaled.transpose();
        reader.setScaledSize(scaled);
    }
    QImage image = reader.read();
    if (image.isNull())
        return {};
    return image;
}

QByteArray avatarImage(const QString &path, QString *format, QString *error)
{
    QImageReader reader(path);
    QSize own;
    QImage image;
    if (reader.canRead()) {
        // Decoded no bigger than needed: the shorter side at kAvatarSide.
        const QSize claimed = orientedSize(reader, reader.size());
        QSize wanted;
        if (claimed.isValid() && !claimed.isEmpty()) {
            const qreal scale =
                qMin(1.0, qreal(kAvatarSide) / qMin(claimed.width(), claimed.height()));
            wanted = QSize(qMax(1, qRound(claimed.width() * scale)),
                           qMax(1, qRound(claimed.height() * scale)));
        }
        image = readBounded(reader, wanted, &own);
    }
    if (image.isNull()) {
        if (error)
            *error = QStringLiteral("%1 is not an image that can be read").arg(path);
        return {};
    }
    const int side = qMin(image.width(), image.height());
    const QImage square =
        image.copy((image.width() - side) / 2, (image.height() - side) / 2, side, side)
            .scaled(kAvatarSide, kAvatarSide, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    QByteArray bytes = encode(square, "png", -1);
    if (!bytes.isEmpty() && quint64(bytes.size()) <= kMaxAvatarBytes) {
        if (format)
            *format = QStringLiteral("png");
        return bytes;
    }
    QImage flat(square.size(), QImage::Format_RGB32);
    flat.fill(Qt::white);
    {
        QPainter painter(&flat);
        painter.drawImage(0, 0, square);
    }
    bytes = encode(flat, "jpeg", 90);
    if (bytes.isEmpty() || quint64(bytes.size()) > kMaxAvatarBytes) {
        if (error)
            *error = QStringLiteral("Cannot make a picture of %1").arg(path);
        return {};
    }
    if (format)
        *format = QStringLiteral("jpeg");
    return bytes;
}

bool inspectImage(const QString &path, QSize &size, QByteArray &thumbnail)
{
    QImageReader reader(path);
    if (!reader.canRead())
        return false;
    const QImage image = readBounded(reader, QSize(kMaxThumbnailSide, kMaxThumbnailSide), &size);
    if (image.isNull())
        return false;
    // Smaller and plainer until it fits; transparency kept as PNG while it fits.
    for (const int side : {kMaxThumbnailSide, 96, 64, 32}) {
        const QImage small =
            image.width() > side || image.height() > side
                ? image.scaled(side, side, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                : image;
        if (small.hasAlphaChannel()) {
            thumbnail = encode(small, "png", -1);
            if (!thumbnail.isEmpty() && thumbnail.size() <= kMaxThumbnailBytes)
                return true;
        }
        QImage flat(small.size(), QImage::Format_RGB32);
        flat.fill(Qt::white);
        {
            QImage converted = small.convertToFormat(QImage::Format_ARGB32_Premultiplied);
            for (int y = 0; y < flat.height(); ++y) {
                // Composed over white, as a transparent image is usually shown.
                auto *out = reinterpret_cast<QRgb *>(flat.scanLine(y));
                const auto *in = reinterpret_cast<const QRgb *>(converted.constScanLine(y));
                for (int x = 0; x < flat.width(); ++x) {
                    const int a = qAlpha(in[x]);
                    out[x] = qRgb(qRed(in[x]) + 255 - a, qGreen(in[x]) + 255 - a,
                                  qBlue(in[x]) + 255 - a);
                }
            }
        }
        for (const int quality : {70, 50}) {
            thumbnail = encode(flat, "jpeg", quality);
            if (!thumbnail.isEmpty() && thumbnail.size() <= kMaxThumbnailBytes)
                return true;
        }
    }
    thumbnail.clear(); // the size alone still shapes the bubble
    return true;
}

} // namespace kith::images
