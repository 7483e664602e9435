// Who may do what: the hello and auth handshake, a non-member who learns
// nothing of other people's conversations, removed members, revoked devices
// and logout.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <google/protobuf/descriptor.h>

#include <QTest>
#include <QWebSocketProtocol>

#include <functional>
#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

// Far above any real user id in a fresh data folder: conversations that do not exist.
constexpr quint64 kNoSuchUserA = 999998;
constexpr quint64 kNoSuchUserB = 999999;
constexpr quint64 kNoSuchGroup = 999999;

bool isError(const std::optional<v1::Envelope> &answer, v1::ErrorCode code)
{
    return answer && answer->has_error() && answer->error().code() == code;
}

// The error text with the conversation id taken out, so "no such conversation
// g:7" and "no such conversation g:999999" compare equal.
QString errorShape(const std::optional<v1::Envelope> &answer, const QString &conversationId)
{
    if (!answer || !answer->has_error())
        return QStringLiteral("not an error: ") + QString::fromUtf8(describe(answer));
    return QStringLiteral("%1 %2")
        .arg(int(answer->error().code()))
        .arg(toQString(answer->error().message()).replace(conversationId, QStringLiteral("<id>")));
}

} // namespace

class TestAuthorization : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void helloMustComeFirst();
    void unknownMajorVersionIsRefused();
    void requestsBeforeAuthAreRefused();
    void everyRequestKindBeforeAuthIsRefused();
    void authRequestsOnALoggedInConnectionAreRefused();
    void secondLoginWhileOneRunsIsRefused();
    void unauthenticatedConnectionTimesOut();
    void wrongPasswordIsRefused();
    void nonMemberLearnsNothing_data();
    void nonMemberLearnsNothing();
    void nonMemberSyncSeesNothing();
    void nonMemberGetsNoPushes();
    void plainMemberCannotManageTheGroup();
    void removedMemberLosesAccess();
    void revokedDeviceIsClosedAndRefused();
    void revokingTheCurrentDeviceClosesThisConnection();
    void logoutEndsTheDevice();
    void failedLoginsAreRateLimited();

private:
    TestServer m_server;
    std::unique_ptr<TestClient> m_alice, m_bob, m_carol;
    QString m_direct; // alice and bob
    QString m_group;  // alice (owner) and bob
};

void TestAuthorization::initTestCase()
{
    QVERIFY(m_server.start());
    m_alice = std::make_unique<TestClient>();
    m_bob = std::make_unique<TestClient>();
    m_carol = std::make_unique<TestClient>();
    QVERIFY(m_alice->connectAndRegister(m_server.url(), QStringLiteral("alice")));
    QVERIFY(m_bob->connectAndRegister(m_server.url(), QStringLiteral("bob")));
    QVERIFY(m_carol->connectAndRegister(m_server.url(), QStringLiteral("carol")));
    QVERIFY(m_carol->userId() < kNoSuchUserA);

    m_direct = directConversationId(m_alice->userId(), m_bob->userId());
    const auto sent = m_alice->send(m_direct, QStringLiteral("just us"), newClientMsgId());
    QVERIFY2(sent && sent->has_send_ack(), describe(sent).constData());

    v1::Envelope create;
    create.mutable_create_group()->set_name("private");
    create.mutable_create_group()->add_member_user_ids(m_bob->userId());
    const auto created = m_alice->request(create);
    QVERIFY2(created && created->has_conversation(), describe(created).constData());
    m_group = toQString(created->conversation().state().id());
    const auto inGroup = m_bob->send(m_group, QStringLiteral("members only"), newClientMsgId());
    QVERIFY2(inGroup && inGroup->has_send_ack(), describe(inGroup).constData());
}

void TestAuthorization::helloMustComeFirst()
{
    TestClient client;
    QVERIFY(client.connectTo(m_server.url()));
    const auto answer = client.login(QStringLiteral("alice"), QStringLiteral("password123"));
    QVERIFY2(isError(answer, v1::HELLO_REQUIRED), describe(answer).constData());
    QVERIFY(client.waitForDisconnected());
    QCOMPARE(client.closeCode(), int(QWebSocketProtocol::CloseCodePolicyViolated));
}

void TestAuthorization::unknownMajorVersionIsRefused()
{
    TestClient client;
    QVERIFY(client.connectTo(m_server.url()));
    const auto answer = client.hello(2);
    QVERIFY2(isError(answer, v1::UNSUPPORTED_VERSION), describe(answer).constData());
    QVERIFY(!answer->error().message().empty());
    QVERIFY(client.waitForDisconnected());
    QCOMPARE(client.closeCode(), int(QWebSocketProtocol::CloseCodePolicyViolated));
}

void TestAuthorization::requestsBeforeAuthAreRefused()
{
    TestClient client;
    QVERIFY(client.connectTo(m_server.url()));
    const auto hello = client.hello();
    QVERIFY2(hello && hello->has_hello_ok(), describe(hello).constData());
    QCOMPARE(hello->hello_ok().protocol_major(), kProtocolMajor);
    QVERIFY(hello->hello_ok().registration_open());
    QCOMPARE(qint64(hello->hello_ok().max_frame_bytes()), kMaxFrameBytes);
    QCOMPARE(hello->hello_ok().max_pull_limit(), kMaxPullLimit);

    const auto send = client.send(m_direct, QStringLiteral("who am I"), newClientMsgId());
    QVERIFY2(isError(send, v1::NOT_AUTHENTICATED), describe(send).constData());
    const auto pull = client.pull(m_direct, 1);
    QVERIFY2(isError(pull, v1::NOT_AUTHENTICATED), describe(pull).constData());
    // The connection stays and can still log in.
    QVERIFY(client.isConnected());
    const auto login = client.login(QStringLiteral("carol"), QStringLiteral("password123"));
    QVERIFY2(login && login->has_auth_ok(), describe(login).constData());
    QCOMPARE(login->auth_ok().user().id(), m_carol->userId());
}

// Every request body of the protocol (found by reflection, so a new one is
// covered the day it is added), sent after hello and before auth.
void TestAuthorization::everyRequestKindBeforeAuthIsRefused()
{
    TestClient client;
    QVERIFY(client.connectTo(m_server.url()));
    QVERIFY(client.hello());
    const google::protobuf::OneofDescriptor *body =
        v1::Envelope::descriptor()->FindOneofByName("body");
    QVERIFY(body);
    QStringList tried;
    for (int i = 0; i < body->field_count(); ++i) {
        const google::protobuf::FieldDescriptor *field = body->field(i);
        const std::string &type = field->message_type()->name();
        if (!type.ends_with("Request") || type == "RegisterRequest" || type == "LoginRequest" ||
            type == "ResumeRequest")
            continue;
        v1::Envelope request;
        request.GetReflection()->MutableMessage(&request, field);
        const auto answer = client.request(request);
        QVERIFY2(isError(answer, v1::NOT_AUTHENTICATED),
                 qPrintable(QString::fromStdString(field->name()) + QStringLiteral(": ") +
                            QString::fromUtf8(describe(answer))));
        QVERIFY(client.isConnected());
        tried << QString::fromStdString(field->name());
    }
    // The list is the protocol's, not an empty loop.
    for (const char *kind :
         {"send", "pull", "sync", "mark_read", "typing", "create_group", "add_members",
          "remove_member", "leave_group", "rename_group", "set_group_avatar", "list_members",
          "search_users", "get_profile", "set_display_name", "set_avatar", "list_devices",
          "revoke_device", "logout"})
        QVERIFY2(tried.contains(QLatin1String(kind)), kind);
    // Still able to log in afterwards.
    const auto login = client.login(QStringLiteral("carol"), QStringLiteral("password123"));
    QVERIFY2(login && login->has_auth_ok(), describe(login).constData());
}

// A logged-in connection stays who it is: another register, login or resume
// on it is refused, and no device is made for it.
void TestAuthorization::authRequestsOnALoggedInConnectionAreRefused()
{
    TestClient carol;
    QVERIFY(carol.connectAndLogin(m_server.url(), QStringLiteral("carol"),
                                  QStringLiteral("password123"), QStringLiteral("second")));
    v1::Envelope listDevices;
    listDevices.mutable_list_devices();
    const auto before = carol.request(listDevices);
    QVERIFY2(before && before->has_device_list(), describe(before).constData());

    const auto asBob = carol.login(QStringLiteral("bob"), QStringLiteral("password123"));
    QVERIFY2(isError(asBob, v1::INVALID_ARGUMENT), describe(asBob).constData());
    const auto again = carol.login(QStringLiteral("carol"), QStringLiteral("password123"));
    QVERIFY2(isError(again, v1::INVALID_ARGUMENT), describe(again).constData());
    const auto registered =
        carol.registerUser(QStringLiteral("mallory2"), QStringLiteral("password123"));
    QVERIFY2(isError(registered, v1::INVALID_ARGUMENT), describe(registered).constData());
    const auto resumed = carol.resume(m_bob->token());
    QVERIFY2(isError(resumed, v1::INVALID_ARGUMENT), describe(resumed).constData());
    QVERIFY(carol.isConnected());

    // Still carol on the same device, and no device more.
    const auto after = carol.request(listDevices);
    QVERIFY2(after && after->has_device_list(), describe(after).constData());
    QCOMPARE(after->device_list().devices_size(), before->device_list().devices_size());
    for (const auto &device : after->device_list().devices())
        QCOMPARE(device.current(), device.id() == carol.deviceId());
    const auto me = carol.request([] {
        v1::Envelope profile;
        profile.mutable_get_profile()->set_username("carol");
        return profile;
    }());
    QVERIFY2(me && me->has_user_profile(), describe(me).constData());
    QCOMPARE(me->user_profile().user().id(), m_carol->userId());
}

// A second login sent while the first is being checked is refused; the first
// goes ahead.
void TestAuthorization::secondLoginWhileOneRunsIsRefused()
{
    TestClient client;
    QVERIFY(client.connectTo(m_server.url()));
    QVERIFY(client.hello());
    v1::Envelope first;
    first.mutable_login()->set_username("carol");
    first.mutable_login()->set_password("password123");
    v1::Envelope second;
    second.mutable_login()->set_username("bob");
    second.mutable_login()->set_password("password123");
    // Both on the wire before any answer: the first is hashing when the second arrives.
    const quint32 firstId = client.post(first);
    const quint32 secondId = client.post(second);
    const auto refused = client.waitForAnswer(secondId);
    QVERIFY2(isError(refused, v1::INVALID_ARGUMENT), describe(refused).constData());
    const auto granted = client.waitForAnswer(firstId);
    QVERIFY2(granted && granted->has_auth_ok(), describe(granted).constData());
    QCOMPARE(granted->auth_ok().user().id(), m_carol->userId());
}

void TestAuthorization::unauthenticatedConnectionTimesOut()
{
    TestServer server({QStringLiteral("--auth-timeout-ms"), QStringLiteral("1000")});
    QVERIFY(server.start());
    TestClient client;
    QVERIFY(client.connectTo(server.url()));
    const auto hello = client.hello();
    QVERIFY2(hello && hello->has_hello_ok(), describe(hello).constData());
    QCOMPARE(hello->hello_ok().auth_timeout_ms(), quint32(1000));
    const auto timeout = client.waitForPush([](const v1::Envelope &e) {
        return e.has_error() && e.error().code() == v1::AUTH_TIMEOUT;
    });
    QVERIFY(timeout);
    QCOMPARE(timeout->request_id(), quint32(0));
    QVERIFY(client.waitForDisconnected());
    QCOMPARE(client.closeCode(), int(QWebSocketProtocol::CloseCodePolicyViolated));
}

void TestAuthorization::wrongPasswordIsRefused()
{
    TestClient client;
    QVERIFY(client.connectTo(m_server.url()));
    QVERIFY(client.hello());
    const auto wrong = client.login(QStringLiteral("alice"), QStringLiteral("not her password"));
    QVERIFY2(isError(wrong, v1::AUTH_FAILED), describe(wrong).constData());
    const auto unknown = client.login(QStringLiteral("nobody"), QStringLiteral("password123"));
    QVERIFY2(isError(unknown, v1::AUTH_FAILED), describe(unknown).constData());
    const auto forged = client.resume(QStringLiteral("not-a-token"));
    QVERIFY2(isError(forged, v1::TOKEN_INVALID), describe(forged).constData());
}

void TestAuthorization::nonMemberLearnsNothing_data()
{
    QTest::addColumn<QString>("operation");
    QTest::addColumn<bool>("groupOnly");
    QTest::newRow("send") << QStringLiteral("send") << false;
    QTest::newRow("pull") << QStringLiteral("pull") << false;
    QTest::newRow("mark_read") << QStringLiteral("mark_read") << false;
    QTest::newRow("typing") << QStringLiteral("typing") << false;
    QTest::newRow("list_members") << QStringLiteral("list_members") << false;
    QTest::newRow("add_members") << QStringLiteral("add_members") << true;
    QTest::newRow("remove_member") << QStringLiteral("remove_member") << true;
    QTest::newRow("rename_group") << QStringLiteral("rename_group") << true;
    QTest::newRow("leave_group") << QStringLiteral("leave_group") << true;
}

void TestAuthorization::nonMemberLearnsNothing()
{
    QFETCH(QString, operation);
    QFETCH(bool, groupOnly);

    const auto build = [&](const QString &id) {
        v1::Envelope e;
        const std::string conversation = toStd(id);
        if (operation == QLatin1String("send")) {
            e = TestClient::sendRequest(id, QStringLiteral("let me in"), newClientMsgId());
        } else if (operation == QLatin1String("pull")) {
            e.mutable_pull()->set_conversation_id(conversation);
        } else if (operation == QLatin1String("mark_read")) {
            e.mutable_mark_read()->set_conversation_id(conversation);
            e.mutable_mark_read()->set_seq(1);
        } else if (operation == QLatin1String("typing")) {
            e.mutable_typing()->set_conversation_id(conversation);
            e.mutable_typing()->set_typing(true);
        } else if (operation == QLatin1String("list_members")) {
            e.mutable_list_members()->set_conversation_id(conversation);
        } else if (operation == QLatin1String("add_members")) {
            e.mutable_add_members()->set_conversation_id(conversation);
            e.mutable_add_members()->add_user_ids(m_carol->userId());
        } else if (operation == QLatin1String("remove_member")) {
            e.mutable_remove_member()->set_conversation_id(conversation);
            e.mutable_remove_member()->set_user_id(m_bob->userId());
        } else if (operation == QLatin1String("rename_group")) {
            e.mutable_rename_group()->set_conversation_id(conversation);
            e.mutable_rename_group()->set_name("mine now");
        } else {
            e.mutable_leave_group()->set_conversation_id(conversation);
        }
        return e;
    };

    // Each pair: a conversation of others, and one that does not exist at all.
    QList<std::pair<QString, QString>> pairs{{m_group, groupConversationId(kNoSuchGroup)}};
    if (!groupOnly)
        pairs.append({m_direct, directConversationId(kNoSuchUserA, kNoSuchUserB)});
    for (const auto &[existing, missing] : pairs) {
        const auto refused = m_carol->request(build(existing));
        const auto absent = m_carol->request(build(missing));
        QVERIFY2(isError(refused, v1::NOT_FOUND), qPrintable(existing + QStringLiteral(": ") +
                                                             QString::fromUtf8(describe(refused))));
        QVERIFY2(isError(absent, v1::NOT_FOUND),
                 qPrintable(missing + QStringLiteral(": ") + QString::fromUtf8(describe(absent))));
        QCOMPARE(errorShape(refused, existing), errorShape(absent, missing));
        QVERIFY(m_carol->isConnected());
    }
}

void TestAuthorization::nonMemberSyncSeesNothing()
{
    const auto fresh = m_carol->sync();
    QVERIFY2(fresh && fresh->has_sync_response(), describe(fresh).constData());
    QCOMPARE(fresh->sync_response().changed_size(), 0);

    // Claiming to hold them reveals nothing either: they are treated exactly
    // like conversations that do not exist.
    const QString missingGroup = groupConversationId(kNoSuchGroup);
    const QString missingDirect = directConversationId(kNoSuchUserA, kNoSuchUserB);
    QList<v1::ConversationCursor> held;
    for (const QString &id : {m_direct, m_group, missingGroup, missingDirect}) {
        v1::ConversationCursor cursor;
        cursor.set_conversation_id(toStd(id));
        held.append(cursor);
    }
    const auto claimed = m_carol->sync(held);
    QVERIFY2(claimed && claimed->has_sync_response(), describe(claimed).constData());
    QCOMPARE(claimed->sync_response().changed_size(), 0);
    const auto &gone = claimed->sync_response().gone_conversation_ids();
    const auto isGone = [&](const QString &id) {
        return std::find(gone.begin(), gone.end(), toStd(id)) != gone.end();
    };
    QCOMPARE(isGone(m_group), isGone(missingGroup));
    QCOMPARE(isGone(m_direct), isGone(missingDirect));
}

void TestAuthorization::nonMemberGetsNoPushes()
{
    const QString directId = newClientMsgId();
    const QString groupId = newClientMsgId();
    QVERIFY(m_alice->send(m_direct, QStringLiteral("still private"), directId));
    QVERIFY(m_alice->send(m_group, QStringLiteral("still members only"), groupId));
    v1::Envelope typing;
    typing.mutable_typing()->set_conversation_id(toStd(m_group));
    typing.mutable_typing()->set_typing(true);
    m_alice->sendEnvelope(typing);
    for (const QString &id : {directId, groupId}) {
        QVERIFY(m_bob->waitForPush([&](const v1::Envelope &e) {
            return e.has_message() && toQString(e.message().message().client_msg_id()) == id;
        }));
    }
    QVERIFY(m_bob->waitForPush([&](const v1::Envelope &e) { return e.has_typing_push(); }));
    // carol's connection has been served all along; a round trip flushes anything queued.
    QVERIFY(m_carol->sync());
    for (const auto &push : m_carol->pushes()) {
        const bool aboutOthers = push.has_message() || push.has_typing_push() || push.has_read() ||
                                 push.has_conversation();
        QVERIFY2(!aboutOthers, describe(push).constData());
    }
}

void TestAuthorization::plainMemberCannotManageTheGroup()
{
    // bob is a member, not an admin: he may see the group but not change it.
    v1::Envelope add;
    add.mutable_add_members()->set_conversation_id(toStd(m_group));
    add.mutable_add_members()->add_user_ids(m_carol->userId());
    v1::Envelope remove;
    remove.mutable_remove_member()->set_conversation_id(toStd(m_group));
    remove.mutable_remove_member()->set_user_id(m_alice->userId());
    v1::Envelope rename;
    rename.mutable_rename_group()->set_conversation_id(toStd(m_group));
    rename.mutable_rename_group()->set_name("bob's now");
    for (const v1::Envelope &request : {add, remove, rename}) {
        const auto answer = m_bob->request(request);
        QVERIFY2(isError(answer, v1::PERMISSION_DENIED), describe(answer).constData());
    }
    v1::Envelope list;
    list.mutable_list_members()->set_conversation_id(toStd(m_group));
    const auto members = m_bob->request(list);
    QVERIFY2(members && members->has_member_list(), describe(members).constData());
    QCOMPARE(members->member_list().members_size(), 2);
    for (const auto &member : members->member_list().members()) {
        QCOMPARE(member.role(), member.user().id() == m_alice->userId() ? v1::OWNER : v1::MEMBER);
    }
}

void TestAuthorization::removedMemberLosesAccess()
{
    v1::Envelope remove;
    remove.mutable_remove_member()->set_conversation_id(toStd(m_group));
    remove.mutable_remove_member()->set_user_id(m_bob->userId());
    const auto removed = m_alice->request(remove);
    QVERIFY2(removed && removed->has_ok(), describe(removed).constData());
    QVERIFY(m_bob->waitForPush([&](const v1::Envelope &e) {
        return e.has_conversation_removed() &&
               toQString(e.conversation_removed().conversation_id()) == m_group;
    }));

    const auto send = m_bob->send(m_group, QStringLiteral("am I still here"), newClientMsgId());
    QVERIFY2(isError(send, v1::NOT_FOUND), describe(send).constData());
    const auto pull = m_bob->pull(m_group, 1);
    QVERIFY2(isError(pull, v1::NOT_FOUND), describe(pull).constData());

    v1::ConversationCursor cursor;
    cursor.set_conversation_id(toStd(m_group));
    cursor.set_max_seq(1);
    const auto sync = m_bob->sync({cursor});
    QVERIFY2(sync && sync->has_sync_response(), describe(sync).constData());
    const auto &gone = sync->sync_response().gone_conversation_ids();
    QVERIFY(std::find(gone.begin(), gone.end(), toStd(m_group)) != gone.end());
    for (const auto &state : sync->sync_response().changed())
        QVERIFY(toQString(state.id()) != m_group);
}

void TestAuthorization::revokedDeviceIsClosedAndRefused()
{
    TestClient tablet;
    QVERIFY(tablet.connectAndLogin(m_server.url(), QStringLiteral("alice"),
                                   QStringLiteral("password123"), QStringLiteral("tablet")));
    const QString tabletToken = tablet.token();

    v1::Envelope listDevices;
    listDevices.mutable_list_devices();
    const auto devices = m_alice->request(listDevices);
    QVERIFY2(devices && devices->has_device_list(), describe(devices).constData());
    bool sawTablet = false;
    for (const auto &device : devices->device_list().devices()) {
        if (device.id() == tablet.deviceId()) {
            sawTablet = true;
            QVERIFY(!device.current());
            QVERIFY(device.online());
        }
        if (device.id() == m_alice->deviceId())
            QVERIFY(device.current());
    }
    QVERIFY(sawTablet);

    v1::Envelope revoke;
    revoke.mutable_revoke_device()->set_device_id(tablet.deviceId());
    const auto revoked = m_alice->request(revoke);
    QVERIFY2(revoked && revoked->has_ok(), describe(revoked).constData());

    const auto kicked = tablet.waitForPush([](const v1::Envelope &e) {
        return e.has_error() && e.error().code() == v1::TOKEN_INVALID;
    });
    QVERIFY(kicked);
    QVERIFY(tablet.waitForDisconnected());
    QCOMPARE(tablet.closeCode(), int(QWebSocketProtocol::CloseCodePolicyViolated));

    TestClient again;
    QVERIFY(again.connectTo(m_server.url()));
    QVERIFY(again.hello());
    const auto refused = again.resume(tabletToken);
    QVERIFY2(isError(refused, v1::TOKEN_INVALID), describe(refused).constData());

    // Her other device is unaffected.
    const auto still = m_alice->send(m_direct, QStringLiteral("still here"), newClientMsgId());
    QVERIFY2(still && still->has_send_ack(), describe(still).constData());
}

// Revoking the device this connection is on: the answer comes first, then
// TOKEN_INVALID and the close, and the token no longer resumes.
void TestAuthorization::revokingTheCurrentDeviceClosesThisConnection()
{
    TestClient spare;
    QVERIFY(spare.connectAndLogin(m_server.url(), QStringLiteral("carol"),
                                  QStringLiteral("password123"), QStringLiteral("spare")));
    const QString token = spare.token();
    v1::Envelope revoke;
    revoke.mutable_revoke_device()->set_device_id(spare.deviceId());
    const auto answer = spare.request(revoke);
    QVERIFY2(answer && answer->has_ok(), describe(answer).constData());
    const auto kicked = spare.waitForPush([](const v1::Envelope &e) {
        return e.has_error() && e.error().code() == v1::TOKEN_INVALID;
    });
    QVERIFY(kicked);
    QCOMPARE(kicked->request_id(), quint32(0));
    QVERIFY(spare.waitForDisconnected());
    QCOMPARE(spare.closeCode(), int(QWebSocketProtocol::CloseCodePolicyViolated));

    TestClient again;
    QVERIFY(again.connectTo(m_server.url()));
    QVERIFY(again.hello());
    const auto refused = again.resume(token);
    QVERIFY2(isError(refused, v1::TOKEN_INVALID), describe(refused).constData());
    // carol's other connection is not touched.
    QVERIFY(m_carol->sync());
    QVERIFY(m_carol->isConnected());
}

void TestAuthorization::logoutEndsTheDevice()
{
    TestClient laptop;
    QVERIFY(laptop.connectAndLogin(m_server.url(), QStringLiteral("bob"),
                                   QStringLiteral("password123"), QStringLiteral("laptop")));
    const QString token = laptop.token();
    v1::Envelope logout;
    logout.mutable_logout();
    const auto answer = laptop.request(logout);
    QVERIFY2(answer && answer->has_ok(), describe(answer).constData());
    QVERIFY(laptop.waitForDisconnected());
    QCOMPARE(laptop.closeCode(), int(QWebSocketProtocol::CloseCodeNormal));

    TestClient again;
    QVERIFY(again.connectTo(m_server.url()));
    QVERIFY(again.hello());
    const auto refused = again.resume(token);
    QVERIFY2(isError(refused, v1::TOKEN_INVALID), describe(refused).constData());
}

void TestAuthorization::failedLoginsAreRateLimited()
{
    // A server of its own: the lockout would otherwise hit the other tests'
    // logins from the same address.
    TestServer server;
    QVERIFY(server.start());
    TestClient victim;
    QVERIFY(victim.connectAndRegister(server.url(), QStringLiteral("victim")));

    // docs/protocol.md: 5 failures per account, then a lockout from 30 s.
    constexpr int kAccountFailures = 5;
    constexpr quint32 kFirstLockoutMs = 30 * 1000;
    TestClient guesser;
    QVERIFY(guesser.connectTo(server.url()));
    QVERIFY(guesser.hello());
    const auto guess = [&](const QString &name, int attempt) {
        return guesser.login(name, QStringLiteral("guess%1").arg(attempt, 4, 10, QLatin1Char('0')));
    };
    for (int attempt = 1; attempt <= kAccountFailures; ++attempt) {
        const auto answer = guess(QStringLiteral("victim"), attempt);
        QVERIFY2(isError(answer, v1::AUTH_FAILED),
                 qPrintable(QStringLiteral("attempt %1: ").arg(attempt) +
                            QString::fromUtf8(describe(answer))));
    }
    const auto limited = guess(QStringLiteral("victim"), kAccountFailures + 1);
    QVERIFY2(isError(limited, v1::RATE_LIMITED), describe(limited).constData());
    QVERIFY(limited->error().retry_after_ms() > 0);
    QVERIFY(limited->error().retry_after_ms() <= kFirstLockoutMs);
    // Locked out even with the right password.
    const auto right = guesser.login(QStringLiteral("victim"), QStringLiteral("password123"));
    QVERIFY2(isError(right, v1::RATE_LIMITED), describe(right).constData());

    // Per remote address: 20 failures, whatever the names (the refused ones
    // above did not count).
    constexpr int kAddressFailures = 20;
    for (int attempt = kAccountFailures + 1; attempt <= kAddressFailures; ++attempt) {
        const auto answer = guess(QStringLiteral("nobody%1").arg(attempt), attempt);
        QVERIFY2(isError(answer, v1::AUTH_FAILED),
                 qPrintable(QStringLiteral("attempt %1: ").arg(attempt) +
                            QString::fromUtf8(describe(answer))));
    }
    const auto addressLimited = guess(QStringLiteral("someone"), kAddressFailures + 1);
    QVERIFY2(isError(addressLimited, v1::RATE_LIMITED), describe(addressLimited).constData());
    QVERIFY(addressLimited->error().retry_after_ms() > 0);
    QVERIFY(addressLimited->error().retry_after_ms() <= kFirstLockoutMs);
    // The logged-in session of the account is not affected.
    const auto sync = victim.sync();
    QVERIFY2(sync && sync->has_sync_response(), describe(sync).constData());
}

QTEST_GUILESS_MAIN(TestAuthorization)
#include "tst_authorization.moc"
