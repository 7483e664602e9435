// kithd's epoll event dispatcher, installed as this test's main-thread
// dispatcher: timers, socket notifiers, cross-thread wake-ups, nested loops,
// and real Qt sockets (TCP and WebSocket) running on it.

#include "epoll_dispatcher.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFile>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>
#include <QWebSocket>
#include <QWebSocketServer>

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using kith::server::EpollDispatcher;

namespace {

// Both ends of a local stream socket, closed on destruction.
struct SocketPair
{
    int fds[2] = {-1, -1};
    SocketPair()
    {
        QVERIFY2(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0, "socketpair");
    }
    ~SocketPair()
    {
        for (int fd : fds)
            if (fd >= 0)
                ::close(fd);
    }
    SocketPair(const SocketPair &) = delete;
    SocketPair &operator=(const SocketPair &) = delete;
    void write(char byte) const { QCOMPARE(::write(fds[1], &byte, 1), ssize_t(1)); }
    void drain() const
    {
        char buffer[256];
        while (::read(fds[0], buffer, sizeof buffer) > 0) {
        }
    }
};

// The system call thread `tid` of this process is blocked in, -1 while it
// runs (from /proc: the kernel's own account, no timing involved).
long blockedSyscall(pid_t tid)
{
    QFile file(QStringLiteral("/proc/self/task/%1/syscall").arg(tid));
    if (!file.open(QIODevice::ReadOnly))
        return -1;
    bool isNumber = false;
    const long number = file.readLine().split(' ').value(0).trimmed().toLong(&isNumber);
    return isNumber ? number : -1;
}

bool isEpollWait(long number)
{
#ifdef SYS_epoll_pwait2
    if (number == SYS_epoll_pwait2)
        return true;
#endif
#ifdef SYS_epoll_wait
    if (number == SYS_epoll_wait)
        return true;
#endif
    return number == SYS_epoll_pwait;
}

// Returns once thread `tid` sleeps in epoll_wait (false if it never does
// within `timeoutMs`): a post made after that can only be seen through the
// dispatcher's wake-up, as nothing else is due.
bool waitUntilAsleepInEpoll(pid_t tid, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (isEpollWait(blockedSyscall(tid)))
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1)); // polling, not ordering
    }
    return false;
}

pid_t currentThreadId()
{
    return pid_t(::syscall(SYS_gettid));
}

// Counts timer events per id.
class TimerSink : public QObject
{
public:
    std::vector<int> fired;
    std::function<void(int)> onTimer;

protected:
    void timerEvent(QTimerEvent *event) override
    {
        fired.push_back(event->timerId());
        if (onTimer)
            onTimer(event->timerId());
    }
};

} // namespace

class TestEpollDispatcher : public QObject
{
    Q_OBJECT

private slots:
    void isInstalled()
    {
        QVERIFY(qobject_cast<EpollDispatcher *>(QAbstractEventDispatcher::instance()));
    }

    void singleShotFiresOnce()
    {
        int count = 0;
        QTimer timer;
        timer.setSingleShot(true);
        timer.setInterval(10);
        connect(&timer, &QTimer::timeout, this, [&count] { ++count; });
        timer.start();
        QTRY_COMPARE(count, 1);
        QTest::qWait(50);
        QCOMPARE(count, 1);
        QVERIFY(!timer.isActive());
    }

    void repeatingTimerKeepsFiring()
    {
        int count = 0;
        QTimer timer;
        timer.setInterval(2);
        connect(&timer, &QTimer::timeout, this, [&count] { ++count; });
        timer.start();
        QTRY_VERIFY(count >= 5);
        timer.stop();
        const int stopped = count;
        QTest::qWait(30);
        QCOMPARE(count, stopped);
    }

    void timersFireInDueOrder()
    {
        QList<int> order;
        QTimer::singleShot(30, this, [&order] { order << 30; });
        QTimer::singleShot(10, this, [&order] { order << 10; });
        QTimer::singleShot(20, this, [&order] { order << 20; });
        QTRY_COMPARE(order.size(), 3);
        QCOMPARE(order, (QList<int>{10, 20, 30}));
    }

    void zeroIntervalTimerDoesNotStarveOthers()
    {
        int spins = 0;
        bool other = false;
        QTimer spinner;
        spinner.setInterval(0);
        connect(&spinner, &QTimer::timeout, this, [&spins] { ++spins; });
        spinner.start();
        QTimer::singleShot(5, this, [&other] { other = true; });
        QTRY_VERIFY(other);
        QVERIFY(spins > 0);
    }

    void timerStoppedByAnotherNeverFires()
    {
        TimerSink sink;
        const int second = sink.startTimer(5);
        const int first = sink.startTimer(1);
        sink.onTimer = [&sink, first, second](int id) {
            if (id == first) {
                sink.killTimer(first);
                sink.killTimer(second);
            }
        };
        QTRY_COMPARE(sink.fired.size(), size_t(1));
        QTest::qWait(30);
        QCOMPARE(sink.fired, std::vector<int>{first});
        QVERIFY(QAbstractEventDispatcher::instance()->registeredTimers(&sink).isEmpty());
    }

    void registeredTimersAndRemainingTime()
    {
        TimerSink sink;
        const int id = sink.startTimer(10000, Qt::PreciseTimer);
        const auto timers = QAbstractEventDispatcher::instance()->registeredTimers(&sink);
        QCOMPARE(timers.size(), 1);
        QCOMPARE(timers.first().timerId, id);
        QCOMPARE(timers.first().interval, 10000);
        QCOMPARE(timers.first().timerType, Qt::PreciseTimer);
        const int left = QAbstractEventDispatcher::instance()->remainingTime(id);
        QVERIFY2(left > 0 && left <= 10000, qPrintable(QString::number(left)));
        sink.killTimer(id);
        QCOMPARE(QAbstractEventDispatcher::instance()->remainingTime(id), -1);
    }

    void deletingAnObjectDropsItsTimers()
    {
        auto sink = std::make_unique<TimerSink>();
        sink->startTimer(1);
        sink->startTimer(2);
        QCOMPARE(QAbstractEventDispatcher::instance()->registeredTimers(sink.get()).size(), 2);
        sink.reset();
        // A timer event sent to the deleted object would crash the test here.
        QTest::qWait(20);
    }

    void timerDoesNotFireInsideItsOwnHandler()
    {
        int depth = 0;
        int maxDepth = 0;
        int shots = 0;
        QTimer timer;
        timer.setInterval(1);
        connect(&timer, &QTimer::timeout, this, [&] {
            ++shots;
            ++depth;
            maxDepth = qMax(maxDepth, depth);
            if (shots == 1) {
                // A nested loop that outlives several intervals of this timer.
                QEventLoop nested;
                QTimer::singleShot(20, &nested, &QEventLoop::quit);
                nested.exec();
            }
            --depth;
        });
        timer.start();
        QTRY_VERIFY(shots >= 3);
        timer.stop();
        QCOMPARE(maxDepth, 1);
    }

    void postedEventFromAnotherThreadWakesTheLoop()
    {
        // The loop sleeps with only the guard due (20 s away); the post comes
        // once it is asleep, so only the wake-up can end the sleep in time.
        const pid_t loopThread = currentThreadId();
        QEventLoop loop;
        QObject target;
        bool ran = false;
        bool guardFired = false;
        QTimer guard;
        guard.setSingleShot(true);
        connect(&guard, &QTimer::timeout, &loop, [&] {
            guardFired = true;
            loop.quit();
        });
        guard.start(20000);
        std::atomic<bool> sawItAsleep{false};
        std::thread poster([&] {
            sawItAsleep = waitUntilAsleepInEpoll(loopThread, 10000);
            QMetaObject::invokeMethod(
                &target,
                [&] {
                    ran = true;
                    loop.quit();
                },
                Qt::QueuedConnection);
        });
        loop.exec();
        poster.join();
        QVERIFY2(sawItAsleep, "the loop never slept in epoll_wait");
        QVERIFY(ran);
        QVERIFY2(!guardFired, "the post did not wake the sleeping loop");
    }

    void noWakeUpIsLostUnderCrossThreadPosts()
    {
        // Threads post as fast as they can while the loop runs them. The loop
        // has no timer that could wake it (the guard aside), so once a wake-up
        // is lost the posts that follow stay unrun after the posters stop.
        constexpr int kPosters = 4;
        constexpr int kPostsEach = 50000;
        QEventLoop loop;
        QObject target;
        std::atomic<int> done{0};
        std::atomic<bool> caughtUp{false};
        std::thread checker([&] {
            std::vector<std::thread> posters;
            for (int p = 0; p < kPosters; ++p) {
                posters.emplace_back([&] {
                    for (int i = 0; i < kPostsEach; ++i) {
                        QMetaObject::invokeMethod(
                            &target, [&done] { ++done; }, Qt::QueuedConnection);
                        if (i % 64 == 0)
                            std::this_thread::yield(); // let the loop drain and sleep
                    }
                });
            }
            for (std::thread &poster : posters)
                poster.join();
            // Generous: with a lost wake-up the loop sleeps until the guard.
            for (int waited = 0; waited < 5000 && !caughtUp; ++waited) {
                caughtUp = done.load() == kPosters * kPostsEach;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            QMetaObject::invokeMethod(&loop, &QEventLoop::quit, Qt::QueuedConnection);
        });
        QTimer guard;
        guard.setSingleShot(true);
        connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
        guard.start(30000);
        loop.exec();
        checker.join();
        QVERIFY2(
            caughtUp,
            qPrintable(
                QStringLiteral("%1 of %2 posts ran").arg(done.load()).arg(kPosters * kPostsEach)));
    }

    void quitEndsABlockedLoop()
    {
        QEventLoop loop;
        const pid_t loopThread = currentThreadId();
        std::atomic<bool> sawItAsleep{false};
        std::thread quitter([&loop, &sawItAsleep, loopThread] {
            sawItAsleep = waitUntilAsleepInEpoll(loopThread, 10000);
            QMetaObject::invokeMethod(&loop, &QEventLoop::quit, Qt::QueuedConnection);
        });
        QTimer guard; // fails the test instead of hanging it
        guard.setSingleShot(true);
        bool guardFired = false;
        connect(&guard, &QTimer::timeout, &loop, [&] {
            guardFired = true;
            loop.quit();
        });
        guard.start(20000);
        loop.exec();
        quitter.join();
        QVERIFY(sawItAsleep);
        QVERIFY(!guardFired);
    }

    void readNotifierFollowsEnabledState()
    {
        SocketPair pair;
        QSocketNotifier notifier(pair.fds[0], QSocketNotifier::Read);
        int activations = 0;
        connect(&notifier, &QSocketNotifier::activated, this, [&] {
            ++activations;
            pair.drain();
        });
        pair.write('a');
        QTRY_COMPARE(activations, 1);

        notifier.setEnabled(false);
        pair.write('b');
        QTest::qWait(30);
        QCOMPARE(activations, 1); // disabled: not told, though data waits

        notifier.setEnabled(true);
        QTRY_COMPARE(activations, 2); // level-triggered: the waiting byte is reported
    }

    void readAndWriteNotifiersOnOneSocket()
    {
        SocketPair pair;
        QSocketNotifier reader(pair.fds[0], QSocketNotifier::Read);
        QSocketNotifier writer(pair.fds[0], QSocketNotifier::Write);
        int reads = 0;
        int writes = 0;
        connect(&reader, &QSocketNotifier::activated, this, [&] {
            ++reads;
            pair.drain();
        });
        connect(&writer, &QSocketNotifier::activated, this, [&] {
            ++writes;
            writer.setEnabled(false); // writable at once; once is enough
        });
        QTRY_COMPARE(writes, 1);
        pair.write('x');
        QTRY_COMPARE(reads, 1);
        QCOMPARE(writes, 1);
    }

    void hangUpReachesTheReader()
    {
        SocketPair pair;
        QSocketNotifier reader(pair.fds[0], QSocketNotifier::Read);
        bool sawEof = false;
        connect(&reader, &QSocketNotifier::activated, this, [&] {
            char byte;
            if (::read(pair.fds[0], &byte, 1) == 0) {
                sawEof = true;
                reader.setEnabled(false);
            }
        });
        ::close(pair.fds[1]);
        pair.fds[1] = -1;
        QTRY_VERIFY(sawEof);
    }

    void manyIdleSocketsOneBusy()
    {
        constexpr int kIdle = 2000;
        std::vector<std::unique_ptr<SocketPair>> idle;
        std::vector<std::unique_ptr<QSocketNotifier>> idleNotifiers;
        int idleActivations = 0;
        for (int i = 0; i < kIdle; ++i) {
            idle.push_back(std::make_unique<SocketPair>());
            auto notifier =
                std::make_unique<QSocketNotifier>(idle.back()->fds[0], QSocketNotifier::Read);
            connect(notifier.get(), &QSocketNotifier::activated, this,
                    [&idleActivations] { ++idleActivations; });
            idleNotifiers.push_back(std::move(notifier));
        }
        SocketPair busy;
        QSocketNotifier reader(busy.fds[0], QSocketNotifier::Read);
        int received = 0;
        connect(&reader, &QSocketNotifier::activated, this, [&] {
            char buffer[64];
            const ssize_t got = ::read(busy.fds[0], buffer, sizeof buffer);
            if (got > 0)
                received += int(got);
            if (received < 1000)
                busy.write('m'); // ping-pong through the loop, 1000 wake-ups
        });
        busy.write('m');
        QTRY_COMPARE_WITH_TIMEOUT(received, 1000, 20000);
        QCOMPARE(idleActivations, 0);
    }

    void tcpEchoOnTheDispatcher()
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost));
        connect(&server, &QTcpServer::newConnection, this, [&server] {
            QTcpSocket *peer = server.nextPendingConnection();
            connect(peer, &QTcpSocket::readyRead, peer, [peer] { peer->write(peer->readAll()); });
        });
        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, server.serverPort());
        QVERIFY(client.waitForConnected(5000));
        QByteArray echoed;
        connect(&client, &QTcpSocket::readyRead, this, [&] { echoed += client.readAll(); });
        // More than the socket buffers hold, so write notifiers take part too.
        const QByteArray payload(4 * 1024 * 1024, 'k');
        client.write(payload);
        QTRY_COMPARE_WITH_TIMEOUT(echoed.size(), payload.size(), 20000);
        QCOMPARE(echoed, payload);
    }

    void webSocketRoundTrip()
    {
        QWebSocketServer server(QStringLiteral("test"), QWebSocketServer::NonSecureMode);
        QVERIFY(server.listen(QHostAddress::LocalHost));
        connect(&server, &QWebSocketServer::newConnection, this, [&server] {
            QWebSocket *peer = server.nextPendingConnection();
            connect(peer, &QWebSocket::binaryMessageReceived, peer,
                    [peer](const QByteArray &message) { peer->sendBinaryMessage(message); });
        });
        QWebSocket client;
        QList<QByteArray> received;
        connect(&client, &QWebSocket::binaryMessageReceived, this,
                [&received](const QByteArray &message) { received << message; });
        QSignalSpy connected(&client, &QWebSocket::connected);
        client.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(server.serverPort())));
        QVERIFY(connected.wait(5000));
        for (int i = 0; i < 200; ++i)
            client.sendBinaryMessage(QByteArray::number(i));
        QTRY_COMPARE_WITH_TIMEOUT(received.size(), 200, 20000);
        for (int i = 0; i < 200; ++i)
            QCOMPARE(received.at(i), QByteArray::number(i));
        client.close();
    }

    void deleteLaterRunsOnTheLoop()
    {
        QPointer<QObject> doomed = new QObject;
        doomed->deleteLater();
        QTRY_VERIFY(doomed.isNull());
    }
};

int main(int argc, char *argv[])
{
    auto *dispatcher = new EpollDispatcher;
    if (!dispatcher->isValid()) {
        std::fprintf(stderr, "epoll is not available\n");
        return 1;
    }
    QCoreApplication::setEventDispatcher(dispatcher);
    QCoreApplication app(argc, argv);
    TestEpollDispatcher test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_epoll_dispatcher.moc"
