#pragma once
// RoundImage: a local image file drawn in a circle (a profile picture in the
// Avatar), decoded at the size it is shown and bounded like every image the
// app reads: a file that claims more than kMaxSourceSide a side, or is not an
// image, draws nothing and leaves `ready` false. Qt 6.4 has no mask effect
// without Qt5Compat, hence an item of its own. The QML type RoundImage of
// Kith.Theme.

#include <QImage>
#include <QQuickPaintedItem>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

namespace kith::app {

class RoundImage : public QQuickPaintedItem
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(QUrl source READ source WRITE setSource NOTIFY sourceChanged)
    // Whether the file was read and is shown.
    Q_PROPERTY(bool ready READ isReady NOTIFY readyChanged)
public:
    // A picture is 256 px; anything much bigger is not one.
    static constexpr int kMaxSourceSide = 4096;

    explicit RoundImage(QQuickItem *parent = nullptr);

    [[nodiscard]] QUrl source() const { return m_source; }
    void setSource(const QUrl &source);
    [[nodiscard]] bool isReady() const { return !m_image.isNull(); }

    void paint(QPainter *painter) override;

signals:
    void sourceChanged();
    void readyChanged();

protected:
    void geometryChange(const QRectF &newGeometry, const QRectF &oldGeometry) override;

private:
    void load();

    QUrl m_source;
    QImage m_image;
};

} // namespace kith::app
