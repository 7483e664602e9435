#include "server.h"

#include <QNetworkInterface>

#include "admin_http.h"
#include "bulk_lane.h"
#include "fs_blob_store.h"
#include "gateway.h"
#include "lan_announcer.h"
#include "local_push_router.h"
#include "logging.h"
#include "node_status.h"
#include "redis_address.h"
#include "redis_push_router.h"
#include "services.h"
#include "store_factory.h"
#include "tls_identity.h"

#include "kith/fingerprint.h"
#include "kith/protocol.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QSysInfo>
#include <QTimer>

#include <sys/resource.h>

#include <algorithm>

namespace kith::server {

namespace {
// Clients that do not finish the close handshake do not hold up the exit.
constexpr int kShutdownGraceMs = 3000;
// How soon a running server notices an account disabled from another process.
constexpr int kAccountSweepMs = 5000;
// How often the host's listen-queue drop counters are looked at.
constexpr int kListenQueueCheckMs = 10000;
// Descriptors kept back from connections, at most: database files of the
// writer, checkpointer and reader threads, the admin endpoint, the log.
constexpr qint64 kReservedFiles = 512;
// How often expired uploads and unreferenced files are looked for: often
// enough that an abandoned upload's bytes do not linger much past its expiry.
constexpr int kFileSweepMs = 10 * 60 * 1000;

struct FileLimit
{
    qint64 files = 0;    // the open-file limit after raising it; 0: none
    int connections = 0; // connections that leave the reserve free
};

// A server wants every descriptor it may have: the soft open-file limit goes
// up to the hard one. Connections get all but a reserve (a quarter of a
// small limit).
FileLimit connectionLimitFromFiles()
{
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) != 0)
        return {};
    if (files.rlim_cur < files.rlim_max) {
        rlimit raised = files;
        raised.rlim_cur = files.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            files = raised;
    }
    if (files.rlim_cur == RLIM_INFINITY)
        return {};
    const qint64 limit = qint64(std::min<rlim_t>(files.rlim_cur, 10'000'000));
    return {limit, int(std::max<qint64>(1, limit - std::min(kReservedFiles, limit / 4)))};
}

// A node id when none is given: a hash of the host name and the port (the
// same after a restart, so the node takes over what it held), or of the
// process when the port is chosen at start. Unique enough among the nodes
// of one bus; a clash is refused when joining and shown in /healthz.
quint32 derivedNodeId(quint16 port)
{
    QByteArray key = QSysInfo::machineHostName().toUtf8() + ':';
    key += port != 0 ? QByteArray::number(port)
                     : "pid" + QByteArray::number(QCoreApplication::applicationPid());
    quint32 hash = 2166136261u; // FNV-1a
    for (const char c : key) {
        hash ^= quint8(c);
        hash *= 16777619u;
    }
    hash &= 0x7fffffffu;
    return hash == 0 ? 1 : hash;
}
} // namespace

Server::Server(Config config, std::unique_ptr<Store> store, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_store(std::move(store))
{}

Server::~Server()
{
    // Withdrawn from the LAN before it stops serving.
    m_announcer.reset();
    // Sessions and the admin endpoint go first; the store closes last.
    m_admin.reset();
    m_gateway.reset();
    m_bulk.reset(); // waits for reads in flight
    m_services.reset();
    if (m_router)
        m_router->setDeviceListener({});
    m_bus.reset();
    m_router.reset();
    if (!m_stopping && m_store)
        m_store->close();
    m_blobs.reset();
}

Status Server::start()
{
    QDir dir(m_config.dataDir);
    if (!dir.exists()) {
        if (!QDir().mkpath(m_config.dataDir))
            return makeError(v1::INTERNAL,
                             QStringLiteral("Cannot create data folder %1").arg(m_config.dataDir));
        // Password hashes and token hashes live here: owner only.
        QFile::setPermissions(m_config.dataDir,
                              QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    }
    if (const Status opened = m_store->open(); !opened)
        return makeError(
            opened.error().code,
            QStringLiteral("Cannot open the store %1: %2")
                .arg(describeStoreLocation(m_config.storeLocation()), opened.error().message));
    m_schemaVersion = m_store->schemaVersion();

    PushRouter *router = nullptr;
    if (m_config.bus.isEmpty()) {
        m_router = std::make_unique<LocalPushRouter>(&m_metrics);
        router = m_router.get();
    } else {
        const Result<cluster::RedisAddress> address = cluster::parseRedisUrl(m_config.bus);
        if (!address)
            return address.error();
        m_nodeId = m_config.nodeId != 0 ? m_config.nodeId : derivedNodeId(m_config.port);
        m_router = std::make_unique<LocalPushRouter>(&m_metrics, m_nodeId);
        cluster::BusOptions bus;
        bus.address = *address;
        bus.node = m_nodeId;
        bus.nodeTtlMs = m_config.nodeTtlMs;
        m_bus = std::make_unique<cluster::RedisPushRouter>(*m_router, bus);
        m_router->setDeviceListener(
            [this](quint64 deviceId, bool online) { m_bus->localDeviceChanged(deviceId, online); });
        router = m_bus.get();
        qCInfo(lcGateway).noquote()
            << QStringLiteral("node %1%2 on the bus %3")
                   .arg(m_nodeId)
                   .arg(m_config.nodeId != 0 ? QString() : QStringLiteral(" (derived)"))
                   .arg(address->describe());
    }
    ServicesOptions services;
    services.argon2 = m_config.argon2;
    services.auth.registrationOpen = m_config.registrationOpen;
    services.messages = m_config.messages;
    services.auth.registrationsPerHour = m_config.registrationsPerHour;
    services.auth.authRate = m_config.authRate;
    services.auth.authBurst = m_config.authBurst;
    services.auth.hashesPerAddress = m_config.hashesPerAddress;
    services.auth.maxSessionsPerUser = m_config.maxSessionsPerUser;
    services.files.maxFileBytes = quint64(m_config.maxFileBytes);
    services.files.quotaBytes = quint64(m_config.quotaBytes);
    services.files.uploadsPerUser = m_config.uploadsPerUser;
    services.files.uploadExpiryMs = m_config.uploadExpiryMs;
    services.presenceGraceMs = m_config.presenceGraceMs;
    m_blobs = std::make_unique<FsBlobStore>(m_config.filesPath());
    if (const Status opened = m_blobs->open(); !opened)
        return opened;
    m_services = std::make_unique<Services>(*m_store, *m_blobs, *router, services);

    GatewayOptions options;
    options.address = m_config.listenAddress;
    options.port = m_config.port;
    options.certFile = m_config.certFile;
    options.keyFile = m_config.keyFile;
    if (!m_config.plain && options.certFile.isEmpty()) {
        // No certificate given: wss with the data folder's own (TOFU).
        const Result<TlsFiles> own = TlsIdentity::ensure(
            m_config.dataDir, QStringLiteral("kithd on %1").arg(QSysInfo::machineHostName()));
        if (!own)
            return own.error();
        options.certFile = own->certFile;
        options.keyFile = own->keyFile;
        if (own->created)
            qCInfo(lcGateway).noquote()
                << "made a new key and self-signed certificate:" << own->certFile;
    }
    if (!options.certFile.isEmpty()) {
        const Result<QByteArray> fingerprint = TlsIdentity::fingerprintOf(options.certFile);
        if (!fingerprint)
            return fingerprint.error();
        m_fingerprint = *fingerprint;
    }
    options.limits.authTimeoutMs = m_config.authTimeoutMs;
    options.limits.idleTimeoutMs = m_config.idleTimeoutMs;
    options.limits.bulkJobsInFlight = m_config.bulkJobsPerConnection;
    options.budgets.send = {m_config.sendRate, m_config.sendBurst};
    options.budgets.read = {m_config.readRate, m_config.readBurst};
    options.budgets.write = {m_config.writeRate, m_config.writeBurst};
    options.budgets.groupChange = {m_config.groupChangeRate, m_config.groupChangeBurst};
    options.budgets.typing = {m_config.typingRate, m_config.typingBurst};
    options.maxUnauthenticatedPerAddress = m_config.maxUnauthenticatedPerAddress;
    options.outputBudget = {m_config.maxQueuedBytes, m_config.drainTimeoutMs};
    const FileLimit files = connectionLimitFromFiles();
    options.maxConnections =
        m_config.maxConnections > 0 ? m_config.maxConnections : files.connections;
    options.listenBacklog = m_config.listenBacklog;
    m_bulk = std::make_unique<BulkLane>();
    const ServiceSet sessionServices{m_services->auth,
                                     m_services->messages,
                                     m_services->groups,
                                     m_services->users,
                                     m_services->files,
                                     *m_router,
                                     *m_bulk,
                                     m_metrics};
    m_gateway = std::make_unique<Gateway>(sessionServices, options);
    if (const Status listening = m_gateway->listen(); !listening)
        return listening;
    if (options.maxConnections > 0)
        qCInfo(lcGateway).noquote()
            << QStringLiteral("serving up to %1 connections (open-file limit %2)")
                   .arg(options.maxConnections)
                   .arg(files.files);

    // An account disabled elsewhere (`kithd user disable`, another node)
    // loses its connections: told by the store where it can tell, else
    // noticed on this beat (SQLite: the command writes the file from another
    // process).
    const bool told = m_store->watchDisabledAccounts(this, [this](quint64 userId) {
        const int closed = userId == 0 ? m_services->auth.closeDisabledAccounts()
                                       : m_services->auth.accountDisabled(userId);
        if (closed)
            qCInfo(lcAuth) << "closed" << closed << "connections of disabled accounts";
    });
    if (!told) {
        auto *accountSweep = new QTimer(this);
        connect(accountSweep, &QTimer::timeout, this, [this] {
            if (const int closed = m_services->auth.closeDisabledAccounts())
                qCInfo(lcAuth) << "closed" << closed << "connections of disabled accounts";
        });
        accountSweep->start(kAccountSweepMs);
    }

    // The kernel counts listen-queue drops for the whole host; a rise is
    // worth a line in kithd's log, since the clients it dropped only see a
    // slow connect.
    m_listenQueue = readListenQueueCounters();
    auto *listenWatch = new QTimer(this);
    connect(listenWatch, &QTimer::timeout, this, &Server::checkListenQueue);
    listenWatch->start(kListenQueueCheckMs);
    // The first round soon after the start stores what a crash left as parts.
    auto *fileSweep = new QTimer(this);
    connect(fileSweep, &QTimer::timeout, this, &Server::sweepFiles);
    fileSweep->start(kFileSweepMs);
    QTimer::singleShot(0, this, &Server::sweepFiles);

    announce();

    m_admin = std::make_unique<AdminHttp>([this] { return renderMetrics(); },
                                          [this] { return renderHealth(); });
    if (const Status listening = m_admin->listen(m_config.adminPort); !listening)
        return listening;
    if (m_bus)
        m_bus->start();
    qCInfo(lcGateway) << "kithd started; data in" << QDir(m_config.dataDir).absolutePath()
                      << "store" << describeStoreLocation(m_config.storeLocation()) << "files"
                      << m_blobs->location() << "schema" << m_schemaVersion << "registration"
                      << (m_config.registrationOpen ? "open" : "closed");
    return Done{};
}

void Server::checkListenQueue()
{
    const ListenQueueCounters now = readListenQueueCounters();
    if (!now.known || !m_listenQueue.known) {
        m_listenQueue = now;
        return;
    }
    if (now.overflows > m_listenQueue.overflows || now.drops > m_listenQueue.drops)
        qCWarning(lcGateway).noquote()
            << QStringLiteral("the kernel dropped %1 connection attempts at a full listen queue "
                              "on this host in the last %2 s (%3 overflows); kithd's backlog is "
                              "%4 (--listen-backlog; the system caps it at net.core.somaxconn, "
                              "%5)")
                   .arg(now.drops - m_listenQueue.drops)
                   .arg(kListenQueueCheckMs / 1000)
                   .arg(now.overflows - m_listenQueue.overflows)
                   .arg(m_gateway ? m_gateway->listenBacklog() : 0)
                   .arg(systemListenBacklog());
    m_listenQueue = now;
}

void Server::announce()
{
    if (!m_config.announce)
        return;
    // Nobody on the LAN could connect to a loopback address.
    if (m_config.listenAddress.isLoopback()) {
        qCInfo(lcGateway) << "not announcing on the LAN: listening on loopback only";
        return;
    }
    LanAnnouncer::Service service;
    service.name = m_config.serverName.isEmpty()
                       ? QStringLiteral("Kith on %1").arg(QSysInfo::machineHostName())
                       : m_config.serverName;
    service.port = port();
    service.txt = {
        {"name", service.name.toUtf8()},
        {"proto", QByteArray::number(kProtocolMajor) + '.' + QByteArray::number(kProtocolMinor)},
        {"tls", m_fingerprint.isEmpty() ? "0" : "1"},
        {"fp", m_fingerprint.toHex()},
        {"reg", m_config.registrationOpen ? "open" : "closed"},
    };
    m_announcer = std::make_unique<LanAnnouncer>(std::move(service));
    if (!m_announcer->start())
        m_announcer.reset();
}

quint16 Server::port() const
{
    return m_gateway ? m_gateway->port() : 0;
}

quint16 Server::adminPort() const
{
    return m_admin ? m_admin->port() : 0;
}

QString Server::readyLine() const
{
    QString host = m_config.listenAddress.toString();
    if (m_config.listenAddress.protocol() == QAbstractSocket::IPv6Protocol)
        host = QLatin1Char('[') + host + QLatin1Char(']');
    const QString scheme =
        m_gateway && m_gateway->secure() ? QStringLiteral("wss") : QStringLiteral("ws");
    return QStringLiteral("kithd ready: %1://%2:%3/ admin=http://127.0.0.1:%4/")
        .arg(scheme, host)
        .arg(port())
        .arg(adminPort());
}

QStringList Server::connectUrls() const
{
    const QString scheme =
        m_gateway && m_gateway->secure() ? QStringLiteral("wss") : QStringLiteral("ws");
    const auto url = [&](const QHostAddress &address) {
        QString host = address.toString();
        if (address.protocol() == QAbstractSocket::IPv6Protocol)
            host = QLatin1Char('[') + host + QLatin1Char(']');
        return QStringLiteral("%1://%2:%3/").arg(scheme, host).arg(port());
    };
    const QHostAddress listen = m_config.listenAddress;
    const bool wildcard = listen == QHostAddress::Any || listen == QHostAddress::AnyIPv4 ||
                          listen == QHostAddress::AnyIPv6;
    if (!wildcard)
        return {url(listen)};
    // A wildcard address is not something a client can dial: name the
    // machine's own IPv4 addresses, LAN first, then loopback.
    QStringList urls;
    for (const QHostAddress &address : QNetworkInterface::allAddresses()) {
        if (address.protocol() == QAbstractSocket::IPv4Protocol && !address.isLoopback())
            urls.append(url(address));
    }
    urls.append(url(QHostAddress::LocalHost));
    return urls;
}

void Server::sweepFiles()
{
    if (m_stopping || m_sweeping || !m_services)
        return;
    m_sweeping = true;
    m_services->files.sweep(nowMs(), this, [this](Result<SweepReport> report) {
        m_sweeping = false;
        if (!report) {
            qCWarning(lcFiles) << "file sweep failed:" << report.error().message;
            return;
        }
        if (report->expiredUploads || report->unsentFiles || report->blobsRemoved ||
            report->partsRemoved || report->partsRepaired)
            qCInfo(lcFiles) << "file sweep:" << report->expiredUploads << "expired uploads,"
                            << report->unsentFiles << "unsent files," << report->blobsRemoved
                            << "blobs removed," << report->partsRemoved << "parts removed,"
                            << report->partsRepaired << "parts stored";
    });
}

QByteArray Server::renderMetrics() const
{
    Metrics::Gauges gauges;
    if (m_router) {
        gauges.authenticatedSessions = m_router->authenticatedCount();
        gauges.onlineUsers = m_router->onlineUserCount();
    }
    gauges.schemaVersion = m_schemaVersion;
    gauges.listenBacklog = m_gateway ? m_gateway->listenBacklog() : 0;
    const ListenQueueCounters queue = readListenQueueCounters();
    gauges.listenQueueKnown = queue.known;
    gauges.listenOverflows = queue.overflows;
    gauges.listenDrops = queue.drops;
    QByteArray out = m_metrics.renderPrometheus(m_store->stats(), gauges);
    if (m_services) // started: the node's store and bus
        out += renderNodeMetrics(nodeStatus());
    return out;
}

NodeStatus Server::nodeStatus() const
{
    NodeStatus status;
    status.node = m_nodeId;
    status.store = m_store.get();
    status.storeLocation = describeStoreLocation(m_config.storeLocation());
    status.bus = m_bus.get();
    if (m_bus)
        status.busLocation = m_bus->address().describe();
    return status;
}

QByteArray Server::renderHealth() const
{
    return kith::server::renderHealth(nodeStatus());
}

void Server::stop()
{
    if (m_stopping)
        return;
    m_stopping = true;
    if (!m_gateway) {
        m_store->close();
        emit stopped();
        return;
    }
    qCInfo(lcGateway) << "stopping: no new connections or requests";
    // The node leaves the bus as a whole (see finishStop), not one
    // connection at a time.
    if (m_bus)
        m_bus->prepareToLeave();
    m_gateway->stopAccepting();
    m_gateway->refuseNewRequests();
    // Transfers end here (an upload cut off resumes later from its part).
    m_gateway->stopTransfers();
    m_services->stop();
    // Hashes in flight finish and post their completions (answered SHUTTING_DOWN).
    m_services->hasher.waitForIdle();
    // History reads in flight finish before the store closes under them.
    m_bulk->drain();
    QCoreApplication::sendPostedEvents();
    // Queued writes commit; their completions (acks, pushes) are then delivered.
    m_store->close();
    QCoreApplication::sendPostedEvents();
    qCInfo(lcGateway) << "store closed; closing" << m_gateway->sessionCount() << "connections";

    auto *grace = new QTimer(this);
    grace->setSingleShot(true);
    const auto finish = [this, grace] {
        if (m_stopEmitted)
            return;
        m_stopEmitted = true;
        grace->stop();
        grace->deleteLater();
        disconnect(m_gateway.get(), &Gateway::allSessionsClosed, this, nullptr);
        finishStop();
    };
    connect(grace, &QTimer::timeout, this, finish);
    connect(m_gateway.get(), &Gateway::allSessionsClosed, this, finish, Qt::QueuedConnection);
    grace->start(kShutdownGraceMs);
    m_gateway->closeAll();
}

void Server::finishStop()
{
    const auto stoppedNow = [this] {
        qCInfo(lcGateway) << "stopped";
        emit stopped();
    };
    if (!m_bus)
        return stoppedNow();
    m_bus->leave(stoppedNow);
}

} // namespace kith::server
