// The bulk lane: jobs run on its own low-priority thread, in posting order,
// and their completions come back to the poster's thread unless the context
// object died meanwhile.

#include "bulk_lane.h"

#include <QCoreApplication>
#include <QTest>
#include <QThread>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>

using kith::server::BulkAnswer;
using kith::server::BulkLane;

class TestBulkLane : public QObject
{
    Q_OBJECT

private slots:
    void jobRunsOnTheLaneAtLowPriorityAndAnswersHere()
    {
        // Relative to the loop's own nice value (ctest may itself run under nice).
        const int loopNice = getpriority(PRIO_PROCESS, id_t(gettid()));
        BulkLane lane;
        QThread *jobThread = nullptr;
        int jobNice = 0;
        int jobPolicy = -1;
        QThread *doneThread = nullptr;
        QByteArray got;
        lane.post(
            this,
            [&] {
                jobThread = QThread::currentThread();
                jobNice = getpriority(PRIO_PROCESS, id_t(gettid()));
                sched_param param{};
                pthread_getschedparam(pthread_self(), &jobPolicy, &param);
                BulkAnswer answer;
                answer.frame = "page";
                return answer;
            },
            [&](BulkAnswer answer) {
                doneThread = QThread::currentThread();
                got = answer.frame;
            });
        QTRY_COMPARE(got, QByteArray("page"));
        QVERIFY(jobThread != nullptr);
        QVERIFY(jobThread != QThread::currentThread());
        QCOMPARE(doneThread, QThread::currentThread());
        // SCHED_IDLE where the system allows it, else nice +10.
        if (jobPolicy != SCHED_IDLE)
            QCOMPARE(jobNice, std::min(19, loopNice + 10));
        int loopPolicy = -1;
        sched_param loopParam{};
        pthread_getschedparam(pthread_self(), &loopPolicy, &loopParam);
        QCOMPARE(loopPolicy, SCHED_OTHER);
        // The session loop's own priority is untouched.
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
        QCoreApplication::sendPostedEvents();
        QTest::qWait(20);
        QVERIFY(!answered);
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
};

QTEST_GUILESS_MAIN(TestBulkLane)
#include "tst_bulk_lane.moc"
