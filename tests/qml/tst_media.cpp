// The app's image handling, bounded: the sender's thumbnail fits the
// protocol's 16 KiB and keeps the shape (after the EXIF rotation), a file
// that claims 50,000 × 50,000 pixels or is cut short is refused or shown as
// far as it goes without a large allocation, and the image provider decodes
// files at the size asked for.
#include "media.h"

#include <QBuffer>
#include <QClipboard>
#include <QGuiApplication>
#include <QImage>
#include <QImageReader>
#include <QMimeData>
#include <QPainter>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <zlib.h>

using namespace kith::app;

namespace {
constexpr int kMaxThumbnailBytes = 16 * 1024;

// A photo-like picture: noise compresses badly, as photos do.
QImage noisyImage(int width, int height)
{
    QImage image(width, height, QImage::Format_RGB32);
    quint32 state = 12345;
    for (int y = 0; y < height; ++y) {
        auto *line = reinterpret_cast<QRgb *>(image.scanLine(y));
        for (int x = 0; x < width; ++x) {
            state = state * 1664525u + 1013904223u;
            line[x] = qRgb(int(state >> 24), (x * 255) / width, (y * 255) / height);
        }
    }
    return image;
}

QByteArray pngChunk(const char *type, const QByteArray &data)
{
    QByteArray chunk;
    const quint32 length = qToBigEndian(quint32(data.size()));
    chunk.append(reinterpret_cast<const char *>(&length), 4);
    const QByteArray body = QByteArray(type, 4) + data;
    chunk.append(body);
    const quint32 crc = qToBigEndian(
        quint32(crc32(0, reinterpret_cast<const Bytef *>(body.constData()), uInt(body.size()))));
    chunk.append(reinterpret_cast<const char *>(&crc), 4);
    return chunk;
}

// A PNG header that claims width × height pixels, and almost no data.
QByteArray claimingPng(quint32 width, quint32 height)
{
    QByteArray header;
    const quint32 w = qToBigEndian(width);
    const quint32 h = qToBigEndian(height);
    header.append(reinterpret_cast<const char *>(&w), 4);
    header.append(reinterpret_cast<const char *>(&h), 4);
    header.append("\x08\x02\x00\x00\x00", 5);
    return QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", header) +
           pngChunk("IDAT", QByteArray(32, '\0'));
}
} // namespace

class TestMedia : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;

    QString write(const QString &name, const QByteArray &bytes)
    {
        const QString path = m_dir.filePath(name);
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size())
            return {};
        return path;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        QImageReader::setAllocationLimit(kImageAllocationLimitMiB);
    }

    void thumbnailOfALargePhotoFitsAndKeepsItsShape()
    {
        const QString path = m_dir.filePath(QStringLiteral("photo.jpg"));
        QVERIFY(noisyImage(3000, 2000).save(path, "JPEG", 95));
        QSize size;
        QByteArray thumbnail;
        QVERIFY(inspectImage(path, size, thumbnail));
        QCOMPARE(size, QSize(3000, 2000));
        QVERIFY(!thumbnail.isEmpty());
        QVERIFY2(thumbnail.size() <= kMaxThumbnailBytes, QByteArray::number(thumbnail.size()));
        const QImage decoded = QImage::fromData(thumbnail);
        QVERIFY(!decoded.isNull());
        QVERIFY(decoded.width() <= kMaxThumbnailSide && decoded.height() <= kMaxThumbnailSide);
        QVERIFY(qAbs(decoded.width() * 2 - decoded.height() * 3) <= 3); // 3:2, to a pixel
    }

    void transparentImageKeepsPngWhenItFits()
    {
        QImage image(200, 100, QImage::Format_ARGB32);
        image.fill(Qt::transparent);
        QPainter(&image).fillRect(20, 20, 60, 60, Qt::red);
        const QString path = m_dir.filePath(QStringLiteral("sticker.png"));
        QVERIFY(image.save(path, "PNG"));
        QSize size;
        QByteArray thumbnail;
        QVERIFY(inspectImage(path, size, thumbnail));
        QCOMPARE(size, QSize(200, 100));
        QVERIFY(thumbnail.startsWith("\x89PNG"));
        QVERIFY(QImage::fromData(thumbnail).hasAlphaChannel());
    }

    void notAnImageIsNoImage()
    {
        QSize size;
        QByteArray thumbnail;
        QVERIFY(!inspectImage(write(QStringLiteral("notes.txt"), "just words"), size, thumbnail));
        QVERIFY(!inspectImage(m_dir.filePath(QStringLiteral("absent.png")), size, thumbnail));
    }

    void fiftyThousandSquaredIsRefusedBeforeDecoding()
    {
        const QString path = write(QStringLiteral("huge.png"), claimingPng(50'000, 50'000));
        QImageReader probe(path);
        QCOMPARE(probe.size(), QSize(50'000, 50'000)); // what it claims
        QSize size;
        QByteArray thumbnail;
        QVERIFY(!inspectImage(path, size, thumbnail));
        QImageReader reader(path);
        QVERIFY(readBounded(reader, QSize(320, 320)).isNull());
        MediaImageProvider provider;
        QSize got;
        const QString id = QStringLiteral("file/") + QString::fromLatin1(path.toUtf8().toHex());
        QVERIFY(provider.requestImage(id, &got, QSize(320, 320)).isNull());
        QVERIFY(got.isEmpty());
    }

    void truncatedImageDoesNotCrash()
    {
        QByteArray bytes;
        QBuffer buffer(&bytes);
        QVERIFY(buffer.open(QIODevice::WriteOnly));
        QVERIFY(noisyImage(400, 300).save(&buffer, "PNG"));
        const QString path = write(QStringLiteral("cut.png"), bytes.left(bytes.size() / 3));
        QSize size;
        QByteArray thumbnail;
        // Whatever the decoder makes of the part that is there, within bounds.
        if (inspectImage(path, size, thumbnail)) {
            QCOMPARE(size, QSize(400, 300));
            QVERIFY(thumbnail.size() <= kMaxThumbnailBytes);
        }
        QImageReader reader(path);
        const QImage image = readBounded(reader, QSize(100, 100));
        QVERIFY(image.isNull() || (image.width() <= 100 && image.height() <= 100));
    }

    void providerDecodesAtTheSizeAsked()
    {
        const QString path = m_dir.filePath(QStringLiteral("big.png"));
        QVERIFY(noisyImage(1200, 600).save(path, "PNG"));
        MediaImageProvider provider;
        QSize got;
        const QString id = QStringLiteral("file/") + QString::fromLatin1(path.toUtf8().toHex());
        const QImage image = provider.requestImage(id, &got, QSize(300, 300));
        QCOMPARE(image.size(), QSize(300, 150));
        QCOMPARE(got, image.size());

        // A thumbnail travels in its URL; one that is no small image is refused.
        Media media(nullptr);
        QSize size;
        QByteArray thumbnail;
        QVERIFY(inspectImage(path, size, thumbnail));
        const QString source = media.thumbnailSource(thumbnail);
        QVERIFY(source.startsWith(QLatin1String("image://kithmedia/thumb/")));
        const QImage thumb =
            provider.requestImage(source.mid(int(qstrlen("image://kithmedia/"))), &got, {});
        QVERIFY(!thumb.isNull());
        QCOMPARE(thumb.width(), 2 * thumb.height());
        QCOMPARE(media.thumbnailSource(QByteArray(kMaxThumbnailBytes + 1, 'x')), QString());
        const QString bogus = media.thumbnailSource(claimingPng(5000, 5000));
        QVERIFY(provider.requestImage(bogus.mid(int(qstrlen("image://kithmedia/"))), &got, {})
                    .isNull());
    }

    // Ctrl+V of a screenshot: saved as a PNG of the app's, described for the
    // preview like a picked file; text on the clipboard is not an image.
    void pastedImageBecomesAFile()
    {
        Media media(nullptr);
        QGuiApplication::clipboard()->setText(QStringLiteral("just text"));
        QVERIFY(!media.clipboardHasImage());
        QVERIFY(media.saveClipboardImage().isEmpty());

        QGuiApplication::clipboard()->setImage(noisyImage(320, 200));
        QVERIFY(media.clipboardHasImage());
        const QUrl saved = media.saveClipboardImage();
        QVERIFY(saved.isLocalFile());
        QVERIFY(saved.toLocalFile().endsWith(QLatin1String(".png")));
        const QVariantMap described = media.describe(saved);
        QCOMPARE(described.value(QStringLiteral("isImage")).toBool(), true);
        QCOMPARE(described.value(QStringLiteral("width")).toInt(), 320);
        QCOMPARE(described.value(QStringLiteral("height")).toInt(), 200);
        QVERIFY(QFile::remove(saved.toLocalFile()));

        // Dropped URLs: only files on this device go on.
        const QUrl file = QUrl::fromLocalFile(write(QStringLiteral("drop.txt"), "x"));
        QCOMPARE(media.localFiles({file, QUrl(QStringLiteral("https://example.org/a.png")),
                                   QUrl::fromLocalFile(m_dir.path())}),
                 QList<QUrl>{file});
        QVERIFY(
            media.describe(QUrl::fromLocalFile(m_dir.filePath(QStringLiteral("gone")))).isEmpty());
    }
};

QTEST_MAIN(TestMedia)
#include "tst_media.moc"
