#pragma once
// TrayIcon: the system tray entry of the window — an icon that carries the
// unread count, a menu (open, quit) and desktop notifications. When the
// desktop has no tray (or the app runs without QApplication, as in tests),
// it stays inert and `available` is false. Created by Main.qml.

#include <QObject>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QMenu;
class QSystemTrayIcon;

namespace kith::app {

class TrayIcon : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(bool available READ isAvailable CONSTANT)
    Q_PROPERTY(int unreadCount READ unreadCount WRITE setUnreadCount NOTIFY unreadCountChanged)
public:
    explicit TrayIcon(QObject *parent = nullptr);
    ~TrayIcon() override;

    [[nodiscard]] bool isAvailable() const { return m_tray != nullptr; }
    [[nodiscard]] int unreadCount() const { return m_unread; }
    void setUnreadCount(int count);

    // A desktop notification; a click on it emits activated().
    Q_INVOKABLE void showMessage(const QString &title, const QString &body);

signals:
    void unreadCountChanged();
    // The user clicked the icon or a notification, or chose "Open Kith".
    void activated();
    void quitRequested();

private:
    void updateIcon();

    std::unique_ptr<QMenu> m_menu;
    std::unique_ptr<QSystemTrayIcon> m_tray;
    int m_unread = 0;
};

} // namespace kith::app
