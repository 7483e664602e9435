#include "round_image.h"

#include <QImageReader>
#include <QPainter>
#include <QPainterPath>
#include <QQuickWindow>

namespace kith::app {

RoundImage::RoundImage(QQuickItem *parent)
    : QQuickPaintedItem(parent)
{
    setAntialiasing(true);
}

void RoundImage::setSource(const QUrl &source)
{
    if (m_source == source)
        return;
    m_source = source;
    emit sourceChanged();
    load();
}

void RoundImage::geometryChange(const QRectF &newGeometry, const QRectF &oldGeometry)
{
    QQuickPaintedItem::geometryChange(newGeometry, oldGeometry);
    if (newGeometry.size() != oldGeometry.size())
        load();
}

void RoundImage::load()
{
    const bool wasReady = isReady();
    m_image = QImage();
    const qreal dpr = window() ? window()->devicePixelRatio() : 1.0;
    const int side = qMax(1, qCeil(qMin(width(), height()) * dpr));
    if (m_source.isLocalFile() && width() > 0 && height() > 0) {
        QImageReader reader(m_source.toLocalFile());
        reader.setAutoTransform(true);
        const QSize own = reader.size();
        if (own.isValid() && !own.isEmpty() && own.width() <= kMaxSourceSide &&
            own.height() <= kMaxSourceSide) {
            // Decoded at the size shown, covering the square.
            if (own.width() > side && own.height() > side)
                reader.setScaledSize(own.scaled(side, side, Qt::KeepAspectRatioByExpanding));
            m_image = reader.read();
        }
    }
    if (wasReady != isReady())
        emit readyChanged();
    update();
}

void RoundImage::paint(QPainter *painter)
{
    if (m_image.isNull())
        return;
    const QRectF box(0, 0, width(), height());
    const qreal side = qMin(box.width(), box.height());
    const QRectF circle((box.width() - side) / 2, (box.height() - side) / 2, side, side);
    // The centred square of the image, filling the circle.
    const qreal imageSide = qMin(m_image.width(), m_image.height());
    const QRectF from((m_image.width() - imageSide) / 2, (m_image.height() - imageSide) / 2,
                      imageSide, imageSide);
    QPainterPath path;
    path.addEllipse(circle);
    painter->setRenderHint(QPainter::Antialiasing);
    painter->setRenderHint(QPainter::SmoothPixmapTransform);
    painter->setClipPath(path);
    painter->drawImage(circle, m_image, from);
}

} // namespace kith::app
