#include "tray_icon.h"

#include <QApplication>
#include <QFont>
#include <QMenu>
#include <QPainter>
#include <QPixmap>
#include <QSystemTrayIcon>

namespace kith::app {

namespace {
constexpr int kIconPixels = 64; // drawn once at a size every tray scales down from
const QColor kAccent(0x2f, 0x74, 0xd8);
const QColor kBadge(0xd2, 0x3a, 0x3a);
} // namespace

TrayIcon::TrayIcon(QObject *parent)
    : QObject(parent)
{
    // QSystemTrayIcon needs a QApplication and a desktop that shows trays.
    if (!qobject_cast<QApplication *>(QCoreApplication::instance()) ||
        !QSystemTrayIcon::isSystemTrayAvailable())
        return;

    m_menu = std::make_unique<QMenu>();
    connect(m_menu->addAction(tr("Open Kith")), &QAction::triggered, this, &TrayIcon::activated);
    m_menu->addSeparator();
    connect(m_menu->addAction(tr("Quit")), &QAction::triggered, this, &TrayIcon::quitRequested);

    m_tray = std::make_unique<QSystemTrayIcon>();
    m_tray->setContextMenu(m_menu.get());
    connect(m_tray.get(), &QSystemTrayIcon::activated, this,
            [this](QSystemTrayIcon::ActivationReason reason) {
                if (reason == QSystemTrayIcon::Trigger || reason == QSystemTrayIcon::DoubleClick)
                    emit activated();
            });
    connect(m_tray.get(), &QSystemTrayIcon::messageClicked, this, &TrayIcon::activated);
    updateIcon();
    m_tray->show();
}

TrayIcon::~TrayIcon() = default;

void TrayIcon::setUnreadCount(int count)
{
    if (count == m_unread)
        return;
    m_unread = count;
    updateIcon();
    emit unreadCountChanged();
}

void TrayIcon::showMessage(const QString &title, const QString &body)
{
    if (m_tray)
        m_tray->showMessage(title, body, m_tray->icon());
}

void TrayIcon::updateIcon()
{
    if (!m_tray)
        return;
    QPixmap pixmap(kIconPixels, kIconPixels);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setPen(Qt::NoPen);
    painter.setBrush(kAccent);
    painter.drawEllipse(QRectF(2, 2, kIconPixels - 4, kIconPixels - 4));
    QFont font = painter.font();
    font.setBold(true);
    font.setPixelSize(kIconPixels / 2);
    painter.setFont(font);
    painter.setPen(Qt::white);
    painter.drawText(pixmap.rect(), Qt::AlignCenter, QStringLiteral("K"));
    if (m_unread > 0) {
        const QRectF badge(kIconPixels * 0.45, 0, kIconPixels * 0.55, kIconPixels * 0.45);
        painter.setPen(Qt::NoPen);
        painter.setBrush(kBadge);
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2);
        font.setPixelSize(int(badge.height() * 0.7));
        painter.setFont(font);
        painter.setPen(Qt::white);
        painter.drawText(badge, Qt::AlignCenter,
                         m_unread > 99 ? QStringLiteral("99+") : QString::number(m_unread));
    }
    painter.end();
    m_tray->setIcon(QIcon(pixmap));
    m_tray->setToolTip(m_unread > 0 ? tr("Kith — %n unread", nullptr, m_unread)
                                    : QStringLiteral("Kith"));
}

} // namespace kith::app
