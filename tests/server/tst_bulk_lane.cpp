// The bulk lane: jobs run off the loop, one at a time in posting order, at the
// loop's priority or (while sends flow) the lowest, and their completions come
// back to the poster's thread unless the context object died meanwhile.

#include "bulk_lane.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using kith::server::BulkAnswer;
using kith::server::BulkLane;

namespace {

pid_t currentThreadId()
{
    return pid_t(::syscall(SYS_gettid));
}

// Whether thread `waiter` of this process sits in pthread_join of thread
// `joined`: the kernel shows it blocked on a futex that holds the joined
// thread's id (glibc's join waits so). No timing involved.
bool isJoining(pid_t waiter, pid_t joined)
{
    QFile file(QStringLiteral("/proc/self/task/%1/syscall").arg(waiter));
    if (!file.open(QIODevice::ReadOnly))
        return false;
    const QList<QByteArray> fields = file.readLine().trimmed().split(' ');
    if (fields.size() < 4 || fields.at(0).toLong() != SYS_futex)
        return false;
    bool isNumber = false;
    const qulonglong value = fields.at(3).toULongLong(&isNumber, 0);
    return isNumber && value == qulonglong(joined);
}

// Polls `condition` without running this thread's events (what the lane
// posted here stays untaken meanwhile), for up to 20 s.
bool waitWithoutEvents(const std::function<bool()> &condition)
{
    const QDeadlineTimer deadline(20000);
    while (!condition()) {
        if (deadline.hasExpired())
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// The id of this process's thread named `name` (0 if there is none).
pid_t threadNamed(const QByteArray &name)
{
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString &task : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks.filePath(task + QStringLiteral("/comm")));
        if (comm.open(QIODevice::ReadOnly) && comm.readAll().trimmed() == name)
            return pid_t(task.toInt());
    }
    return 0;
}

// Whether thread `thread` is blocked on a futex (a condition variable's wait, say).
bool isOnFutex(pid_t thread)
{
    QFile file(QStringLiteral("/proc/self/task/%1/syscall").arg(thread));
    return file.open(QIODevice::ReadOnly) &&
           file.readLine().trimmed().split(' ').value(0).toLong() == SYS_futex;
}

// How often thread `thread` has gone to sleep by itself: one more each time
// it is woken and waits again. -1 if it cannot be read.
long voluntarySwitches(pid_t thread)
{
    QFile file(QStringLiteral("/proc/self/task/%1/status").arg(thread));
    if (!file.open(QIODevice::ReadOnly))
        return -1;
    // readAll: a file of /proc has no size, so atEnd() would hold at once.
    for (const QByteArray &line : file.readAll().split('\n')) {
        if (line.startsWith("voluntary_ctxt_switches:"))
            return line.mid(line.indexOf(':') + 1).trimmed().toLong();
    }
    return -1;
}

// Where and how one job ran, and where its answer came back.
struct JobSeen
{
    QThread *jobThread = nullptr;
    QThread *doneThread = nullptr;
    int policy = -1;
    int nice = 0;
    bool answered = false;
};

// Shared with the job, which may still run after a timed-out wait returns.
JobSeen runOneJob(BulkLane &lane, const std::function<void()> &beforePost)
{
    auto seen = std::make_shared<JobSeen>();
    QObject context;
    beforePost();
    lane.post(
        &context,
        [seen] {
            seen->jobThread = QThread::currentThread();
            seen->nice = getpriority(PRIO_PROCESS, id_t(gettid()));
            sched_param param{};
            pthread_getschedparam(pthread_self(), &seen->policy, &param);
            return BulkAnswer{};
        },
        [seen](BulkAnswer) {
            seen->doneThread = QThread::currentThread();
            seen->answered = true;
        });
    (void)QTest::qWaitFor([&seen] { return seen->answered; }, 20000);
    return *seen;
}

} // namespace

class TestBulkLane : public QObject
{
    Q_OBJECT

private slots:
    // With no sends flowing a job runs at the loop's own priority, so other
    // busy programs on the machine cannot starve history and sync.
    void withoutSendsAJobRunsAtTheLoopsPriorityAndAnswersHere()
    {
        // Relative to the loop's own nice value (ctest may itself run under nice).
        const int loopNice = getpriority(PRIO_PROCESS, id_t(gettid()));
        BulkLane lane;
        const JobSeen seen = runOneJob(lane, [] {});
        QVERIFY(seen.answered);
        QVERIFY(seen.jobThread != nullptr);
        QVERIFY(seen.jobThread != QThread::currentThread());
        QCOMPARE(seen.doneThread, QThread::currentThread());
        QCOMPARE(seen.policy, SCHED_OTHER);
        QCOMPARE(seen.nice, loopNice);
    }

    // While sends flow a job runs at the lowest priority: SCHED_IDLE where the
    // system allows it, else nice +10; the loop's own priority is untouched.
    void whileSendsFlowAJobRunsAtLowPriority()
    {
        const int loopNice = getpriority(PRIO_PROCESS, id_t(gettid()));
        BulkLane lane;
        QTimer sends; // a send every 20 ms keeps the window open
        QObject::connect(&sends, &QTimer::timeout, [&lane] { lane.noteInteractive(); });
        sends.start(20);
        const JobSeen seen = runOneJob(lane, [&lane] { lane.noteInteractive(); });
        QVERIFY(seen.answered);
        QVERIFY(seen.jobThread != QThread::currentThread());
        QCOMPARE(seen.doneThread, QThread::currentThread());
        if (seen.policy != SCHED_IDLE)
            QCOMPARE(seen.nice, std::min(19, loopNice + 10));
        int loopPolicy = -1;
        sched_param loopParam{};
        pthread_getschedparam(pthread_self(), &loopPolicy, &loopParam);
        QCOMPARE(loopPolicy, SCHED_OTHER);
        QCOMPARE(getpriority(PRIO_PROCESS, id_t(gettid())), loopNice);
    }

    void jobsRunAndAnswerInPostingOrder()
    {
        BulkLane lane;
        QList<int> ran;
        QList<int> answered;
        std::atomic<int> running{0};
        bool overlapped = false;
        for (int i = 0; i < 50; ++i) {
            lane.post(
                this,
                [&, i] {
                    if (running.fetch_add(1) != 0)
                        overlapped = true;
                    ran << i; // only the lane thread appends
                    running.fetch_sub(1);
                    return BulkAnswer{};
                },
                [&answered, i](BulkAnswer) { answered << i; });
        }
        QTRY_COMPARE(answered.size(), 50);
        QList<int> expected;
        for (int i = 0; i < 50; ++i)
            expected << i;
        QCOMPARE(ran, expected);
        QCOMPARE(answered, expected);
        QVERIFY(!overlapped);
    }

    // While sends flow the lane paces itself; it still runs every job, in
    // order, and answers each.
    void pacedLaneStillAnswersEveryJobInOrder()
    {
        BulkLane lane;
        QList<int> answered;
        for (int i = 0; i < 50; ++i) {
            lane.noteInteractive();
            lane.post(
                this,
                [i] {
                    BulkAnswer answer;
                    answer.frame = QByteArray::number(i);
                    return answer;
                },
                [&answered](BulkAnswer answer) { answered.append(answer.frame.toInt()); });
        }
        QTRY_COMPARE(answered.size(), 50);
        for (int i = 0; i < 50; ++i)
            QCOMPARE(answered.at(i), i);
    }

    // The lane waits while a megabyte of its answers waits for the session's
    // thread to take it, so that one pass of that thread's loop meets at most
    // that much bulk work; once they are taken it goes on, in order.
    void laneWaitsWhileItsAnswersAreNotTaken()
    {
        constexpr int kJobs = 6;
        constexpr qsizetype kBytes = 600 * 1024; // the second passes the megabyte
        std::atomic<int> ran{0};
        QList<int> answered;
        BulkLane lane; // after what its jobs use: it runs what is left as it goes
        for (int i = 0; i < kJobs; ++i) {
            lane.post(
                this,
                [&ran, i] {
                    ++ran;
                    BulkAnswer answer;
                    answer.frame = QByteArray(kBytes, char('a' + i));
                    return answer;
                },
                [&answered](BulkAnswer answer) { answered << answer.frame.at(0) - 'a'; });
        }
        // This thread runs no events until further down: nothing is taken.
        QVERIFY(waitWithoutEvents([&] { return lane.undeliveredBytes() == 2 * kBytes; }));
        QCOMPARE(ran.load(), 2);
        // And it stays so: a third job would have run by now if it could.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        QCOMPARE(ran.load(), 2);
        QVERIFY(answered.isEmpty());

        QTRY_COMPARE(answered.size(), kJobs);
        QCOMPARE(answered, QList<int>({0, 1, 2, 3, 4, 5}));
        QTRY_COMPARE(lane.undeliveredBytes(), qint64(0));
    }

    // An answer dropped with its context counts as taken: the lane goes on.
    void answersDroppedWithTheirContextLetTheLaneGoOn()
    {
        std::atomic<int> ran{0};
        bool answered = false;
        BulkLane lane;
        auto context = std::make_unique<QObject>();
        for (int i = 0; i < 4; ++i) {
            lane.post(
                context.get(),
                [&ran] {
                    ++ran;
                    BulkAnswer answer;
                    answer.frame = QByteArray(BulkLane::kMaxUndeliveredBytes, 'x');
                    return answer;
                },
                [&answered](BulkAnswer) { answered = true; });
        }
        QVERIFY(waitWithoutEvents(
            [&] { return lane.undeliveredBytes() == BulkLane::kMaxUndeliveredBytes; }));
        QCOMPARE(ran.load(), 1);
        context.reset(); // the session closed with its pages on their way
        QTRY_COMPARE(ran.load(), 4);
        QTRY_COMPARE(lane.undeliveredBytes(), qint64(0));
        QVERIFY(!answered);
    }

    // Draining (kithd's stop) does not wait for answers to be taken: the
    // thread that drains is often the one that would take them.
    void drainDoesNotWaitForAnswersToBeTaken()
    {
        std::atomic<int> ran{0};
        BulkLane lane;
        for (int i = 0; i < 4; ++i) {
            lane.post(
                this,
                [&ran] {
                    ++ran;
                    BulkAnswer answer;
                    answer.frame = QByteArray(BulkLane::kMaxUndeliveredBytes, 'x');
                    return answer;
                },
                [](BulkAnswer) {});
        }
        lane.drain();
        QCOMPARE(ran.load(), 4);
        QCOMPARE(lane.undeliveredBytes(), 4 * BulkLane::kMaxUndeliveredBytes);
        QCoreApplication::sendPostedEvents();
        QCOMPARE(lane.undeliveredBytes(), qint64(0));
    }

    void answerForADeadContextIsDropped()
    {
        BulkLane lane;
        auto context = std::make_unique<QObject>();
        std::atomic<bool> release{false};
        std::atomic<bool> jobRan{false};
        bool answered = false;
        lane.post(
            context.get(),
            [&] {
                while (!release.load())
                    QThread::usleep(100);
                jobRan = true;
                return BulkAnswer{};
            },
            [&answered](BulkAnswer) { answered = true; });
        context.reset(); // the session closed while its page was being read
        release = true;
        lane.drain();
        QVERIFY(jobRan);
        // drain() returned after the job: a completion it posted is run here.
        QCoreApplication::sendPostedEvents();
        QVERIFY(!answered);
    }

    // The stop reaches the idle thread while the other still runs a job: that
    // thread goes back to waiting, and must be woken again when the job ends,
    // or the destructor (kithd's shutdown) waits for it forever.
    void stopDuringAJobEndsBothThreads()
    {
        auto lane = std::make_unique<BulkLane>();
        std::atomic<bool> started{false};
        std::atomic<pid_t> destroyerThread{0};
        std::atomic<bool> stopSeenFirst{false};
        std::atomic<bool> onTheSteadyThread{false};
        lane->post(
            this,
            [&] {
                const pid_t self = currentThreadId();
                // The other thread, asleep before the stop comes.
                const QDeadlineTimer deadline(20000);
                pid_t idle = 0;
                while (!deadline.hasExpired() && (idle == 0 || !isOnFutex(idle))) {
                    idle = threadNamed("kithd-bulk-idle");
                    QThread::usleep(100);
                }
                onTheSteadyThread = idle != 0 && idle != self;
                const long sleptBefore = voluntarySwitches(idle);
                started = true;
                // The job ends only once the destructor has told both threads
                // to stop and waits to join this one, and the other thread has
                // woken for the stop and gone back to waiting (this job still
                // runs): a job that ended sooner would let it see the stop
                // with nothing running, and leave by itself.
                while (!deadline.hasExpired()) {
                    const pid_t destroyer = destroyerThread.load();
                    if (destroyer != 0 && isJoining(destroyer, self) &&
                        voluntarySwitches(idle) > sleptBefore && isOnFutex(idle)) {
                        stopSeenFirst = true;
                        break;
                    }
                    QThread::usleep(100);
                }
                return BulkAnswer{};
            },
            [](BulkAnswer) {});
        QTRY_VERIFY(started.load());
        auto destroyed = std::make_shared<std::atomic<bool>>(false);
        std::thread destroyer([&lane, &destroyerThread, destroyed] {
            destroyerThread = currentThreadId();
            lane.reset();
            *destroyed = true;
        });
        const bool ended = QTest::qWaitFor([&destroyed] { return destroyed->load(); }, 30000);
        if (!ended) {
            destroyer.detach(); // stuck in join: let the process end without it
            (void)lane.release();
            QFAIL("the lane's destructor did not return");
        }
        destroyer.join();
        QVERIFY(onTheSteadyThread);
        QVERIFY2(stopSeenFirst, "the stop did not come while the job ran");
    }

    void drainWaitsForJobsInFlight()
    {
        BulkLane lane;
        std::atomic<int> done{0};
        for (int i = 0; i < 5; ++i) {
            lane.post(
                this,
                [&done] {
                    QThread::msleep(5);
                    ++done;
                    return BulkAnswer{};
                },
                [](BulkAnswer) {});
        }
        lane.drain();
        QCOMPARE(done.load(), 5);
    }

    // One session's fifty queued pulls delay another's sync by one job, not
    // fifty: the contexts take turns.
    void contextsTakeTurns()
    {
        BulkLane lane;
        QObject busy;
        QObject other;
        std::mutex mutex;
        std::vector<char> order; // 'b' for busy's jobs, 'o' for other's
        std::atomic<bool> release{false};
        // Holds the lane until every job below is queued.
        lane.post(
            &busy,
            [&] {
                while (!release)
                    QThread::msleep(1);
                std::lock_guard lock(mutex);
                order.push_back('b');
                return BulkAnswer{};
            },
            [](BulkAnswer) {});
        for (int i = 0; i < 49; ++i) {
            lane.post(
                &busy,
                [&] {
                    std::lock_guard lock(mutex);
                    order.push_back('b');
                    return BulkAnswer{};
                },
                [](BulkAnswer) {});
        }
        lane.post(
            &other,
            [&] {
                std::lock_guard lock(mutex);
                order.push_back('o');
                return BulkAnswer{};
            },
            [](BulkAnswer) {});
        release = true;
        lane.drain();
        QCOMPARE(order.size(), size_t(51));
        const auto at = std::find(order.cbegin(), order.cend(), 'o') - order.cbegin();
        QVERIFY2(at <= 2, qPrintable(QStringLiteral("the other context ran %1th").arg(at + 1)));
    }

    // A paused context's jobs wait; the others' go on; unpaused, they run.
    void pausedContextWaitsOthersGoOn()
    {
        BulkLane lane;
        QObject paused;
        QObject other;
        std::atomic<int> pausedRan{0};
        std::atomic<int> otherRan{0};
        lane.setPaused(&paused, true);
        lane.post(
            &paused,
            [&] {
                ++pausedRan;
                return BulkAnswer{};
            },
            [](BulkAnswer) {});
        bool otherAnswered = false;
        lane.post(
            &other,
            [&] {
                ++otherRan;
                return BulkAnswer{};
            },
            [&otherAnswered](BulkAnswer) { otherAnswered = true; });
        QVERIFY(QTest::qWaitFor([&] { return otherAnswered; }, 20000));
        QCOMPARE(pausedRan.load(), 0);
        bool pausedAnswered = false;
        lane.post(
            &paused,
            [&] {
                ++pausedRan;
                return BulkAnswer{};
            },
            [&pausedAnswered](BulkAnswer) { pausedAnswered = true; });
        lane.setPaused(&paused, false);
        QVERIFY(QTest::qWaitFor([&] { return pausedAnswered; }, 20000));
        QCOMPARE(pausedRan.load(), 2);
    }

    // drain() runs a paused context's jobs too: the store closes after it.
    void drainRunsPausedJobs()
    {
        BulkLane lane;
        QObject paused;
        std::atomic<int> ran{0};
        lane.setPaused(&paused, true);
        for (int i = 0; i < 3; ++i)
            lane.post(
                &paused,
                [&] {
                    ++ran;
                    return BulkAnswer{};
                },
                [](BulkAnswer) {});
        lane.drain();
        QCOMPARE(ran.load(), 3);
    }

    // post() counts a context's jobs queued or running, and whenBelow() tells
    // when they drop under a bound (the session's cap of jobs in flight).
    void pendingJobsAreCountedAndWhenBelowFires()
    {
        BulkLane lane;
        QObject context;
        std::atomic<bool> release{false};
        int pending = 0;
        for (int i = 0; i < 4; ++i) {
            pending = lane.post(
                &context,
                [&release] {
                    while (!release)
                        QThread::msleep(1);
                    return BulkAnswer{};
                },
                [](BulkAnswer) {});
        }
        QCOMPARE(pending, 4);
        bool below = false;
        lane.whenBelow(&context, 4, [&below] { below = true; });
        QVERIFY(!below);
        release = true;
        QVERIFY(QTest::qWaitFor([&below] { return below; }, 20000));
        lane.drain();
        bool atOnce = false;
        lane.whenBelow(&context, 1, [&atOnce] { atOnce = true; });
        QVERIFY(atOnce); // nothing pending: told at once
    }

    // A forgotten context's queued jobs never run.
    void forgottenContextsJobsAreDropped()
    {
        BulkLane lane;
        QObject context;
        std::atomic<int> ran{0};
        lane.setPaused(&context, true);
        for (int i = 0; i < 3; ++i)
            lane.post(
                &context,
                [&] {
                    ++ran;
                    return BulkAnswer{};
                },
                [](BulkAnswer) {});
        lane.forget(&context);
        lane.drain();
        QCOMPARE(ran.load(), 0);
    }
};

QTEST_GUILESS_MAIN(TestBulkLane)
#include "tst_bulk_lane.moc"
