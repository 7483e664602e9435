// What nodes say to each other on the bus: every kind survives the round
// trip as it was, the directory's text is read as the scripts write it, and
// anything malformed (truncated, trailing bytes, a count larger than the
// message) is refused rather than read past its end.

#include "bus_messages.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::cluster;

class TestBusMessages : public QObject
{
    Q_OBJECT

private slots:
    void pushRoundTrip()
    {
        v1::Envelope envelope;
        envelope.mutable_typing_push()->set_user_id(7);
        const PushMessage push{3,
                               ConnectionRef{3, 99},
                               {10, 20, 1ull << 62},
                               QByteArray::fromStdString(envelope.SerializeAsString())};
        const auto decoded = decode(encode(push));
        QVERIFY(decoded);
        const auto *back = std::get_if<PushMessage>(&*decoded);
        QVERIFY(back);
        QCOMPARE(back->from, 3u);
        QCOMPARE(back->except, push.except);
        QCOMPARE(back->users, push.users);
        QCOMPARE(back->envelope, push.envelope);
        QCOMPARE(sourceOf(*decoded), 3u);
    }

    void closeRoundTrip()
    {
        const CloseMessage close{
            5, true, 400, v1::TOKEN_INVALID, QStringLiteral("revoked ✓"), ConnectionRef{5, 1}};
        const auto decoded = decode(encode(close));
        QVERIFY(decoded);
        const auto *back = std::get_if<CloseMessage>(&*decoded);
        QVERIFY(back);
        QVERIFY(back->device);
        QCOMPARE(back->id, 400u);
        QCOMPARE(back->code, v1::TOKEN_INVALID);
        QCOMPARE(back->text, close.text);
        QCOMPARE(back->except, close.except);
    }

    void membershipRoundTrip()
    {
        const MembershipMessage message{2, MembershipChanged{QStringLiteral("g:1"), {1, 2}, false}};
        const auto decoded = decode(encode(message));
        QVERIFY(decoded);
        const auto *back = std::get_if<MembershipMessage>(&*decoded);
        QVERIFY(back);
        QCOMPARE(back->change.groupId, QStringLiteral("g:1"));
        QCOMPARE(back->change.users, (QList<quint64>{1, 2}));
        QVERIFY(!back->change.everything);
    }

    void directoryTextAsTheScriptsWriteIt()
    {
        const auto delta = [](const char *text) -> std::optional<DirectoryDelta> {
            const auto decoded = decode(QByteArray(text));
            if (!decoded)
                return std::nullopt;
            return std::get<DirectoryDelta>(*decoded);
        };
        QCOMPARE(delta("u+3:42")->what, DirectoryDelta::What::UserOnline);
        QCOMPARE(delta("u+3:42")->node, 3u);
        QCOMPARE(delta("u+3:42")->id, 42u);
        QCOMPARE(delta("u-3:42")->what, DirectoryDelta::What::UserOffline);
        QCOMPARE(delta("d+12:18446744073709551615")->id, 18446744073709551615ull);
        QCOMPARE(delta("d-12:7")->what, DirectoryDelta::What::DeviceOffline);
        QCOMPARE(delta("x9")->what, DirectoryDelta::What::NodeGone);
        QCOMPARE(delta("x9")->node, 9u);
        for (const char *bad :
             {"u*3:4", "u+3", "u+:4", "u+3:", "u+0:4", "u+3:0", "x", "x0", "u+3:4x", "q+3:4"})
            QVERIFY2(!delta(bad), bad);
        for (const auto what :
             {DirectoryDelta::What::UserOnline, DirectoryDelta::What::UserOffline,
              DirectoryDelta::What::DeviceOnline, DirectoryDelta::What::DeviceOffline}) {
            const DirectoryDelta original{what, 4, 77};
            const auto back = decode(encode(original));
            QVERIFY(back);
            QCOMPARE(std::get<DirectoryDelta>(*back).what, what);
            QCOMPARE(std::get<DirectoryDelta>(*back).id, 77u);
        }
    }

    void malformedIsRefused()
    {
        QVERIFY(!decode(QByteArray()));
        const QByteArray good =
            encode(PushMessage{3, {}, {10, 20}, QByteArrayLiteral("envelope bytes")});
        QVERIFY(decode(good));
        // Every truncation, and a byte too many.
        for (qsizetype size = 0; size < good.size(); ++size)
            QVERIFY2(!decode(good.left(size)), qPrintable(QString::number(size)));
        QVERIFY(!decode(good + 'x'));
        // A count of users far past the end of the message.
        QByteArray lying = good;
        const qsizetype countAt = 1 + 4 + 4 + 8; // kind, from, except
        lying[countAt] = char(0x7f);
        QVERIFY(!decode(lying));
        // Node 0 never sends.
        QVERIFY(!decode(encode(PushMessage{0, {}, {10}, QByteArrayLiteral("x")})));
        // An unknown kind.
        QByteArray unknown = good;
        unknown[0] = 'Z';
        QVERIFY(!decode(unknown));
    }
};

QTEST_GUILESS_MAIN(TestBusMessages)
#include "tst_bus_messages.moc"
