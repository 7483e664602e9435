#pragma once
// TestHaproxy: a real HAProxy for a test, in front of kithd nodes on
// loopback, made from the project's sample config (packaging/haproxy): the
// same settings, with the test's own listen port, nodes and connection cap
// put in. Stopped by its PID when the object goes (or killed with the test
// process). Owned by the test.
//
// Tests skip (KITH_REQUIRE_HAPROXY) only when haproxy is not installed.

#include "engine_process.h"

#include <QList>
#include <QString>
#include <QTemporaryDir>
#include <QUrl>

namespace kith::test {

class TestHaproxy
{
public:
    TestHaproxy() = default;
    ~TestHaproxy();
    TestHaproxy(const TestHaproxy &) = delete;
    TestHaproxy &operator=(const TestHaproxy &) = delete;

    // $KITH_HAPROXY, else haproxy on the PATH (or in /usr/sbin).
    [[nodiscard]] static QString path();
    [[nodiscard]] static bool available(QString *why);
    // The sample config this build ships.
    [[nodiscard]] static QString sampleConfig();

    // Starts HAProxy on a free port in front of the kithd nodes on these
    // loopback ports; false when it does not come up.
    [[nodiscard]] bool start(const QList<quint16> &nodePorts);
    [[nodiscard]] bool stop();
    [[nodiscard]] bool isRunning() const { return m_process.isRunning(); }

    // ws://127.0.0.1:PORT/
    [[nodiscard]] QUrl url() const;
    // Everything HAProxy logged (a node marked down shows here).
    [[nodiscard]] QByteArray log() const { return m_process.output(); }
    // The config it runs with.
    [[nodiscard]] QString configPath() const { return m_dir.filePath(QStringLiteral("kith.cfg")); }

private:
    QTemporaryDir m_dir;
    quint16 m_port = 0;
    EngineProcess m_process{QStringLiteral("haproxy")};
};

} // namespace kith::test

#define KITH_REQUIRE_HAPROXY()                                                                     \
    do {                                                                                           \
        QString kithWhyMissing;                                                                    \
        if (!kith::test::TestHaproxy::available(&kithWhyMissing))                                  \
            QSKIP(qPrintable(kith::test::skipMessage(kithWhyMissing)));                            \
    } while (false)
