#pragma once
// DesktopNotifier: desktop notifications through the freedesktop notification
// service (org.freedesktop.Notifications on the session bus), which GNOME,
// KDE and most desktops run with or without a tray. One notification per
// chat, replaced as messages come (grouped), with the sender's avatar;
// clicking it asks to open the chat, and where the service offers
// "inline-reply" an answer typed into it comes back as replied(). Created by
// Main.qml; `available` is false where no such service runs (the tray icon
// is then the fallback).

#include <QHash>
#include <QObject>
#include <QSet>
#include <QStringList>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QDBusInterface;

namespace kith::app {

class DesktopNotifier : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(bool available READ isAvailable NOTIFY availableChanged)
    Q_PROPERTY(bool canReply READ canReply NOTIFY availableChanged)
public:
    static constexpr auto kService = "org.freedesktop.Notifications";
    static constexpr auto kPath = "/org/freedesktop/Notifications";
    // Drawn at this size into the notification's image-data hint.
    static constexpr int kAvatarPixels = 96;

    explicit DesktopNotifier(QObject *parent = nullptr);
    ~DesktopNotifier() override;

    [[nodiscard]] bool isAvailable() const { return m_available; }
    [[nodiscard]] bool canReply() const
    {
        return m_capabilities.contains(QStringLiteral("inline-reply"));
    }

    // Shows (or updates) the notification of a chat. count: unread messages
    // in it, so a replaced notification says how many. avatarColor and
    // initials draw the sender's avatar.
    Q_INVOKABLE void notify(const QString &conversationId, const QString &title,
                            const QString &body, int count, const QString &avatarColor,
                            const QString &initials);
    // The chat was opened or read: its notification goes away.
    Q_INVOKABLE void withdraw(const QString &conversationId);

signals:
    void availableChanged();
    // The user clicked a notification: open this chat.
    void activated(const QString &conversationId);
    // The user answered in the notification.
    void replied(const QString &conversationId, const QString &text);

private slots:
    void onActionInvoked(uint id, const QString &action);
    void onNotificationReplied(uint id, const QString &text);
    void onNotificationClosed(uint id, uint reason);

private:
    void probe();

    std::unique_ptr<QDBusInterface> m_service;
    bool m_available = false;
    QStringList m_capabilities;
    QHash<QString, uint> m_idByConversation;
    QHash<uint, QString> m_conversationById;
};

} // namespace kith::app
