#pragma once
// TestRedis: a real redis-server for a test, on a free loopback port with its
// working folder in a temporary folder and nothing saved to disk. It can be
// killed and started again on the same port (a bus that goes away and comes
// back), and is stopped by its PID when the object goes (or killed with the
// test process). Owned by the test.
//
// Tests skip (KITH_REQUIRE_REDIS) only when redis-server is not installed.

#include "engine_process.h"

#include <QString>
#include <QTemporaryDir>

namespace kith::test {

class TestRedis
{
public:
    TestRedis() = default;
    ~TestRedis();
    TestRedis(const TestRedis &) = delete;
    TestRedis &operator=(const TestRedis &) = delete;

    // $KITH_REDIS_SERVER, else redis-server on the PATH (or in /usr/bin).
    [[nodiscard]] static QString serverPath();
    [[nodiscard]] static bool available(QString *why);

    // Starts the server (on the same port as before after a stop or kill9).
    [[nodiscard]] bool start();
    // SIGTERM and wait.
    [[nodiscard]] bool stop();
    // SIGKILL: gone at once, every client cut off.
    [[nodiscard]] bool kill9();
    [[nodiscard]] bool isRunning() const;

    // redis://127.0.0.1:PORT
    [[nodiscard]] QString url() const;
    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] qint64 pid() const { return m_server.pid(); }
    [[nodiscard]] QByteArray log() const { return m_server.output(); }

private:
    QTemporaryDir m_dir;
    quint16 m_port = 0;
    EngineProcess m_server{QStringLiteral("redis-server")};
};

} // namespace kith::test

#define KITH_REQUIRE_REDIS()                                                                       \
    do {                                                                                           \
        QString kithWhyMissing;                                                                    \
        if (!kith::test::TestRedis::available(&kithWhyMissing))                                    \
            QSKIP(qPrintable(kith::test::skipMessage(kithWhyMissing)));                            \
    } while (false)
