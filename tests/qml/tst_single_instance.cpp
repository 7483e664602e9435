// A second launch finds the first instance, asks it to show its window and
// gets told to exit; once the first is gone, the next launch takes over.

#include "single_instance.h"

#include <QCoreApplication>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

using kith::app::SingleInstance;

class SingleInstanceTest : public QObject
{
    Q_OBJECT
private slots:
    void secondLaunchActivatesFirst();
    void staleSocketIsTakenOver();

private:
    // A key of its own, so a running Kith of the user is never involved.
    static QString uniqueKey()
    {
        return QStringLiteral("kith-test-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
    }
};

void SingleInstanceTest::secondLaunchActivatesFirst()
{
    const QString key = uniqueKey();
    SingleInstance first(key);
    QVERIFY(!first.notifyRunningInstance());
    QVERIFY(first.isListening());
    QSignalSpy activations(&first, &SingleInstance::activationRequested);

    SingleInstance second(key);
    QVERIFY(second.notifyRunningInstance());
    QVERIFY(!second.isListening());
    QVERIFY(activations.wait(5000));
    QCOMPARE(activations.count(), 1);
}

void SingleInstanceTest::staleSocketIsTakenOver()
{
    // A crashed instance leaves its socket file behind, with nobody listening.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString key = dir.filePath(QStringLiteral("kith.instance"));
    QFile leftover(key);
    QVERIFY(leftover.open(QIODevice::WriteOnly));
    leftover.close();

    SingleInstance next(key);
    QVERIFY(!next.notifyRunningInstance());
    QVERIFY(next.isListening());
}

QTEST_GUILESS_MAIN(SingleInstanceTest)

#include "tst_single_instance.moc"
