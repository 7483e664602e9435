#pragma once
// TestPostgres: a real PostgreSQL server for a test, made with initdb in a
// temporary folder and started on a free loopback port (no Unix socket), as
// Debian's `postgres` system user when the test runs as root. It survives
// restarts on the same port and data, and is stopped by its PID when the
// object goes (or killed with the test process). Owned by the test.
//
// Tests skip (KITH_REQUIRE_POSTGRES) only when the server binaries are not
// installed; any other failure to start is a failure.

#include "engine_process.h"

#include <QByteArray>
#include <QString>
#include <QTemporaryDir>

#include <memory>

namespace kith::test {

class TestPostgres
{
public:
    TestPostgres();
    ~TestPostgres();
    TestPostgres(const TestPostgres &) = delete;
    TestPostgres &operator=(const TestPostgres &) = delete;

    // Whether initdb, postgres and psql are installed (and, as root, the
    // postgres user exists); `why` says what is missing.
    [[nodiscard]] static bool available(QString *why);
    // Where the server binaries are: $KITH_POSTGRES_BINDIR, else the newest
    // /usr/lib/postgresql/N/bin, else the PATH's initdb's folder.
    [[nodiscard]] static QString binDir();

    // initdb on the first start, then the server; false when it does not come up.
    [[nodiscard]] bool start();
    // Fast shutdown (SIGINT): open transactions roll back, clients are cut off.
    [[nodiscard]] bool stop();
    // Immediate shutdown (SIGQUIT), as after a crash: recovery runs at the next start.
    [[nodiscard]] bool crash();
    [[nodiscard]] bool isRunning() const;

    // CREATE DATABASE name (a plain identifier); false on failure.
    [[nodiscard]] bool createDatabase(const QString &name);
    // Runs SQL with psql against `database`; the unaligned, tuples-only
    // output (trimmed) or a null QByteArray on failure.
    [[nodiscard]] QByteArray psql(const QString &database, const QString &sql);

    // postgresql://kith@127.0.0.1:PORT/database
    [[nodiscard]] QString url(const QString &database) const;
    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] qint64 pid() const { return m_server.pid(); }
    [[nodiscard]] QByteArray log() const { return m_server.output(); }

private:
    QTemporaryDir m_dir;
    RunAs m_runAs;
    bool m_initialised = false;
    quint16 m_port = 0;
    EngineProcess m_server{QStringLiteral("postgres")};
};

} // namespace kith::test

// In a test function (initTestCase skips the whole suite).
#define KITH_REQUIRE_POSTGRES()                                                                    \
    do {                                                                                           \
        QString kithWhyMissing;                                                                    \
        if (!kith::test::TestPostgres::available(&kithWhyMissing))                                 \
            QSKIP(qPrintable(kith::test::skipMessage(kithWhyMissing)));                            \
    } while (false)
