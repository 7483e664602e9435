#pragma once
// LanServersModel: the Kith servers announced on the LAN, for the login
// screen (LanServersModel { active: ... } in QML). One row per server: Avahi
// reports a service once per interface and IP protocol, and the row shows the
// best of them (IPv4 before IPv6, a routable address before a link-local
// one); the row goes when the last of them does. While `active` it browses
// with a LanBrowser of its own; `available` is false where there is nothing
// to browse with (no avahi-daemon, a build without Avahi) and the list stays
// empty.

#include "kith/client/lan_browser.h"

#include <QAbstractListModel>
#include <QList>
#include <QtQml/qqmlregistration.h>

#include <memory>

namespace kith::client {

class LanServersModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(bool active READ isActive WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(bool available READ isAvailable NOTIFY availableChanged)
    Q_PROPERTY(QString unavailableReason READ unavailableReason NOTIFY availableChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Roles {
        NameRole = Qt::UserRole + 1, // QString: the server's name
        HostRole,                    // QString: "office-box.local"
        AddressRole,                 // QString: "192.168.1.20"
        PortRole,                    // int
        UrlRole,                     // QString: "wss://192.168.1.20:7400/"
        RegistrationOpenRole,        // bool
        TlsRole,                     // bool
        FingerprintRole,             // QString: hex as announced (unauthenticated), or empty
        LastRole
    };
    Q_ENUM(Roles)

    // Rows shown at most: the rest of a crowded (or hostile) LAN is left out.
    static constexpr int kMaxServers = 32;

    explicit LanServersModel(QObject *parent = nullptr);
    ~LanServersModel() override;

    [[nodiscard]] bool isActive() const { return m_active; }
    void setActive(bool active);
    [[nodiscard]] bool isAvailable() const { return m_available; }
    [[nodiscard]] QString unavailableReason() const { return m_unavailableReason; }

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role) const override;
    [[nodiscard]] QHash<int, QByteArray> roleNames() const override;

    // Row `row` as a map of role names to values (for QML and tests).
    Q_INVOKABLE [[nodiscard]] QVariantMap get(int row) const;

    // What a LanBrowser reports (connected to one while active; tests may
    // feed these directly).
    void addServer(const kith::client::LanServer &server);
    void removeServer(const kith::client::LanServer &server);
    void clear();

signals:
    void activeChanged();
    void availableChanged();
    void countChanged();

private:
    struct Row
    {
        QString instanceName;
        QString domain;
        QList<LanServer> instances; // the announcements of it, best first
    };
    [[nodiscard]] int rowOf(const LanServer &server) const;
    void setAvailable(bool available, const QString &reason);

    QList<Row> m_rows;
    std::unique_ptr<LanBrowser> m_browser;
    bool m_active = false;
    bool m_available = false;
    QString m_unavailableReason;
};

} // namespace kith::client
