// LocalPushRouter: this node's connections by user and device. A push goes to
// each user's connections once, skips only the named connection of this
// node, closes what it is asked to, and tells presence of a user's first and
// last connection.

#include "service_fixture.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

class TestLocalPushRouter : public QObject
{
    Q_OBJECT

    static v1::Envelope typingPush()
    {
        v1::Envelope push;
        push.mutable_typing_push()->set_user_id(7);
        return push;
    }

private slots:
    void pushesOncePerConnectionExceptTheOrigin()
    {
        LocalPushRouter router(nullptr, 3);
        RecordingConnection laptop(1), phone(2), other(3);
        router.attach(&laptop, 10, 100);
        router.attach(&phone, 10, 101);
        router.attach(&other, 20, 200);

        // A user listed twice still gets one copy per connection.
        QCOMPARE(router.pushToUsers({10, 20, 10, 99}, typingPush()), 3);
        QCOMPARE(laptop.frames.size(), 1);
        QCOMPARE(phone.frames.size(), 1);
        QCOMPARE(other.frames.size(), 1);

        // The origin is skipped only when it names this node's connection.
        QCOMPARE(router.pushToUsers({10}, typingPush(), router.refOf(laptop)), 1);
        QCOMPARE(laptop.frames.size(), 1);
        QCOMPARE(phone.frames.size(), 2);
        QCOMPARE(router.pushToUsers({10}, typingPush(), ConnectionRef{4, 1}), 2);
        QCOMPARE(laptop.frames.size(), 2);
    }

    void closesDevicesAndUsers()
    {
        LocalPushRouter router;
        RecordingConnection laptop(1), laptopTab(2), phone(3);
        router.attach(&laptop, 10, 100);
        router.attach(&laptopTab, 10, 100);
        router.attach(&phone, 10, 101);
        QVERIFY(router.isDeviceOnline(100));
        QCOMPARE(router.closeDevice(100, v1::TOKEN_INVALID, QStringLiteral("revoked"),
                                    router.refOf(laptopTab)),
                 1);
        QCOMPARE(laptop.terminatedWith, std::optional(v1::TOKEN_INVALID));
        QVERIFY(!laptopTab.terminatedWith);
        QVERIFY(!phone.terminatedWith);
        QCOMPARE(router.closeUser(10, v1::ACCOUNT_DISABLED, QStringLiteral("disabled")), 3);
        QCOMPARE(phone.terminatedWith, std::optional(v1::ACCOUNT_DISABLED));
    }

    void presenceOnFirstAndLastConnection()
    {
        LocalPushRouter router;
        QList<std::pair<quint64, bool>> heard;
        router.setPresenceListener([&heard](quint64 userId, bool online) {
            heard.append({userId, online});
        });
        RecordingConnection laptop(1), phone(2);
        router.attach(&laptop, 10, 100);
        router.attach(&phone, 10, 101);
        QVERIFY(router.isOnline(10));
        QCOMPARE(router.onlineUserCount(), 1u);
        router.detach(&laptop);
        QVERIFY(router.isOnline(10));
        router.detach(&phone);
        QVERIFY(!router.isOnline(10));
        QCOMPARE(heard, (QList<std::pair<quint64, bool>>{{10, true}, {10, false}}));
    }

    // What the router across nodes tells the others: a device's first and
    // last connection, and nothing for the ones in between.
    void devicesOnFirstAndLastConnection()
    {
        LocalPushRouter router;
        QList<std::pair<quint64, bool>> heard;
        router.setDeviceListener([&heard](quint64 deviceId, bool online) {
            heard.append({deviceId, online});
        });
        RecordingConnection laptop(1), laptopTab(2), phone(3);
        router.attach(&laptop, 10, 100);
        router.attach(&laptopTab, 10, 100);
        router.attach(&phone, 10, 101);
        router.detach(&laptop);
        QCOMPARE(heard, (QList<std::pair<quint64, bool>>{{100, true}, {101, true}}));
        router.detach(&laptopTab);
        router.detach(&phone);
        router.detach(&phone); // twice: nothing more
        QCOMPARE(heard, (QList<std::pair<quint64, bool>>{
                            {100, true}, {101, true}, {100, false}, {101, false}}));
    }
};

QTEST_GUILESS_MAIN(TestLocalPushRouter)
#include "tst_local_push_router.moc"
