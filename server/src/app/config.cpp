#include "config.h"

#include "redis_address.h"
#include "store_factory.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QSettings>

#include <functional>

namespace kith::server {

namespace {
// Below these a timer would fire before a client on a slow link could answer.
constexpr int kMinTimeoutMs = 100;
// Node ids name Redis keys and channels; 31 bits keep them positive everywhere.
constexpr qint64 kMaxNodeId = 2147483647;
// A node renews its place every third of this; less would be renewal traffic only.
constexpr int kMinNodeTtlMs = 1000;

Error invalid(const QString &message)
{
    return makeError(v1::INVALID_ARGUMENT, message);
}

// One option: its value comes from the flag, else from the file, else stays default.
struct Source
{
    const QCommandLineParser &parser;
    const QSettings *file;

    [[nodiscard]] std::optional<QString> value(const QString &name) const
    {
        if (parser.isSet(name))
            return parser.value(name);
        if (file && file->contains(name)) {
            const QVariant value = file->value(name);
            // QSettings splits unquoted INI values at commas; a value is one string here.
            if (value.typeId() == QMetaType::QStringList)
                return value.toStringList().join(QLatin1Char(','));
            return value.toString();
        }
        return std::nullopt;
    }
};

Status readInt(const Source &source, const QString &name, qint64 min, qint64 max,
               const std::function<void(qint64)> &set)
{
    const auto text = source.value(name);
    if (!text)
        return Done{};
    bool ok = false;
    const qint64 value = text->trimmed().toLongLong(&ok);
    if (!ok || value < min || value > max)
        return invalid(QStringLiteral("--%1 must be a whole number from %2 to %3, not '%4'")
                           .arg(name)
                           .arg(min)
                           .arg(max)
                           .arg(*text));
    set(value);
    return Done{};
}

// A switch: set by its flag, or by true/yes/1 in the file.
Result<bool> readSwitch(const Source &source, const QString &name)
{
    if (source.parser.isSet(name))
        return true;
    const auto text = source.value(name);
    if (!text)
        return false;
    const QString value = text->trimmed().toLower();
    if (value == QLatin1String("true") || value == QLatin1String("yes") ||
        value == QLatin1String("1"))
        return true;
    if (value == QLatin1String("false") || value == QLatin1String("no") ||
        value == QLatin1String("0"))
        return false;
    return invalid(QStringLiteral("%1 must be true or false, not '%2'").arg(name, *text));
}

Status readDouble(const Source &source, const QString &name, double min,
                  const std::function<void(double)> &set)
{
    const auto text = source.value(name);
    if (!text)
        return Done{};
    bool ok = false;
    const double value = text->trimmed().toDouble(&ok);
    if (!ok || value < min)
        return invalid(QStringLiteral("--%1 must be a number of at least %2, not '%3'")
                           .arg(name)
                           .arg(min)
                           .arg(*text));
    set(value);
    return Done{};
}
} // namespace

QString databasePathIn(const QString &dataDir)
{
    return QDir(dataDir).filePath(QStringLiteral("kith.sqlite3"));
}

QString Config::databasePath() const
{
    return databasePathIn(dataDir);
}

QString Config::filesPath() const
{
    return filesDir.isEmpty() ? QDir(dataDir).filePath(QStringLiteral("files")) : filesDir;
}

QString Config::storeLocation() const
{
    return store.isEmpty() ? databasePath() : store;
}

Result<CommandLine> parseCommandLine(const QStringList &args)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("kithd: the Kith instant-messaging server.\n\n"
                       "Admin commands (work on the data folder, also while kithd runs):\n"
                       "  kithd user add NAME [--display-name X] [--password PW]\n"
                       "  kithd user list | passwd NAME | disable NAME | enable NAME\n"
                       "  (passwords are read from the first line of stdin unless --password is "
                       "given; all take --data DIR or --config FILE)"));
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    const Config defaults;
    parser.addOptions({
        {QStringLiteral("port"),
         QStringLiteral("WebSocket port (0 picks a free one). Default %1.").arg(defaults.port),
         QStringLiteral("N")},
        {QStringLiteral("listen"),
         QStringLiteral("Address to listen on. Default %1.").arg(defaults.listenAddress.toString()),
         QStringLiteral("ADDR")},
        {QStringLiteral("admin-port"),
         QStringLiteral("Admin HTTP port on 127.0.0.1 (/healthz, /metrics; 0 picks a free one). "
                        "Default %1.")
             .arg(defaults.adminPort),
         QStringLiteral("N")},
        {QStringLiteral("data"),
         QStringLiteral("Data folder (created on first start). Default ./%1.")
             .arg(defaults.dataDir),
         QStringLiteral("DIR")},
        {QStringLiteral("config"),
         QStringLiteral("INI file with any of these options as keys (e.g. port=7400); flags win "
                        "over the file."),
         QStringLiteral("FILE")},
        {QStringLiteral("registration"),
         QStringLiteral("open: anyone may register; closed: only the admin creates users. "
                        "Default open."),
         QStringLiteral("open|closed")},
        {QStringLiteral("registrations-per-hour"),
         QStringLiteral("New accounts one remote address may register per hour (all at once "
                        "if need be); 0: no limit. Default %1.")
             .arg(defaults.registrationsPerHour),
         QStringLiteral("N")},
        {QStringLiteral("cert"),
         QStringLiteral("PEM certificate (chain) for wss; needs --key. Default: a self-signed "
                        "certificate kithd makes in the data folder on first start (see "
                        "`kithd fingerprint`)."),
         QStringLiteral("FILE")},
        {QStringLiteral("key"), QStringLiteral("PEM private key for wss; needs --cert."),
         QStringLiteral("FILE")},
        {QStringLiteral("plain"),
         QStringLiteral("Serve plain ws:// (no TLS); only with a loopback --listen address.")},
        {QStringLiteral("no-announce"),
         QStringLiteral("Do not announce the server on the LAN (DNS-SD _kith._tcp through "
                        "avahi-daemon; never done for a loopback --listen address).")},
        {QStringLiteral("name"),
         QStringLiteral("The server's name in the apps' list of servers on the LAN. Default "
                        "\"Kith on <host name>\"."),
         QStringLiteral("NAME")},
        {QStringLiteral("insecure-plain"),
         QStringLiteral("Serve plain ws:// on any address: messages and passwords cross the "
                        "network unencrypted (e.g. behind a TLS-terminating proxy).")},
        {QStringLiteral("auth-timeout-ms"),
         QStringLiteral("Time a connection has to say hello and authenticate. Default %1.")
             .arg(defaults.authTimeoutMs),
         QStringLiteral("N")},
        {QStringLiteral("idle-timeout-ms"),
         QStringLiteral("A connection that sends nothing this long is closed (the server pings "
                        "half-way). Default %1.")
             .arg(defaults.idleTimeoutMs),
         QStringLiteral("N")},
        {QStringLiteral("max-connections"),
         QStringLiteral("Connections served at once; past it a new one is answered 503 and "
                        "closed. Default 0: the open-file limit (raised to its maximum) less a "
                        "reserve for the database and threads."),
         QStringLiteral("N")},
        {QStringLiteral("listen-backlog"),
         QStringLiteral("Connection attempts the kernel queues before kithd accepts them (a "
                        "burst of logins past it is dropped and retried seconds later). Default "
                        "0: the system's maximum, net.core.somaxconn."),
         QStringLiteral("N")},
        {QStringLiteral("send-rate"),
         QStringLiteral("Sends per second allowed per user (token bucket). Default %1.")
             .arg(defaults.sendRate),
         QStringLiteral("N")},
        {QStringLiteral("send-burst"),
         QStringLiteral("Sends a user may burst before --send-rate applies. Default %1.")
             .arg(defaults.sendBurst),
         QStringLiteral("N")},
        {QStringLiteral("edit-window-ms"),
         QStringLiteral("How long after sending a message its author may edit it; 0: always. "
                        "Default %1 (48 h).")
             .arg(defaults.messages.windows.editMs),
         QStringLiteral("N")},
        {QStringLiteral("delete-window-ms"),
         QStringLiteral("How long after sending a message its author may delete it for everyone "
                        "(group admins: always); 0: always. Default %1.")
             .arg(defaults.messages.windows.deleteMs),
         QStringLiteral("N")},
        {QStringLiteral("ops-rate"),
         QStringLiteral("Edits, deletions and reactions per second per user (token bucket). "
                        "Default %1.")
             .arg(defaults.messages.opsPerSecond),
         QStringLiteral("N")},
        {QStringLiteral("ops-burst"),
         QStringLiteral("Edits, deletions and reactions a user may burst before --ops-rate "
                        "applies. Default %1.")
             .arg(defaults.messages.opsBurst),
         QStringLiteral("N")},
        {QStringLiteral("read-rate"),
         QStringLiteral("Reads (pull, sync, member lists, search, profiles, device lists) per "
                        "second per user; 0: no limit. Default %1.")
             .arg(defaults.readRate),
         QStringLiteral("N")},
        {QStringLiteral("read-burst"),
         QStringLiteral("Reads a user may burst. Default %1.").arg(defaults.readBurst),
         QStringLiteral("N")},
        {QStringLiteral("write-rate"),
         QStringLiteral("Other writes (mark read, leave a group, display name, revoke, logout) "
                        "per second per user; 0: no limit. Default %1.")
             .arg(defaults.writeRate),
         QStringLiteral("N")},
        {QStringLiteral("write-burst"),
         QStringLiteral("Other writes a user may burst. Default %1.").arg(defaults.writeBurst),
         QStringLiteral("N")},
        {QStringLiteral("group-change-rate"),
         QStringLiteral("Group creations, member additions and removals, renames and group "
                        "picture changes per second per user; 0: no limit. Default %1.")
             .arg(defaults.groupChangeRate),
         QStringLiteral("N")},
        {QStringLiteral("group-change-burst"),
         QStringLiteral("Group changes a user may burst. Default %1.")
             .arg(defaults.groupChangeBurst),
         QStringLiteral("N")},
        {QStringLiteral("typing-rate"),
         QStringLiteral("Typing signals per second per user (repeats are also coalesced); "
                        "0: no limit. Default %1.")
             .arg(defaults.typingRate),
         QStringLiteral("N")},
        {QStringLiteral("typing-burst"),
         QStringLiteral("Typing signals a user may burst. Default %1.").arg(defaults.typingBurst),
         QStringLiteral("N")},
        {QStringLiteral("presence-grace-ms"),
         QStringLiteral("A user away for less than this (a reconnect, a move to another "
                        "node) is not shown offline to their contacts; 0: at once. Default %1.")
             .arg(defaults.presenceGraceMs),
         QStringLiteral("MS")},
        {QStringLiteral("auth-rate"),
         QStringLiteral("Logins and resumes per second per remote address; 0: no limit. "
                        "Default %1.")
             .arg(defaults.authRate),
         QStringLiteral("N")},
        {QStringLiteral("auth-burst"),
         QStringLiteral("Logins and resumes one remote address may burst. Default %1.")
             .arg(defaults.authBurst),
         QStringLiteral("N")},
        {QStringLiteral("hashes-per-address"),
         QStringLiteral("Password hashes (logins, registrations) checked at once for one remote "
                        "address. Default %1.")
             .arg(defaults.hashesPerAddress),
         QStringLiteral("N")},
        {QStringLiteral("max-sessions-per-user"),
         QStringLiteral("Authenticated connections one account may hold (per node); 0: no "
                        "limit. Default %1.")
             .arg(defaults.maxSessionsPerUser),
         QStringLiteral("N")},
        {QStringLiteral("max-unauthenticated-per-address"),
         QStringLiteral("Connections from one remote address not yet authenticated; past it new "
                        "ones are answered 503. 0: no limit. Default %1.")
             .arg(defaults.maxUnauthenticatedPerAddress),
         QStringLiteral("N")},
        {QStringLiteral("max-queued-bytes"),
         QStringLiteral("Bytes queued for one connection (answers, pushes, pongs): past half of "
                        "it its requests are not read, past all of it it is closed. Default %1.")
             .arg(defaults.maxQueuedBytes),
         QStringLiteral("N")},
        {QStringLiteral("drain-timeout-ms"),
         QStringLiteral("A connection with bytes queued for it that takes none of them this "
                        "long is closed. Default %1.")
             .arg(defaults.drainTimeoutMs),
         QStringLiteral("N")},
        {QStringLiteral("bulk-jobs-per-connection"),
         QStringLiteral("History and sync requests of one connection queued at once; past it "
                        "its requests wait. Default %1.")
             .arg(defaults.bulkJobsPerConnection),
         QStringLiteral("N")},
        {QStringLiteral("argon2-memory-kib"),
         QStringLiteral("Argon2id memory per password hash in KiB (at least %1). Default %1.")
             .arg(Argon2Params::kMinMemoryKib),
         QStringLiteral("N")},
        {QStringLiteral("argon2-ops"),
         QStringLiteral("Argon2id passes (at least %1). Default %1.").arg(Argon2Params::kMinOps),
         QStringLiteral("N")},
        {QStringLiteral("store"),
         QStringLiteral("PostgreSQL database as a URL (postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
                        "[?sslmode=...]), for several kithd nodes sharing it. Default: SQLite "
                        "in the data folder."),
         QStringLiteral("URL")},
        {QStringLiteral("store-connections"),
         QStringLiteral("PostgreSQL: read connections at most, per node (the writer and the "
                        "listener have one each besides). Default %1.")
             .arg(defaults.storeConnections),
         QStringLiteral("N")},
        {QStringLiteral("files"),
         QStringLiteral("Folder for the bytes of files (with several nodes, a mount they all "
                        "share). Default: files in the data folder."),
         QStringLiteral("DIR")},
        {QStringLiteral("max-file-bytes"),
         QStringLiteral("Largest file a user may upload, in bytes. Default %1.")
             .arg(defaults.maxFileBytes),
         QStringLiteral("N")},
        {QStringLiteral("quota-bytes"),
         QStringLiteral("Storage per user for files (finished and under way), in bytes; 0: no "
                        "quota. Default %1.")
             .arg(defaults.quotaBytes),
         QStringLiteral("N")},
        {QStringLiteral("uploads-per-user"),
         QStringLiteral("Uploads one user may have under way at once. Default %1.")
             .arg(defaults.uploadsPerUser),
         QStringLiteral("N")},
        {QStringLiteral("upload-expiry-ms"),
         QStringLiteral("An upload not finished by then is dropped with its bytes. Default %1.")
             .arg(defaults.uploadExpiryMs),
         QStringLiteral("N")},
        {QStringLiteral("bus"),
         QStringLiteral("Redis as a URL (redis://[:PASSWORD@]HOST[:PORT][/DB]): this node joins "
                        "the other kithd nodes on it, which share its --store (PostgreSQL). "
                        "Default: none (one node)."),
         QStringLiteral("URL")},
        {QStringLiteral("node-id"),
         QStringLiteral("With --bus: this node's id, unique among the nodes (1-%1). Default: "
                        "derived from the host name and --port.")
             .arg(kMaxNodeId),
         QStringLiteral("N")},
        {QStringLiteral("node-ttl-ms"),
         QStringLiteral("With --bus: a node that has not renewed its place on the bus for this "
                        "long counts as dead, and its users go offline. Default %1.")
             .arg(defaults.nodeTtlMs),
         QStringLiteral("N")},
        {QStringLiteral("log-rules"),
         QStringLiteral("Logging filter rules, e.g. \"kith.session.debug=true\" (categories: "
                        "kith.gateway, kith.session, kith.auth, kith.messages, kith.groups, "
                        "kith.presence, kith.admin, kith.files, kith.store, kith.store.postgres, "
                        "kith.bus); "
                        "separate rules "
                        "with \";\"."),
         QStringLiteral("RULES")},
    });

    if (!parser.parse(args))
        return invalid(parser.errorText());
    CommandLine result;
    if (parser.isSet(help)) {
        result.printAndExit = parser.helpText();
        return result;
    }
    if (parser.isSet(version)) {
        result.printAndExit = QCoreApplication::applicationName() + QLatin1Char(' ') +
                              QCoreApplication::applicationVersion() + QLatin1Char('\n');
        return result;
    }
    if (!parser.positionalArguments().isEmpty())
        return invalid(QStringLiteral("Unexpected argument '%1' (see --help)")
                           .arg(parser.positionalArguments().constFirst()));

    std::unique_ptr<QSettings> file;
    if (parser.isSet(QStringLiteral("config"))) {
        const QString path = parser.value(QStringLiteral("config"));
        if (!QFileInfo(path).isReadable())
            return invalid(QStringLiteral("Cannot read config file %1").arg(path));
        file = std::make_unique<QSettings>(path, QSettings::IniFormat);
        if (file->status() != QSettings::NoError)
            return invalid(QStringLiteral("Config file %1 is not valid INI").arg(path));
    }
    const Source source{parser, file.get()};
    Config &config = result.config;

    for (const Status &status : {
             readInt(source, QStringLiteral("port"), 0, 65535,
                     [&](qint64 v) { config.port = quint16(v); }),
             readInt(source, QStringLiteral("admin-port"), 0, 65535,
                     [&](qint64 v) { config.adminPort = quint16(v); }),
             readInt(source, QStringLiteral("auth-timeout-ms"), kMinTimeoutMs, 3600 * 1000,
                     [&](qint64 v) { config.authTimeoutMs = int(v); }),
             readInt(source, QStringLiteral("idle-timeout-ms"), kMinTimeoutMs, 24 * 3600 * 1000,
                     [&](qint64 v) { config.idleTimeoutMs = int(v); }),
             readInt(source, QStringLiteral("argon2-memory-kib"), Argon2Params::kMinMemoryKib,
                     4 * 1024 * 1024, [&](qint64 v) { config.argon2.memoryKib = quint32(v); }),
             readInt(source, QStringLiteral("argon2-ops"), Argon2Params::kMinOps, 100,
                     [&](qint64 v) { config.argon2.ops = quint32(v); }),
             readInt(source, QStringLiteral("max-connections"), 0, 10'000'000,
                     [&](qint64 v) { config.maxConnections = int(v); }),
             readInt(source, QStringLiteral("listen-backlog"), 0, 1'000'000,
                     [&](qint64 v) { config.listenBacklog = int(v); }),
             readInt(source, QStringLiteral("store-connections"), 1, 1000,
                     [&](qint64 v) { config.storeConnections = int(v); }),
             readInt(source, QStringLiteral("node-id"), 1, kMaxNodeId,
                     [&](qint64 v) { config.nodeId = quint32(v); }),
             readInt(source, QStringLiteral("node-ttl-ms"), kMinNodeTtlMs, 3600 * 1000,
                     [&](qint64 v) { config.nodeTtlMs = int(v); }),
             readInt(source, QStringLiteral("registrations-per-hour"), 0, 1'000'000,
                     [&](qint64 v) { config.registrationsPerHour = int(v); }),
             readInt(source, QStringLiteral("max-file-bytes"), 0, qint64(1) << 40,
                     [&](qint64 v) { config.maxFileBytes = v; }),
             readInt(source, QStringLiteral("quota-bytes"), 0, qint64(1) << 50,
                     [&](qint64 v) { config.quotaBytes = v; }),
             readInt(source, QStringLiteral("uploads-per-user"), 1, 10'000,
                     [&](qint64 v) { config.uploadsPerUser = int(v); }),
             readInt(source, QStringLiteral("upload-expiry-ms"), kMinTimeoutMs,
                     qint64(365) * 24 * 3600 * 1000, [&](qint64 v) { config.uploadExpiryMs = v; }),
             readDouble(source, QStringLiteral("send-rate"), 0.01,
                        [&](double v) { config.sendRate = v; }),
             readDouble(source, QStringLiteral("send-burst"), 1,
                        [&](double v) { config.sendBurst = v; }),
             readInt(source, QStringLiteral("edit-window-ms"), 0, qint64(1) << 50,
                     [&](qint64 v) { config.messages.windows.editMs = v; }),
             readInt(source, QStringLiteral("delete-window-ms"), 0, qint64(1) << 50,
                     [&](qint64 v) { config.messages.windows.deleteMs = v; }),
             readDouble(source, QStringLiteral("ops-rate"), 0.01,
                        [&](double v) { config.messages.opsPerSecond = v; }),
             readDouble(source, QStringLiteral("ops-burst"), 1,
                        [&](double v) { config.messages.opsBurst = v; }),
             readDouble(source, QStringLiteral("read-rate"), 0,
                        [&](double v) { config.readRate = v; }),
             readDouble(source, QStringLiteral("read-burst"), 1,
                        [&](double v) { config.readBurst = v; }),
             readDouble(source, QStringLiteral("write-rate"), 0,
                        [&](double v) { config.writeRate = v; }),
             readDouble(source, QStringLiteral("write-burst"), 1,
                        [&](double v) { config.writeBurst = v; }),
             readDouble(source, QStringLiteral("group-change-rate"), 0,
                        [&](double v) { config.groupChangeRate = v; }),
             readDouble(source, QStringLiteral("group-change-burst"), 1,
                        [&](double v) { config.groupChangeBurst = v; }),
             readDouble(source, QStringLiteral("typing-rate"), 0,
                        [&](double v) { config.typingRate = v; }),
             readDouble(source, QStringLiteral("typing-burst"), 1,
                        [&](double v) { config.typingBurst = v; }),
             readInt(source, QStringLiteral("presence-grace-ms"), 0, 600 * 1000,
                     [&](qint64 v) { config.presenceGraceMs = v; }),
             readDouble(source, QStringLiteral("auth-rate"), 0,
                        [&](double v) { config.authRate = v; }),
             readDouble(source, QStringLiteral("auth-burst"), 1,
                        [&](double v) { config.authBurst = v; }),
             readInt(source, QStringLiteral("hashes-per-address"), 1, 1000,
                     [&](qint64 v) { config.hashesPerAddress = int(v); }),
             readInt(source, QStringLiteral("max-sessions-per-user"), 0, 1'000'000,
                     [&](qint64 v) { config.maxSessionsPerUser = int(v); }),
             readInt(source, QStringLiteral("max-unauthenticated-per-address"), 0, 10'000'000,
                     [&](qint64 v) { config.maxUnauthenticatedPerAddress = int(v); }),
             // Below 1 MiB a page of history (up to 256 KiB) and the pushes
             // beside it would not fit.
             readInt(source, QStringLiteral("max-queued-bytes"), 1024 * 1024, qint64(1) << 40,
                     [&](qint64 v) { config.maxQueuedBytes = v; }),
             readInt(source, QStringLiteral("drain-timeout-ms"), 1000, 3600 * 1000,
                     [&](qint64 v) { config.drainTimeoutMs = int(v); }),
             readInt(source, QStringLiteral("bulk-jobs-per-connection"), 1, 1000,
                     [&](qint64 v) { config.bulkJobsPerConnection = int(v); }),
         }) {
        if (!status)
            return status.error();
    }

    if (const auto listen = source.value(QStringLiteral("listen"))) {
        QHostAddress address;
        if (!address.setAddress(listen->trimmed()))
            return invalid(QStringLiteral("--listen must be an IP address, not '%1'").arg(*listen));
        config.listenAddress = address;
    }
    if (const auto data = source.value(QStringLiteral("data"))) {
        if (data->trimmed().isEmpty())
            return invalid(QStringLiteral("--data must name a folder"));
        config.dataDir = *data;
    }
    if (const auto registration = source.value(QStringLiteral("registration"))) {
        const QString value = registration->trimmed().toLower();
        if (value != QLatin1String("open") && value != QLatin1String("closed"))
            return invalid(QStringLiteral("--registration must be open or closed, not '%1'")
                               .arg(*registration));
        config.registrationOpen = value == QLatin1String("open");
    }
    config.certFile = source.value(QStringLiteral("cert")).value_or(QString());
    config.keyFile = source.value(QStringLiteral("key")).value_or(QString());
    if (config.certFile.isEmpty() != config.keyFile.isEmpty())
        return invalid(QStringLiteral("--cert and --key go together"));
    const Result<bool> plain = readSwitch(source, QStringLiteral("plain"));
    if (!plain)
        return plain.error();
    const Result<bool> insecurePlain = readSwitch(source, QStringLiteral("insecure-plain"));
    if (!insecurePlain)
        return insecurePlain.error();
    config.insecurePlain = *insecurePlain;
    const Result<bool> noAnnounce = readSwitch(source, QStringLiteral("no-announce"));
    if (!noAnnounce)
        return noAnnounce.error();
    config.announce = !*noAnnounce;
    config.serverName = source.value(QStringLiteral("name")).value_or(QString()).trimmed();
    // DNS-SD instance names are at most 63 bytes.
    if (config.serverName.toUtf8().size() > 63)
        return invalid(QStringLiteral("--name must be at most 63 bytes of UTF-8"));
    config.plain = *plain || *insecurePlain;
    if (config.plain && !config.certFile.isEmpty())
        return invalid(QStringLiteral("--plain serves ws:// without TLS; it does not go with "
                                      "--cert and --key"));
    if (config.plain && !config.insecurePlain && !config.listenAddress.isLoopback())
        return invalid(QStringLiteral("Plain ws:// is served on loopback only (--listen 127.0.0.1 "
                                      "or ::1), not on %1; leave --plain out to serve wss:// "
                                      "with kithd's own certificate, or give --insecure-plain "
                                      "to send everything unencrypted over the network")
                           .arg(config.listenAddress.toString()));
    if (const auto files = source.value(QStringLiteral("files"))) {
        if (files->trimmed().isEmpty())
            return invalid(QStringLiteral("--files must name a folder"));
        config.filesDir = *files;
    }
    config.logRules = source.value(QStringLiteral("log-rules")).value_or(QString());
    if (const auto store = source.value(QStringLiteral("store"))) {
        const Result<QString> url = parseStoreUrl(*store);
        if (!url)
            return url.error();
        config.store = *url;
    }
    if (const auto bus = source.value(QStringLiteral("bus"))) {
        const Result<cluster::RedisAddress> address = cluster::parseRedisUrl(*bus);
        if (!address)
            return address.error();
        // Nodes route pushes to each other but each reads and writes the
        // shared database: a SQLite file of one node cannot be that.
        if (config.store.isEmpty())
            return invalid(QStringLiteral("--bus needs --store postgresql://... (the nodes on a "
                                          "bus share one database)"));
        config.bus = bus->trimmed();
    }
    return result;
}

} // namespace kith::server
