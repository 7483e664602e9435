// The pieces both ends rely on: conversation ids, framing, content rules.
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/message_id.h"
#include "kith/protocol.h"

#include <QSet>
#include <QTest>
#include <QUuid>

using namespace kith;

class TestShared : public QObject
{
    Q_OBJECT
private slots:
    void directIdIsOrderIndependent()
    {
        QCOMPARE(directConversationId(7, 3), QStringLiteral("d:3:7"));
        QCOMPARE(directConversationId(3, 7), directConversationId(7, 3));
        const auto ref = parseConversationId(u"d:3:7");
        QVERIFY(ref);
        QVERIFY(ref->isDirect());
        QCOMPARE(ref->peerOf(3), 7u);
        QCOMPARE(ref->peerOf(7), 3u);
        QCOMPARE(ref->peerOf(5), 0u);
        QCOMPARE(ref->toString(), QStringLiteral("d:3:7"));
    }

    void malformedIdsAreRefused_data()
    {
        QTest::addColumn<QString>("id");
        for (const char *bad : {"", "d:", "d:1", "d:7:3", "d:3:3", "d:0:4", "g:", "g:0", "g:01",
                                "g:12a", "x:1", "g:-1", "d:1:2:3", "g:99999999999999999999999"})
            QTest::newRow(bad) << QString::fromLatin1(bad);
    }
    void malformedIdsAreRefused()
    {
        QFETCH(QString, id);
        QVERIFY(!parseConversationId(id));
    }

    void groupIdRoundTrips()
    {
        const auto ref = parseConversationId(groupConversationId(42));
        QVERIFY(ref);
        QVERIFY(!ref->isDirect());
        QCOMPARE(ref->groupId, 42u);
    }

    void envelopeRoundTrips()
    {
        v1::Envelope env;
        env.set_request_id(9);
        env.mutable_send()->set_conversation_id("g:1");
        env.mutable_send()->mutable_content()->mutable_text()->set_body("h\xc3\xa9llo");
        const auto decoded = decodeEnvelope(encodeEnvelope(env));
        QVERIFY(decoded);
        QCOMPARE(decoded->request_id(), 9u);
        QCOMPARE(decoded->body_case(), v1::Envelope::kSend);
        QCOMPARE(toQString(decoded->send().content().text().body()), QStringLiteral("h\u00e9llo"));
        QCOMPARE(QByteArray(bodyName(v1::Envelope::kSend)), QByteArray("send"));
    }

    void garbageIsNotAnEnvelope()
    {
        QVERIFY(!decodeEnvelope(QByteArray("\xff\xff\xff\xff\xff", 5)));
        // A valid envelope cut short mid-field.
        v1::Envelope env;
        env.mutable_hello()->set_client_name("a long enough client name");
        const QByteArray bytes = encodeEnvelope(env);
        QVERIFY(!decodeEnvelope(bytes.left(bytes.size() - 3)));
    }

    void contentRules()
    {
        v1::Content c;
        QVERIFY(validateUserContent(c)); // empty
        c.mutable_text()->set_body("   ");
        QVERIFY(validateUserContent(c)); // blank
        c.mutable_text()->set_body("hi");
        QVERIFY(!validateUserContent(c));
        c.mutable_text()->set_body(std::string("\xc3\x28", 2));
        QCOMPARE(validateUserContent(c)->code, v1::INVALID_ARGUMENT); // bad UTF-8
        c.mutable_text()->set_body(std::string(size_t(kMaxTextBytes) + 1, 'a'));
        QCOMPARE(validateUserContent(c)->code, v1::TOO_LARGE);
        c.mutable_system()->set_kind(v1::SystemEvent::GROUP_RENAMED);
        QVERIFY(validateUserContent(c)); // server-only
    }

    void pinsAreOpsAndFoldAsTheServerDoes()
    {
        v1::Content pin;
        pin.mutable_pin()->set_target_seq(3);
        QVERIFY(isOperation(pin));
        QCOMPARE(operationTarget(pin), 3u);
        QVERIFY(!validateUserContent(pin));
        v1::Content bad = pin;
        bad.mutable_pin()->set_target_seq(0);
        QCOMPARE(validateUserContent(bad)->code, v1::INVALID_ARGUMENT);
        bad = pin;
        bad.set_reply_to_seq(1);
        QCOMPARE(validateUserContent(bad)->code, v1::INVALID_ARGUMENT);
        v1::Content forged;
        forged.mutable_text()->set_body("hi");
        forged.set_pinned_ms(1);
        QCOMPARE(validateUserContent(forged)->code, v1::INVALID_ARGUMENT); // server-only
        forged.clear_pinned_ms();
        forged.set_pinned_by_user_id(7);
        QCOMPARE(validateUserContent(forged)->code, v1::INVALID_ARGUMENT);

        v1::Content target;
        target.mutable_text()->set_body("the plan");
        foldOperation(target, pin, 7, 1000, 4);
        QCOMPARE(target.pinned_ms(), 1000);
        QCOMPARE(target.pinned_by_user_id(), 7u);
        QCOMPARE(target.last_op_seq(), 4u);
        foldOperation(target, pin, 8, 2000, 5); // pinned already: the first pin stays
        QCOMPARE(target.pinned_by_user_id(), 7u);
        QCOMPARE(target.last_op_seq(), 5u);
        v1::Content unpin = pin;
        unpin.mutable_pin()->set_remove(true);
        foldOperation(target, unpin, 8, 3000, 6);
        QCOMPARE(target.pinned_ms(), 0);
        QCOMPARE(target.pinned_by_user_id(), 0u);
        QCOMPARE(target.text().body(), "the plan");
    }

    void usernames()
    {
        QVERIFY(isValidUsername(u"alice"_qs));
        QVERIFY(isValidUsername(u"bob.smith-2"_qs));
        QVERIFY(!isValidUsername(u"al"_qs));
        QVERIFY(!isValidUsername(u"Alice"_qs));
        QVERIFY(!isValidUsername(u".alice"_qs));
        QVERIFY(!isValidUsername(u"al ice"_qs));
        QCOMPARE(normalizeUsername(u"  Alice "_qs), u"alice"_qs);
        QVERIFY(isValidClientMsgId("0b8f6c1e-1f1a-4c3b-9d1e-2a7d9c0f1e22"));
        QVERIFY(!isValidClientMsgId(""));
        QVERIFY(!isValidClientMsgId("has space"));
    }

    // The layout: the clock first, version 7, the variant, and what the
    // server accepts as a client_msg_id.
    void clientMessageIdLayout()
    {
        const QString id =
            clientMessageIdFor(0x0123'4567'89ABULL, 0x0CDE, 0xFFFF'FFFF'FFFF'FFFFULL);
        QCOMPARE(id, QStringLiteral("01234567-89ab-7cde-bfff-ffffffffffff"));
        QCOMPARE(clientMessageIdFor(0, 0, 0),
                 QStringLiteral("00000000-0000-7000-8000-000000000000"));
        const QString made = newClientMessageId();
        const QUuid uuid(made);
        QVERIFY2(!uuid.isNull(), qPrintable(made));
        QCOMPARE(uuid.variant(), QUuid::DCE);
        QCOMPARE(made.at(14), u'7'); // the version (Qt 6.4's QUuid does not name 7 yet)
        QVERIFY(isValidClientMsgId(made.toStdString()));
    }

    // Made one after another they sort in the order they were made (as
    // strings, as the server's index compares them), several in one
    // millisecond included, and none repeats.
    void clientMessageIdsSortInTheOrderMade()
    {
        constexpr int kIds = 20000; // many in each millisecond
        QStringList ids;
        ids.reserve(kIds);
        for (int i = 0; i < kIds; ++i)
            ids.append(newClientMessageId());
        for (int i = 1; i < kIds; ++i)
            QVERIFY2(ids[i - 1] < ids[i], qPrintable(ids[i - 1] + u' ' + ids[i]));
        QCOMPARE(QSet<QString>(ids.cbegin(), ids.cend()).size(), kIds);
        // The random part differs between ids of the same clock reading.
        QVERIFY(ids[0].right(12) != ids[1].right(12) || ids[1].right(12) != ids[2].right(12));
    }
};

QTEST_GUILESS_MAIN(TestShared)
#include "tst_shared.moc"
