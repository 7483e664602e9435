#include "desktop_notifier.h"

#include <QDBusArgument>
#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDBusInterface>
#include <QDBusMetaType>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QFont>
#include <QImage>
#include <QLoggingCategory>
#include <QPainter>

Q_LOGGING_CATEGORY(lcNotify, "kith.app.notify")

namespace {

constexpr auto kInterface = "org.freedesktop.Notifications";
// A notification call that hangs must not hold anything up for long.
constexpr int kCallTimeoutMs = 3'000;

// The "image-data" hint: raw RGBA pixels, (iiibiiay) in the specification.
struct NotificationImage
{
    int width = 0;
    int height = 0;
    int rowStride = 0;
    bool hasAlpha = true;
    int bitsPerSample = 8;
    int channels = 4;
    QByteArray pixels;
};

QDBusArgument &operator<<(QDBusArgument &arg, const NotificationImage &image)
{
    arg.beginStructure();
    arg << image.width << image.height << image.rowStride << image.hasAlpha << image.bitsPerSample
        << image.channels << image.pixels;
    arg.endStructure();
    return arg;
}

const QDBusArgument &operator>>(const QDBusArgument &arg, NotificationImage &image)
{
    arg.beginStructure();
    arg >> image.width >> image.height >> image.rowStride >> image.hasAlpha >>
        image.bitsPerSample >> image.channels >> image.pixels;
    arg.endStructure();
    return arg;
}

} // namespace

Q_DECLARE_METATYPE(NotificationImage)

namespace kith::app {

namespace {

// The sender's avatar as the app draws it: initials on their colour.
NotificationImage avatarImage(const QString &color, const QString &initials)
{
    const int size = DesktopNotifier::kAvatarPixels;
    QImage image(size, size, QImage::Format_RGBA8888);
    image.fill(Qt::transparent);
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setPen(Qt::NoPen);
    painter.setBrush(QColor(color));
    painter.drawEllipse(QRectF(0, 0, size, size));
    QFont font = painter.font();
    font.setBold(true);
    font.setPixelSize(int(size * 0.38));
    painter.setFont(font);
    painter.setPen(Qt::white);
    painter.drawText(image.rect(), Qt::AlignCenter, initials);
    painter.end();
    NotificationImage out;
    out.width = image.width();
    out.height = image.height();
    out.rowStride = int(image.bytesPerLine());
    out.pixels = QByteArray(reinterpret_cast<const char *>(image.constBits()),
                            qsizetype(image.sizeInBytes()));
    return out;
}

QString escapedBody(QString text)
{
    return text.replace(u'&', QStringLiteral("&amp;"))
        .replace(u'<', QStringLiteral("&lt;"))
        .replace(u'>', QStringLiteral("&gt;"));
}

} // namespace

DesktopNotifier::DesktopNotifier(QObject *parent)
    : QObject(parent)
{
    qDBusRegisterMetaType<NotificationImage>();
    QDBusConnection bus = QDBusConnection::sessionBus();
    if (!bus.isConnected())
        return;
    m_service = std::make_unique<QDBusInterface>(QLatin1String(kService), QLatin1String(kPath),
                                                 QLatin1String(kInterface), bus);
    m_service->setTimeout(kCallTimeoutMs);
    bus.connect(QLatin1String(kService), QLatin1String(kPath), QLatin1String(kInterface),
                QStringLiteral("ActionInvoked"), this, SLOT(onActionInvoked(uint, QString)));
    bus.connect(QLatin1String(kService), QLatin1String(kPath), QLatin1String(kInterface),
                QStringLiteral("NotificationReplied"), this,
                SLOT(onNotificationReplied(uint, QString)));
    bus.connect(QLatin1String(kService), QLatin1String(kPath), QLatin1String(kInterface),
                QStringLiteral("NotificationClosed"), this, SLOT(onNotificationClosed(uint, uint)));
    probe();
}

DesktopNotifier::~DesktopNotifier() = default;

void DesktopNotifier::probe()
{
    // Asynchronous: the window must not wait on the bus at start.
    auto *watcher =
        new QDBusPendingCallWatcher(m_service->asyncCall(QStringLiteral("GetCapabilities")), this);
    connect(watcher, &QDBusPendingCallWatcher::finished, this,
            [this](QDBusPendingCallWatcher *call) {
                call->deleteLater();
                QDBusPendingReply<QStringList> reply = *call;
                if (reply.isError()) {
                    qCInfo(lcNotify) << "no notification service:" << reply.error().message();
                    return;
                }
                m_capabilities = reply.value();
                m_available = true;
                qCDebug(lcNotify) << "notification service with" << m_capabilities;
                emit availableChanged();
            });
}

void DesktopNotifier::notify(const QString &conversationId, const QString &title,
                             const QString &body, int count, const QString &avatarColor,
                             const QString &initials)
{
    if (!m_available)
        return;
    QString text = body;
    if (count > 1)
        text = tr("%n new messages", nullptr, count) + QStringLiteral("\n") + body;
    QStringList actions{QStringLiteral("default"), tr("Open")};
    if (canReply())
        actions << QStringLiteral("inline-reply") << tr("Reply");
    QVariantMap hints{
        {QStringLiteral("category"), QStringLiteral("im.received")},
        {QStringLiteral("desktop-entry"), QStringLiteral("kith")},
        {QStringLiteral("image-data"), QVariant::fromValue(avatarImage(avatarColor, initials))},
        {QStringLiteral("x-kde-reply-placeholder-text"), tr("Reply to %1").arg(title)},
    };
    const bool markup = m_capabilities.contains(QStringLiteral("body-markup"));
    // Replacing the chat's last notification keeps one per chat.
    const uint replaces = m_idByConversation.value(conversationId, 0);
    auto *watcher = new QDBusPendingCallWatcher(
        m_service->asyncCall(QStringLiteral("Notify"), QStringLiteral("Kith"), replaces,
                             QStringLiteral("kith"), title, markup ? escapedBody(text) : text,
                             actions, hints, -1),
        this);
    connect(watcher, &QDBusPendingCallWatcher::finished, this,
            [this, conversationId](QDBusPendingCallWatcher *call) {
                call->deleteLater();
                QDBusPendingReply<uint> reply = *call;
                if (reply.isError()) {
                    qCInfo(lcNotify) << "notification refused:" << reply.error().message();
                    return;
                }
                const uint id = reply.value();
                m_idByConversation.insert(conversationId, id);
                m_conversationById.insert(id, conversationId);
            });
}

void DesktopNotifier::withdraw(const QString &conversationId)
{
    const uint id = m_idByConversation.take(conversationId);
    if (id == 0 || !m_service)
        return;
    m_conversationById.remove(id);
    m_service->asyncCall(QStringLiteral("CloseNotification"), id);
}

void DesktopNotifier::onActionInvoked(uint id, const QString &action)
{
    const QString conversationId = m_conversationById.value(id);
    if (conversationId.isEmpty())
        return; // another app's notification
    if (action == QLatin1String("default"))
        emit activated(conversationId);
}

void DesktopNotifier::onNotificationReplied(uint id, const QString &text)
{
    const QString conversationId = m_conversationById.value(id);
    if (!conversationId.isEmpty() && !text.trimmed().isEmpty())
        emit replied(conversationId, text);
}

void DesktopNotifier::onNotificationClosed(uint id, uint)
{
    const QString conversationId = m_conversationById.take(id);
    if (!conversationId.isEmpty() && m_idByConversation.value(conversationId) == id)
        m_idByConversation.remove(conversationId);
}

} // namespace kith::app
