// kithd: the Kith server. `kithd [options]` serves; `kithd user ...` administers
// accounts on the data folder (see --help).

#include "admin_cli.h"
#include "config.h"
#include "epoll_dispatcher.h"
#include "logging.h"
#include "server.h"
#include "signal_watcher.h"
#include "store_factory.h"
#include "tls_identity.h"

#include "kith/fingerprint.h"

#include <QCoreApplication>
#include <QLoggingCategory>

#include <csignal>
#include <cstdio>

using namespace kith::server;

namespace {
// kithd's main loop runs on epoll unless KITHD_EVENT_DISPATCHER=qt asks for
// Qt's own dispatcher (kept for comparing the two with kith-bench).
void installEventDispatcher()
{
    if (qgetenv("KITHD_EVENT_DISPATCHER") == "qt")
        return;
    auto *dispatcher = new EpollDispatcher;
    if (dispatcher->isValid())
        QCoreApplication::setEventDispatcher(dispatcher);
    else
        delete dispatcher;
}
// `kithd fingerprint [--data DIR | --config FILE | --cert FILE]`: the
// fingerprint of the certificate kithd serves (or will serve) with these
// options, for the admin to hand to the people who connect.
int printFingerprint(const QStringList &args, QTextStream &out, QTextStream &err)
{
    QStringList options = args;
    options.removeAt(1);
    const kith::Result<CommandLine> commandLine = parseCommandLine(options);
    if (!commandLine) {
        err << "kithd fingerprint: " << commandLine.error().message << '\n';
        return 2;
    }
    if (!commandLine->printAndExit.isEmpty()) {
        out << "kithd fingerprint [--data DIR | --config FILE | --cert FILE]\n";
        return 0;
    }
    const Config &config = commandLine->config;
    if (config.plain) {
        err << "kithd fingerprint: with --plain kithd serves no certificate\n";
        return 1;
    }
    const QString certFile =
        config.certFile.isEmpty() ? TlsIdentity::certPathIn(config.dataDir) : config.certFile;
    const kith::Result<QByteArray> fingerprint = TlsIdentity::fingerprintOf(certFile);
    if (!fingerprint) {
        err << "kithd fingerprint: " << fingerprint.error().message
            << (config.certFile.isEmpty() ? " (kithd makes it on its first start)" : "") << '\n';
        return 1;
    }
    out << kith::fingerprintHex(*fingerprint) << '\n'
        << kith::fingerprintWords(*fingerprint).join(QLatin1Char(' ')) << '\n';
    return 0;
}
} // namespace

int main(int argc, char *argv[])
{
    // A peer that resets a download makes sendfile(2) raise SIGPIPE (it has
    // no MSG_NOSIGNAL), which would end kithd wherever it was started from a
    // shell; every write of kithd's handles EPIPE as a closed connection.
    std::signal(SIGPIPE, SIG_IGN);
    installEventDispatcher();
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kithd"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KITH_VERSION));

    QTextStream in(stdin);
    QTextStream out(stdout);
    QTextStream err(stderr);
    const QStringList args = QCoreApplication::arguments();
    if (args.size() > 1 && args.at(1) == QLatin1String("user")) {
        // An admin command answers in one line; the store's progress notes are noise here.
        QLoggingCategory::setFilterRules(QStringLiteral("kith.*.info=false"));
        return runUserCommand(args, in, out, err, [](const QString &location) {
            // One command, one connection at a time.
            return makeStore(location, 1);
        });
    }

    if (args.size() > 1 && args.at(1) == QLatin1String("fingerprint"))
        return printFingerprint(args, out, err);

    const kith::Result<CommandLine> commandLine = parseCommandLine(args);
    if (!commandLine) {
        err << "kithd: " << commandLine.error().message << '\n';
        return 2;
    }
    if (!commandLine->printAndExit.isEmpty()) {
        out << commandLine->printAndExit;
        return 0;
    }
    const Config &config = commandLine->config;
    if (!config.logRules.isEmpty())
        QLoggingCategory::setFilterRules(
            QString(config.logRules).replace(QLatin1Char(';'), QLatin1Char('\n')));

    Server server(config, makeStore(config.storeLocation(), config.storeConnections));
    if (const kith::Status started = server.start(); !started) {
        err << "kithd: " << started.error().message << '\n';
        return 1;
    }
    SignalWatcher watcher;
    QObject::connect(&watcher, &SignalWatcher::terminationRequested, &server,
                     [&server](int signal) {
                         qCInfo(lcGateway) << "signal" << signal << "received";
                         server.stop();
                     });
    QObject::connect(&server, &Server::stopped, &app, [] { QCoreApplication::exit(0); });

    out << server.readyLine() << '\n';
    for (const QString &url : server.connectUrls())
        out << "connect to " << url << '\n';
    if (!server.fingerprint().isEmpty())
        out << "fingerprint " << kith::fingerprintDisplay(server.fingerprint()) << '\n';
    out.flush();
    std::fflush(stdout);
    return app.exec();
}
