#include "kith/client/lan_servers_model.h"

#include <algorithm>

namespace kith::client {

namespace {
// Lower is better: what a URL can reach most surely.
int rank(const LanServer &server)
{
    if (!server.ipv6)
        return 0;
    return server.linkLocal ? 2 : 1;
}

bool sameInstance(const LanServer &a, const LanServer &b)
{
    return a.interfaceIndex == b.interfaceIndex && a.ipProtocol == b.ipProtocol;
}
} // namespace

LanServersModel::LanServersModel(QObject *parent)
    : QAbstractListModel(parent)
{}

LanServersModel::~LanServersModel() = default;

void LanServersModel::setActive(bool active)
{
    if (m_active == active)
        return;
    m_active = active;
    if (active) {
        m_browser = std::make_unique<LanBrowser>();
        connect(m_browser.get(), &LanBrowser::found, this, &LanServersModel::addServer);
        connect(m_browser.get(), &LanBrowser::lost, this, &LanServersModel::removeServer);
        connect(m_browser.get(), &LanBrowser::unavailable, this, [this](const QString &reason) {
            clear();
            setAvailable(false, reason);
        });
        const bool started = m_browser->start();
        setAvailable(started, m_browser->unavailableReason());
    } else {
        // Not looking any more: what was found may be gone by the next look.
        m_browser.reset();
        clear();
        setAvailable(false, QString());
    }
    emit activeChanged();
}

void LanServersModel::setAvailable(bool available, const QString &reason)
{
    if (m_available == available && m_unavailableReason == reason)
        return;
    m_available = available;
    m_unavailableReason = reason;
    emit availableChanged();
}

int LanServersModel::rowOf(const LanServer &server) const
{
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).instanceName == server.instanceName &&
            m_rows.at(i).domain == server.domain)
            return i;
    return -1;
}

void LanServersModel::addServer(const LanServer &server)
{
    const int row = rowOf(server);
    if (row < 0) {
        if (m_rows.size() >= kMaxServers)
            return;
        // Sorted by name, so rows do not jump as announcements arrive.
        const auto at = std::lower_bound(
            m_rows.cbegin(), m_rows.cend(), server.name, [](const Row &r, const QString &name) {
                return r.instances.first().name.localeAwareCompare(name) < 0;
            });
        const int index = int(at - m_rows.cbegin());
        beginInsertRows({}, index, index);
        m_rows.insert(index, Row{server.instanceName, server.domain, {server}});
        endInsertRows();
        emit countChanged();
        return;
    }
    QList<LanServer> &instances = m_rows[row].instances;
    instances.removeIf([&](const LanServer &s) { return sameInstance(s, server); });
    instances.insert(
        std::lower_bound(instances.begin(), instances.end(), server,
                         [](const LanServer &a, const LanServer &b) { return rank(a) < rank(b); }),
        server);
    emit dataChanged(index(row), index(row));
}

void LanServersModel::removeServer(const LanServer &server)
{
    const int row = rowOf(server);
    if (row < 0)
        return;
    QList<LanServer> &instances = m_rows[row].instances;
    instances.removeIf([&](const LanServer &s) { return sameInstance(s, server); });
    if (!instances.isEmpty()) {
        emit dataChanged(index(row), index(row));
        return;
    }
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
    emit countChanged();
}

void LanServersModel::clear()
{
    if (m_rows.isEmpty())
        return;
    beginResetModel();
    m_rows.clear();
    endResetModel();
    emit countChanged();
}

int LanServersModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant LanServersModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const LanServer &server = m_rows.at(index.row()).instances.first();
    switch (role) {
    case Qt::DisplayRole:
    case NameRole:
        return server.name;
    case HostRole:
        return server.host;
    case AddressRole:
        return server.address;
    case PortRole:
        return int(server.port);
    case UrlRole:
        return server.url().toString();
    case RegistrationOpenRole:
        return server.registrationOpen;
    case TlsRole:
        return server.tls;
    case FingerprintRole:
        return QString::fromLatin1(server.fingerprint);
    default:
        return {};
    }
}

QHash<int, QByteArray> LanServersModel::roleNames() const
{
    return {{NameRole, "name"},       {HostRole, "host"},
            {AddressRole, "address"}, {PortRole, "port"},
            {UrlRole, "url"},         {RegistrationOpenRole, "registrationOpen"},
            {TlsRole, "tls"},         {FingerprintRole, "fingerprint"}};
}

QVariantMap LanServersModel::get(int row) const
{
    QVariantMap map;
    if (row < 0 || row >= m_rows.size())
        return map;
    const QHash<int, QByteArray> roles = roleNames();
    for (auto it = roles.cbegin(); it != roles.cend(); ++it)
        map.insert(QString::fromLatin1(it.value()), data(index(row), it.key()));
    return map;
}

} // namespace kith::client
