// A real kithd whose data folder is on a small tmpfs that fills up: sends are
// answered INTERNAL and never acknowledged, nobody sees them, reads go on,
// and once there is room again the same sends go through with the next seqs
// and survive a kill -9.
//
// The tmpfs is mounted in a mount namespace of this test's own (as root, or
// as root of a user namespace when the kernel allows unprivileged ones), so
// it goes away with the test; the test skips where neither is possible.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QTest>

#include <sqlite3.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

using namespace kith;
using namespace kith::test;

namespace {

// Room for kithd's database and log with a few users and messages, small
// enough to fill in a moment.
constexpr auto kTmpfsOptions = "size=8m,mode=0700";

QString g_noNamespace; // why this process has no mount namespace of its own

bool writeFile(const char *path, const QByteArray &text)
{
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::write(fd, text.constData(), size_t(text.size())) == text.size();
    ::close(fd);
    return ok;
}

// Gives this process (and the kithd it starts) mounts of its own. A user
// namespace can only be entered while the process has one thread: call it
// first thing in main().
QString enterMountNamespace()
{
    if (::geteuid() == 0) {
        if (::unshare(CLONE_NEWNS) != 0)
            return QStringLiteral("unshare(CLONE_NEWNS): %1")
                .arg(QString::fromUtf8(strerror(errno)));
    } else {
        const uid_t uid = ::geteuid();
        const gid_t gid = ::getegid();
        if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return QStringLiteral("unshare(CLONE_NEWUSER | CLONE_NEWNS): %1")
                .arg(QString::fromUtf8(strerror(errno)));
        if (!writeFile("/proc/self/setgroups", "deny") ||
            !writeFile("/proc/self/uid_map", QByteArray("0 ") + QByteArray::number(uid) + " 1") ||
            !writeFile("/proc/self/gid_map", QByteArray("0 ") + QByteArray::number(gid) + " 1"))
            return QStringLiteral("cannot map this user into its user namespace");
    }
    // Mounts made here must not reach the rest of the machine.
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return QStringLiteral("cannot make the mounts private: %1")
            .arg(QString::fromUtf8(strerror(errno)));
    return {};
}

// Writes into `path` until the file system has no byte left.
bool fillUp(const QString &path)
{
    const int fd =
        ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    const std::vector<char> chunk(64 * 1024, 'x');
    for (size_t size = chunk.size(); size > 0; size /= 2) {
        while (::write(fd, chunk.data(), size) == ssize_t(size)) {
        }
    }
    ::close(fd);
    struct statvfs info
    {};
    return ::statvfs(QFile::encodeName(QFileInfo(path).absolutePath()).constData(), &info) == 0 &&
           info.f_bavail == 0;
}

QStringList integrityOf(const QString &path)
{
    sqlite3 *db = nullptr;
    QStringList rows;
    if (sqlite3_open_v2(QFile::encodeName(path).constData(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
        sqlite3_stmt *statement = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) ==
            SQLITE_OK) {
            while (sqlite3_step(statement) == SQLITE_ROW)
                rows << QString::fromUtf8(
                    reinterpret_cast<const char *>(sqlite3_column_text(statement, 0)));
        }
        sqlite3_finalize(statement);
    }
    sqlite3_close(db);
    return rows;
}

} // namespace

class TestDiskFull : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        if (!g_noNamespace.isEmpty())
            QSKIP(qPrintable(QStringLiteral("kith-test-skip: no mount namespace for a tmpfs: %1")
                                 .arg(g_noNamespace)));
    }

    void sendsOnAFullDiskAreRefusedUntilThereIsRoom()
    {
        TestServer server;
        const QByteArray dataDir = QFile::encodeName(server.dataDir());
        QVERIFY2(::mount("tmpfs", dataDir.constData(), "tmpfs", MS_NOSUID | MS_NODEV,
                         kTmpfsOptions) == 0,
                 strerror(errno));
        // Detached however the test ends, so the temporary folder can go.
        struct Unmount
        {
            QByteArray path;
            ~Unmount() { ::umount2(path.constData(), MNT_DETACH); }
        } unmount{dataDir};
        QVERIFY(server.start());

        TestClient alice;
        TestClient bob;
        QVERIFY(alice.connectAndRegister(server.url(), QStringLiteral("alice")));
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const QString direct = directConversationId(alice.userId(), bob.userId());
        for (int i = 1; i <= 3; ++i) {
            const auto ack =
                alice.send(direct, QStringLiteral("before %1").arg(i), newClientMsgId());
            QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
            QCOMPARE(ack->send_ack().seq(), quint64(i));
        }

        const QString filler = QDir(server.dataDir()).filePath(QStringLiteral("filler"));
        QVERIFY(fillUp(filler));
        const QString full1 = newClientMsgId();
        const QString full2 = newClientMsgId();
        for (const QString &id : {full1, full2}) {
            const auto answer = alice.send(direct, id, id);
            QVERIFY2(answer && answer->has_error(), describe(answer).constData());
            QCOMPARE(answer->error().code(), v1::INTERNAL);
        }
        // Reads go on, and show nothing of the refused sends.
        const auto seen = bob.pullAll(direct);
        QVERIFY(seen);
        QCOMPARE(seen->size(), 3);
        QCOMPARE(seen->last().seq(), 3u);
        // A push would have gone out before the answer to the send, on a
        // socket that answered the pull after it.
        for (const v1::Message &pushed : bob.messagePushes(direct))
            QVERIFY2(pushed.seq() <= 3, "a refused send was pushed");
        QVERIFY(server.isRunning());

        // Room again: the outbox's resend with the same ids goes through.
        QVERIFY(QFile::remove(filler));
        quint64 seq = 4;
        for (const QString &id : {full1, full2}) {
            const auto ack = alice.send(direct, id, id);
            QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
            QVERIFY(!ack->send_ack().duplicate());
            QCOMPARE(ack->send_ack().seq(), seq++);
        }

        server.kill9();
        QVERIFY(server.start());
        TestClient reader;
        QVERIFY(reader.connectAndResume(server.url(), bob.token()));
        const auto history = reader.pullAll(direct);
        QVERIFY(history);
        QCOMPARE(history->size(), 5);
        for (qsizetype n = 0; n < history->size(); ++n)
            QCOMPARE(history->at(n).seq(), quint64(n + 1));
        QCOMPARE(history->at(3).client_msg_id(), full1.toStdString());
        QCOMPARE(history->at(4).client_msg_id(), full2.toStdString());
        QVERIFY(server.terminate());
        QCOMPARE(integrityOf(QDir(server.dataDir()).filePath(QStringLiteral("kith.sqlite3"))),
                 QStringList{QStringLiteral("ok")});
    }
};

int main(int argc, char *argv[])
{
    g_noNamespace = enterMountNamespace();
    QCoreApplication app(argc, argv);
    TestDiskFull test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_disk_full.moc"
