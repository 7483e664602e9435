#include "image_reading.h"

#include "kith/content.h"

#include <QBuffer>
#include <QImage>
#include <QImageReader>
#include <QImageWriter>

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
