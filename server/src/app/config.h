#pragma once
// kithd's configuration: defaults that work out of the box, an optional INI
// file (keys named like the long options), and command-line flags, which win
// over the file. Built once in main() and handed to the Server.

#include "credentials.h"
#include "kith/result.h"
#include "message_service.h"

#include <QHostAddress>
#include <QString>
#include <QStringList>

namespace kith::server {

struct Config
{
    QHostAddress listenAddress = QHostAddress(QHostAddress::AnyIPv4);
    quint16 port = 7400;
    quint16 adminPort = 7401;
    QString dataDir = QStringLiteral("kith-data");
    bool registrationOpen = true;
    int registrationsPerHour = 30; // per remote address; 0: no limit
    QString certFile;
    QString keyFile;
    // Plain ws:// instead of wss:// with the data folder's own certificate:
    // on a loopback address only, unless insecurePlain allows it anywhere.
    bool plain = false;
    bool insecurePlain = false;
    // DNS-SD on the LAN (through avahi-daemon), unless off or on loopback.
    bool announce = true;
    QString serverName; // announced; empty: "Kith on <host name>"
    int authTimeoutMs = 10000;
    int idleTimeoutMs = 90000;
    // Request budgets per user (token buckets: per second, burst); a rate of
    // 0 is no limit. See RequestBudgets for which request is which kind.
    double sendRate = 100;
    double sendBurst = 500;
    double readRate = 200;
    double readBurst = 2000;
    double writeRate = 20;
    double writeBurst = 200;
    double groupChangeRate = 0.5;
    double groupChangeBurst = 20;
    double typingRate = 5;
    double typingBurst = 20;
    // How long a user may be away before their contacts hear "offline".
    qint64 presenceGraceMs = 3000;
    // Logins and resumes per remote address.
    double authRate = 5;
    double authBurst = 50;
    int hashesPerAddress = 4;              // password hashes checked at once per remote address
    int maxSessionsPerUser = 20;           // authenticated connections per account; 0: no limit
    int maxUnauthenticatedPerAddress = 64; // 0: no limit
    qint64 maxQueuedBytes = 1024 * 1024;   // per connection
    int drainTimeoutMs = 30'000;           // queued bytes none of which are taken: closed
    int bulkJobsPerConnection = 4;         // pulls and syncs queued or running at once
    int maxConnections = 0;                // 0: from the open-file limit (see Server::start)
    int listenBacklog = 0;                 // 0: the system's maximum (net.core.somaxconn)
    MessagePolicy messages;                // edit/delete windows, the ops budget
    Argon2Params argon2;
    QString logRules;
    // A postgresql:// URL (several nodes share that database); empty for
    // SQLite in the data folder.
    QString store;
    int storeConnections = 8; // PostgreSQL: read connections at most
    // A redis:// URL: this node joins the others on that bus (empty: one node).
    QString bus;
    quint32 nodeId = 0;    // 0: derived (see Server::start)
    int nodeTtlMs = 15000; // with a bus: a node silent this long counts as dead
    // Files (see FileOptions for what each means).
    QString filesDir; // empty: "files" in the data folder; on several nodes a shared mount
    qint64 maxFileBytes = 100ll * 1024 * 1024;
    qint64 quotaBytes = 10ll * 1024 * 1024 * 1024; // per user; 0: none
    int uploadsPerUser = 8;
    qint64 uploadExpiryMs = 24ll * 3600 * 1000;

    // Where the files' bytes live.
    [[nodiscard]] QString filesPath() const;

    // Where the database lives inside the data folder.
    [[nodiscard]] QString databasePath() const;
    // What the store opens: the PostgreSQL URL, else the database file.
    [[nodiscard]] QString storeLocation() const;
};

// The outcome of reading the command line: run with a config, or just print.
struct CommandLine
{
    Config config;
    QString printAndExit; // --help / --version text; empty to run the server
};

// Parses kithd's server command line (args[0] is the program). INVALID_ARGUMENT
// with a one-line message for anything wrong, including in the config file.
[[nodiscard]] Result<CommandLine> parseCommandLine(const QStringList &args);

// Shared with the admin command line: the database file of a data folder.
[[nodiscard]] QString databasePathIn(const QString &dataDir);

} // namespace kith::server
