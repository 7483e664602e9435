// The list models over a store filled by the test, with no server: the app
// shows what is on disk before it connects. QAbstractItemModelTester watches
// every model through inserts, moves, paging and window trimming.
#include "kith/client/conversation_list_model.h"
#include "kith/client/kith_client.h"
#include "kith/client/lan_servers_model.h"
#include "kith/client/local_store.h"
#include "kith/client/member_list_model.h"
#include "kith/client/message_list_model.h"
#include "kith/client/transfer_queue.h"
#include "kith/client/user_search_model.h"
#include "kith/content.h"
#include "kith/protocol.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using namespace kith;
using namespace kith::client;

namespace {
constexpr quint64 kMe = 1;
constexpr quint64 kPeer = 2;
const QString kDirect = QStringLiteral("d:1:2");
const QString kGroup = QStringLiteral("g:5");
// A day in milliseconds, for messages on different calendar days.
constexpr qint64 kDayMs = 24 * 3600 * 1000;
// Noon of some day, far from midnight so a few minutes never cross a date.
constexpr qint64 kNoonMs = 1'700'049'600'000;

v1::Message textMessage(const QString &conversationId, quint64 seq, quint64 sender, qint64 timeMs)
{
    v1::Message m;
    m.set_conversation_id(toStd(conversationId));
    m.set_seq(seq);
    m.set_server_id(seq);
    m.set_sender_user_id(sender);
    m.set_server_time_ms(timeMs);
    m.mutable_content()->mutable_text()->set_body(toStd(QStringLiteral("text %1").arg(seq)));
    return m;
}

QList<v1::Message> page(const QString &conversationId, quint64 first, quint64 last,
                        qint64 baseMs = kNoonMs)
{
    QList<v1::Message> list;
    for (quint64 s = first; s <= last; ++s)
        list << textMessage(conversationId, s, s % 3 == 0 ? kMe : kPeer, baseMs + qint64(s) * 1000);
    return list;
}

QList<quint64> seqs(const QAbstractItemModel &model)
{
    QList<quint64> result;
    for (int r = 0; r < model.rowCount(); ++r)
        result << model.index(r, 0).data(MessageListModel::SeqRole).toULongLong();
    return result;
}
} // namespace

class TestClientModels : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    std::unique_ptr<KithClient> m_client;
    const QUrl m_server{QStringLiteral("ws://127.0.0.1:9/")}; // nothing listens: offline

    LocalStore *store() { return m_client->store(); }

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        QVERIFY(m_dir.isValid());
        const QString path =
            m_dir.filePath(QStringLiteral("%1.sqlite").arg(QTest::currentTestFunction()));
        {
            // A saved session, as a previous run would have left it.
            LocalStore seed;
            QVERIFY(seed.open(path));
            QVERIFY(
                seed.setValue(QString::fromLatin1(LocalStore::kKeyUserId), QString::number(kMe)));
            QVERIFY(seed.setValue(QString::fromLatin1(LocalStore::kKeyLegacyToken),
                                  QStringLiteral("t")));
        }
        m_client = std::make_unique<KithClient>();
        m_client->setDataDirectory(m_dir.path());
        m_client->setStorePathOverride(path);
        QVERIFY(m_client->openAccount(m_server, QStringLiteral("myself")));
        QCOMPARE(m_client->userId(), qint64(kMe));
        v1::User peer;
        peer.set_id(kPeer);
        peer.set_username("peer");
        peer.set_display_name("Peer Person");
        QVERIFY(store()->upsertUser(peer));
    }

    void cleanup() { m_client.reset(); }

    // Avahi reports a server once per interface and IP protocol: one row,
    // showing the address a URL reaches best, gone with the last report.
    void lanServersOneRowPerServer()
    {
        LanServersModel model;
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto report = [](int interfaceIndex, bool ipv6, const QString &address) {
            LanServer server;
            server.interfaceIndex = interfaceIndex;
            server.ipProtocol = ipv6 ? 1 : 0;
            server.instanceName = QStringLiteral("Office");
            server.domain = QStringLiteral("local");
            server.name = QStringLiteral("Office");
            server.host = QStringLiteral("office-box.local");
            server.address = address;
            server.ipv6 = ipv6;
            server.linkLocal = address.startsWith(QLatin1String("fe80:"));
            server.port = 7400;
            server.registrationOpen = true;
            return server;
        };
        model.addServer(report(2, true, QStringLiteral("fe80::1")));
        QCOMPARE(model.rowCount(), 1);
        // Only a link-local address: the host name goes in the URL.
        QCOMPARE(model.get(0).value(QStringLiteral("url")).toString(),
                 QStringLiteral("wss://office-box.local:7400/"));
        model.addServer(report(2, true, QStringLiteral("2001:db8::5")));
        QCOMPARE(model.get(0).value(QStringLiteral("url")).toString(),
                 QStringLiteral("wss://[2001:db8::5]:7400/"));
        model.addServer(report(2, false, QStringLiteral("192.168.1.20")));
        model.addServer(report(3, false, QStringLiteral("10.0.0.20")));
        QCOMPARE(model.rowCount(), 1);
        const QString ipv4 = model.get(0).value(QStringLiteral("address")).toString();
        QVERIFY2(ipv4 == QStringLiteral("192.168.1.20") || ipv4 == QStringLiteral("10.0.0.20"),
                 qPrintable(ipv4));

        LanServer other = report(2, false, QStringLiteral("192.168.1.30"));
        other.instanceName = other.name = QStringLiteral("Lab");
        other.registrationOpen = false;
        model.addServer(other);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.get(0).value(QStringLiteral("name")).toString(), QStringLiteral("Lab"));
        QCOMPARE(model.get(0).value(QStringLiteral("registrationOpen")).toBool(), false);
        QCOMPARE(model.get(1).value(QStringLiteral("registrationOpen")).toBool(), true);

        // Office goes from one interface after another; its row with the last.
        model.removeServer(report(2, false, {}));
        model.removeServer(report(3, false, {}));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.get(1).value(QStringLiteral("address")).toString(),
                 QStringLiteral("2001:db8::5"));
        model.removeServer(report(2, true, {}));
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.get(0).value(QStringLiteral("name")).toString(), QStringLiteral("Lab"));
        model.removeServer(report(9, false, {})); // never reported: nothing happens
        QCOMPARE(model.rowCount(), 1);

        // A crowded (or hostile) LAN fills at most kMaxServers rows.
        for (int i = 0; i < 2 * LanServersModel::kMaxServers; ++i) {
            LanServer flood = report(2, false, QStringLiteral("192.168.1.40"));
            flood.instanceName = flood.name = QStringLiteral("Flood %1").arg(i);
            model.addServer(flood);
        }
        QCOMPARE(model.rowCount(), LanServersModel::kMaxServers);
    }

    void conversationListFollowsActivity()
    {
        ConversationListModel *list = m_client->conversations();
        QAbstractItemModelTester tester(list,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 4), {1, 4}));
        v1::ConversationState group;
        group.set_id(toStd(kGroup));
        group.set_kind(v1::GROUP);
        group.set_title("Team");
        group.set_max_seq(0);
        group.set_member_count(3);
        group.set_last_activity_ms(kNoonMs + 10 * kDayMs);
        QVERIFY(store()->applyConversationState(group));
        QCOMPARE(list->rowCount(), 2);
        QCOMPARE(list->index(0).data(ConversationListModel::ConversationIdRole).toString(), kGroup);
        QCOMPARE(list->index(0).data(ConversationListModel::TitleRole).toString(),
                 QStringLiteral("Team"));
        QCOMPARE(list->index(1).data(ConversationListModel::TitleRole).toString(),
                 QStringLiteral("Peer Person"));
        QCOMPARE(list->index(1).data(ConversationListModel::LastMessageRole).toString(),
                 QStringLiteral("text 4"));

        // A newer message moves the direct chat to the top.
        QVERIFY(store()->storeMessages(
            kDirect, {textMessage(kDirect, 5, kPeer, kNoonMs + 20 * kDayMs)}, {5, 5}));
        QCOMPARE(list->index(0).data(ConversationListModel::ConversationIdRole).toString(),
                 kDirect);
        // Seq 3 is our own (it moved our marker): the peer's 4 and 5 are unread.
        QCOMPARE(list->index(0).data(ConversationListModel::UnreadCountRole).toInt(), 2);
        QCOMPARE(list->totalUnread(), 2);
        QVERIFY(store()->setReadSeq(kDirect, 5));
        QCOMPARE(list->index(0).data(ConversationListModel::UnreadCountRole).toInt(), 0);

        // A message written offline shows as pending at once.
        const QString id = m_client->sendMessage(kGroup, QStringLiteral("offline hello"));
        QVERIFY(!id.isEmpty());
        QCOMPARE(list->index(0).data(ConversationListModel::ConversationIdRole).toString(), kGroup);
        QCOMPARE(list->index(0).data(ConversationListModel::PendingCountRole).toInt(), 1);
        QCOMPARE(list->index(0).data(ConversationListModel::LastMessageRole).toString(),
                 QStringLiteral("offline hello"));

        // Presence of the peer reaches the row.
        QVERIFY(store()->setPresence(kPeer, true, 0));
        QVERIFY(list->index(list->indexOf(kDirect))
                    .data(ConversationListModel::PeerOnlineRole)
                    .toBool());
        QVERIFY(store()->setPresence(kPeer, false, kNoonMs));
        QCOMPARE(list->index(list->indexOf(kDirect))
                     .data(ConversationListModel::PeerLastSeenRole)
                     .toDateTime(),
                 QDateTime::fromMSecsSinceEpoch(kNoonMs));

        QVERIFY(store()->removeConversation(kGroup));
        QCOMPARE(list->rowCount(), 1);
    }

    // A timed mute runs out with no change in the store: the row says so
    // when it does (the badge turns from grey to the accent, the bell back on).
    void aTimedMuteEndsByItself()
    {
        ConversationListModel *list = m_client->conversations();
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 4), {1, 4}));
        v1::ChatState state;
        state.set_conversation_id(toStd(kDirect));
        state.set_muted_until_ms(QDateTime::currentMSecsSinceEpoch() + 400);
        state.set_version(1);
        QVERIFY(store()->applyChatState(state));
        const int row = list->indexOf(kDirect);
        QVERIFY(list->index(row).data(ConversationListModel::MutedRole).toBool());
        QSignalSpy changed(list, &QAbstractItemModel::dataChanged);
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(changed.cbegin(), changed.cend(),
                                             [&](const QList<QVariant> &args) {
                                                 return args.at(0).toModelIndex().row() == row &&
                                                        args.at(2).value<QList<int>>().contains(
                                                            ConversationListModel::MutedRole);
                                             }),
                                 10000);
        QVERIFY(!list->index(row).data(ConversationListModel::MutedRole).toBool());

        // Muted until unmuted: nothing to wait for.
        state.set_muted_until_ms(kMutedForever);
        state.set_version(2);
        QVERIFY(store()->applyChatState(state));
        QVERIFY(list->index(row).data(ConversationListModel::MutedRole).toBool());
    }

    // A peer this user blocked shows no presence, whatever was last heard.
    void aBlockedPeerShowsNoPresence()
    {
        ConversationListModel *list = m_client->conversations();
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 4), {1, 4}));
        QVERIFY(store()->setPresence(kPeer, true, kNoonMs));
        const int row = list->indexOf(kDirect);
        QVERIFY(list->index(row).data(ConversationListModel::PeerOnlineRole).toBool());
        v1::ChatState block;
        block.set_blocked_user_id(kPeer);
        block.set_blocked(true);
        block.set_version(1);
        QVERIFY(store()->applyChatState(block));
        QVERIFY(list->index(row).data(ConversationListModel::PeerBlockedRole).toBool());
        QVERIFY(!list->index(row).data(ConversationListModel::PeerOnlineRole).toBool());
        QVERIFY(
            !list->index(row).data(ConversationListModel::PeerLastSeenRole).toDateTime().isValid());
        block.set_blocked(false);
        block.set_version(2);
        QVERIFY(store()->applyChatState(block));
        QVERIFY(list->index(row).data(ConversationListModel::PeerOnlineRole).toBool());
    }

    // The tick of one's own newest message: pending, sent, then read once the
    // peer's read marker reaches it; someone else's newest has none.
    void conversationListShowsTheOwnLastMessageState()
    {
        ConversationListModel *list = m_client->conversations();
        QAbstractItemModelTester tester(list,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto status = [&] {
            return list->index(list->indexOf(kDirect))
                .data(ConversationListModel::LastStatusRole)
                .toInt();
        };
        QVERIFY(store()->storeMessages(kDirect, {textMessage(kDirect, 1, kPeer, kNoonMs)}, {1, 1}));
        QCOMPARE(status(), int(MessageListModel::Received));
        QVERIFY(!m_client->sendMessage(kDirect, QStringLiteral("mine")).isEmpty());
        QCOMPARE(status(), int(MessageListModel::Pending));
        QVERIFY(store()->storeMessages(kDirect, {textMessage(kDirect, 2, kMe, kNoonMs + 1000)},
                                       {2, 2}));
        QVERIFY(store()->removeOutboxEntry(store()->outbox(kDirect).value(0).clientMsgId));
        QCOMPARE(status(), int(MessageListModel::Sent));
        QVERIFY(store()->setPeerReadSeq(kDirect, 2));
        QCOMPARE(status(), int(MessageListModel::Read));
    }

    // "New chat" before typing: the people already known, the latest chat
    // first, never oneself.
    void userPickerListsKnownPeopleRecentFirst()
    {
        v1::User zed;
        zed.set_id(9);
        zed.set_username("zed");
        QVERIFY(store()->upsertUser(zed));
        v1::User me;
        me.set_id(kMe);
        me.set_username("myself");
        QVERIFY(store()->upsertUser(me));
        QVERIFY(store()->storeMessages(kDirect, {textMessage(kDirect, 1, kPeer, kNoonMs)}, {1, 1}));
        UserSearchModel *people = m_client->userSearch();
        QAbstractItemModelTester tester(people,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        people->setQuery(QString());
        QCOMPARE(people->rowCount(), 2);
        QCOMPARE(people->index(0).data(UserSearchModel::UsernameRole).toString(),
                 QStringLiteral("peer"));
        QCOMPARE(people->index(1).data(UserSearchModel::UsernameRole).toString(),
                 QStringLiteral("zed"));
    }

    void messageWindowPagesAndStaysBounded()
    {
        const int total = 700;
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, total), {1, quint64(total)}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        // The newest page: nothing newer to add.
        QCOMPARE(model.rowCount(), MessageListModel::kPageRows);
        QVERIFY(!model.canFetchNewer());
        QCOMPARE(seqs(model).last(), quint64(total));
        QVERIFY(model.atLatest());

        int pages = 0;
        while (model.canFetchOlder()) {
            model.fetchOlder();
            QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
            // QML's delegate model calls fetchMore whenever rows change and
            // canFetchMore allows it, wherever the reader is: once the newest
            // rows left the window, that brought them back and pushed this
            // page out again. The view asks for newer rows itself.
            QVERIFY(!model.canFetchMore({}));
            QVERIFY(++pages < 100);
        }
        QCOMPARE(seqs(model).first(), 1u);
        QVERIFY(!model.atLatest());
        const auto window = seqs(model);
        for (int i = 1; i < window.size(); ++i)
            QCOMPARE(window.at(i), window.at(i - 1) + 1);

        // A new message while scrolled back is not inserted; back at the bottom it is there.
        QVERIFY(store()->storeMessages(
            kDirect, {textMessage(kDirect, total + 1, kPeer, kNoonMs + 9'000'000)},
            {quint64(total + 1), quint64(total + 1)}));
        QVERIFY(!seqs(model).contains(quint64(total + 1)));
        // Scrolling down, the view asks for the newer ones page by page.
        QVERIFY(model.canFetchNewer());
        while (model.canFetchNewer()) {
            model.fetchNewer();
            QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
            QVERIFY(++pages < 200);
        }
        QVERIFY(model.atLatest());
        QCOMPARE(seqs(model).last(), quint64(total + 1));
        QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
    }

    // A short chat's window holds it from its first message: one older than
    // the first row, pulled later (its push was lost), goes in at the top,
    // with no scrolling needed to ask for it.
    void aGapBelowAShortWindowIsFilledAtItsTop()
    {
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 2, 5), {2, 5}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(seqs(model).first(), 2u);
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 1), {1, 1}));
        QCOMPARE(seqs(model), (QList<quint64>{1, 2, 3, 4, 5}));
    }

    void loadAroundRecentresTheWindow()
    {
        const int total = 700;
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 600), {1, 600}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&model, &MessageListModel::loadedAround);
        QCOMPARE(model.rowOfSeq(100), -1);

        // Held on disk: at once.
        model.loadAround(100);
        QCOMPARE(loaded.size(), 1);
        QCOMPARE(loaded.at(0).at(0).toLongLong(), 100);
        const int row = loaded.at(0).at(1).toInt();
        QCOMPARE(model.index(row).data(MessageListModel::SeqRole).toLongLong(), 100);
        QVERIFY(!model.atLatest());
        auto window = seqs(model);
        for (int i = 1; i < window.size(); ++i)
            QCOMPARE(window.at(i), window.at(i - 1) + 1);
        // Paging continues from there both ways.
        model.fetchOlder();
        QVERIFY(seqs(model).first() < window.first());
        while (!model.atLatest())
            model.fetchNewer();
        QCOMPARE(seqs(model).last(), 600u);
        QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);

        // Already in the window: only where it is.
        model.loadAround(590);
        QCOMPARE(loaded.size(), 2);
        QCOMPARE(loaded.at(1).at(1).toInt(), model.rowOfSeq(590));

        // Not held yet: once the server's page is stored.
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 651, total), {651, quint64(total)}));
        model.jumpToLatest();
        model.loadAround(620);
        QCOMPARE(loaded.size(), 2);
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 601, 650), {601, 650}));
        QCOMPARE(loaded.size(), 3);
        QCOMPARE(
            model.index(loaded.at(2).at(1).toInt()).data(MessageListModel::SeqRole).toLongLong(),
            620);
        window = seqs(model);
        for (int i = 1; i < window.size(); ++i)
            QCOMPARE(window.at(i), window.at(i - 1) + 1);
    }

    void holesInsideTheWindowAreFilledInPlace()
    {
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 10), {1, 10}));
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 20, 30), {20, 30}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 21);
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 11, 19), {11, 19}));
        QCOMPARE(model.rowCount(), 30);
        for (int r = 0; r < 30; ++r)
            QCOMPARE(model.index(r).data(MessageListModel::SeqRole).toULongLong(), quint64(r + 1));
        QCOMPARE(model.rowOfSeq(15), 14);
    }

    void dayBoundariesAndSenderRuns()
    {
        QList<v1::Message> msgs{textMessage(kDirect, 1, kPeer, kNoonMs),
                                textMessage(kDirect, 2, kPeer, kNoonMs + 60'000),
                                textMessage(kDirect, 3, kMe, kNoonMs + 120'000),
                                textMessage(kDirect, 4, kMe, kNoonMs + kDayMs)};
        QVERIFY(store()->storeMessages(kDirect, msgs, {1, 4}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto boundary = [&](int r) {
            return model.index(r).data(MessageListModel::DayBoundaryRole).toBool();
        };
        const auto showSender = [&](int r) {
            return model.index(r).data(MessageListModel::ShowSenderRole).toBool();
        };
        QVERIFY(boundary(0));
        QVERIFY(!boundary(1));
        QVERIFY(!boundary(2));
        QVERIFY(boundary(3));
        QVERIFY(showSender(0));
        QVERIFY(!showSender(1));
        QVERIFY(showSender(2));
        QCOMPARE(model.index(2).data(MessageListModel::IsOwnRole).toBool(), true);
        QCOMPARE(model.index(0).data(MessageListModel::SenderNameRole).toString(),
                 QStringLiteral("Peer Person"));
        QCOMPARE(model.index(0).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Received));
        QCOMPARE(model.index(2).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Sent));
        QVERIFY(store()->setPeerReadSeq(kDirect, 3));
        QCOMPARE(model.index(2).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Read));
    }

    // Group events say who did what, with "You" for the reader.
    void groupEventsReadAsSentences()
    {
        const auto event = [](quint64 seq, quint64 actor, v1::SystemEvent::Kind kind,
                              QList<quint64> users = {}) {
            v1::Message m = textMessage(kGroup, seq, actor, kNoonMs + qint64(seq) * 1000);
            v1::SystemEvent *e = m.mutable_content()->mutable_system();
            e->set_kind(kind);
            e->set_actor_user_id(actor);
            for (quint64 user : users)
                e->add_user_ids(user);
            return m;
        };
        QList<v1::Message> msgs;
        msgs << event(1, kMe, v1::SystemEvent::GROUP_CREATED, {kMe, kPeer});
        msgs.last().mutable_content()->mutable_system()->set_name("  Trip  planning ");
        msgs << event(2, kPeer, v1::SystemEvent::MEMBERS_ADDED, {kMe});
        msgs << event(3, kMe, v1::SystemEvent::MEMBERS_ADDED, {kPeer, 7, 8, 9, 10});
        msgs << event(4, kMe, v1::SystemEvent::MEMBER_REMOVED, {kPeer, 7});
        msgs << event(5, kPeer, v1::SystemEvent::MEMBER_LEFT);
        msgs << event(6, kPeer, v1::SystemEvent::GROUP_RENAMED);
        msgs.last().mutable_content()->mutable_system()->set_name("Trip");
        msgs << event(7, kPeer, v1::SystemEvent::GROUP_AVATAR_CHANGED);
        msgs.last().mutable_content()->mutable_system()->set_avatar_file_id("f");
        msgs << event(8, kPeer, v1::SystemEvent::GROUP_AVATAR_CHANGED);
        msgs << event(9, kMe, v1::SystemEvent::GROUP_AVATAR_CHANGED);
        msgs.last().mutable_content()->mutable_system()->set_color_only(true);
        msgs << event(10, kPeer, v1::SystemEvent::MEMBERS_ADDED, {kMe, 7});
        QVERIFY(store()->storeMessages(kGroup, msgs, {1, 10}));
        MessageListModel model(m_client.get(), kGroup);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto text = [&](int r) {
            return model.index(r).data(MessageListModel::TextRole).toString();
        };
        QCOMPARE(model.rowCount(), 10);
        QCOMPARE(text(0), QStringLiteral("You created the group \u201CTrip planning\u201D"));
        QCOMPARE(text(1), QStringLiteral("Peer Person added you"));
        QCOMPARE(text(2), QStringLiteral("You added Peer Person, user 7, user 8 and 2 others"));
        QCOMPARE(text(3), QStringLiteral("You removed Peer Person and user 7"));
        QCOMPARE(text(4), QStringLiteral("Peer Person left"));
        QCOMPARE(text(5), QStringLiteral("Peer Person renamed the group to \u201CTrip\u201D"));
        QCOMPARE(text(6), QStringLiteral("Peer Person changed the group picture"));
        QCOMPARE(text(7), QStringLiteral("Peer Person removed the group picture"));
        QCOMPARE(text(8), QStringLiteral("You changed the group's colour"));
        QCOMPARE(text(9), QStringLiteral("Peer Person added you and user 7"));
        // The conversation list's preview stays short.
        QCOMPARE(previewText(msgs.at(7).content()), QStringLiteral("Group picture removed"));
        QCOMPARE(previewText(msgs.at(8).content()), QStringLiteral("Group colour changed"));
        // A name learnt later shows in the events that name them.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        v1::User seven;
        seven.set_id(7);
        seven.set_username("seven");
        seven.set_display_name("Sev");
        QVERIFY(store()->upsertUser(seven));
        QVERIFY(!changed.isEmpty());
        QCOMPARE(text(3), QStringLiteral("You removed Peer Person and Sev"));
    }

    void outboxRowsFollowTheStoredOnes()
    {
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 3), {1, 3}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const QString first = m_client->sendMessage(kDirect, QStringLiteral("one"));
        const QString second = m_client->sendMessage(kDirect, QStringLiteral("two"), 2);
        QCOMPARE(model.rowCount(), 5);
        QCOMPARE(model.index(3).data(MessageListModel::ClientMsgIdRole).toString(), first);
        QCOMPARE(model.index(4).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Pending));
        QCOMPARE(model.index(4).data(MessageListModel::ReplyPreviewRole).toString(),
                 QStringLiteral("text 2"));
        QCOMPARE(model.index(4).data(MessageListModel::ReplySenderNameRole).toString(),
                 QStringLiteral("Peer Person"));
        QCOMPARE(model.index(3).data(MessageListModel::ReplySenderNameRole).toString(), QString());
        QVERIFY(store()->setOutboxStatus(first, OutboxStatus::Failed, QStringLiteral("refused")));
        QCOMPARE(model.index(3).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Failed));
        QCOMPARE(model.index(3).data(MessageListModel::ErrorRole).toString(),
                 QStringLiteral("refused"));
        QVERIFY(m_client->discardMessage(first));
        QCOMPARE(model.rowCount(), 4);

        v1::SendAck ack;
        ack.set_seq(4);
        ack.set_server_id(4);
        ack.set_server_time_ms(kNoonMs + 10'000);
        QVERIFY(store()->acknowledge(second, ack));
        QCOMPARE(model.rowCount(), 4);
        QCOMPARE(model.index(3).data(MessageListModel::SeqRole).toULongLong(), 4u);
        QCOMPARE(model.index(3).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Sent));
    }

    void imageSizesClaimedAreClamped()
    {
        QCOMPARE(MessageListModel::clampImageSize(0, 480), QSize(0, 0));
        QCOMPARE(MessageListModel::clampImageSize(640, 0), QSize(0, 0));
        QCOMPARE(MessageListModel::clampImageSize(640, 480), QSize(640, 480));
        QCOMPARE(MessageListModel::clampImageSize(50'000, 50'000), QSize(16384, 16384));
        // A sliver becomes at most 8:1, then fits the largest side.
        QCOMPARE(MessageListModel::clampImageSize(50'000, 1), QSize(16384, 2048));
        QCOMPARE(MessageListModel::clampImageSize(1, 1000), QSize(125, 1000));
        QCOMPARE(MessageListModel::clampImageSize(0xffffffffu, 0xffffffffu), QSize(16384, 16384));
    }

    void fileRowsShowWhatWasSentSafely()
    {
        v1::Message m = textMessage(kDirect, 1, kPeer, kNoonMs);
        v1::FileRef &file = *m.mutable_content()->mutable_file();
        file.set_file_id(newFileId());
        // A name that tries to pass for another file and to climb out of a folder.
        file.set_name(toStd(QStringLiteral("../../cat\u202Egnp.exe")));
        file.set_mime_type("image/png");
        file.set_size(1234);
        file.set_width(50'000);
        file.set_height(50'000);
        file.set_thumbnail(std::string(100, 't'));
        file.set_sha256(std::string(32, 's'));
        v1::Message plain = textMessage(kDirect, 2, kPeer, kNoonMs + 1000);
        v1::FileRef &doc = *plain.mutable_content()->mutable_file();
        doc.set_file_id(newFileId());
        doc.set_name("report.pdf");
        doc.set_mime_type("application/pdf");
        doc.set_size(99);
        doc.set_caption("for monday");
        // An id the server would never make: never used as a path.
        v1::Message odd = textMessage(kDirect, 3, kPeer, kNoonMs + 2000);
        odd.mutable_content()->mutable_file()->set_file_id("../../../../etc");
        odd.mutable_content()->mutable_file()->set_name("passwd");
        v1::Message voice = textMessage(kDirect, 4, kPeer, kNoonMs + 3000);
        v1::FileRef &note = *voice.mutable_content()->mutable_file();
        note.set_file_id(newFileId());
        note.set_name("voice.ogg");
        note.set_mime_type("audio/ogg");
        note.set_voice_note(true);
        note.set_duration_ms(0xffffffffu); // claims 49 days
        QVERIFY(store()->storeMessages(kDirect, {m, plain, odd, voice}, {1, 4}));

        // The pdf is already in the cache (fetched before).
        const QString cached = m_client->transfers()->cachedPath(doc);
        QVERIFY(cached.startsWith(m_client->transfers()->cacheDirectory()));
        QVERIFY(QDir().mkpath(QFileInfo(cached).absolutePath()));
        {
            QFile f(cached);
            QVERIFY(f.open(QIODevice::WriteOnly));
            QCOMPARE(f.write(QByteArray(99, 'p')), 99);
        }

        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 4);
        QVERIFY(model.index(3).data(MessageListModel::IsVoiceNoteRole).toBool());
        QCOMPARE(model.index(3).data(MessageListModel::DurationMsRole).toInt(), 24 * 3600 * 1000);
        QVERIFY(!model.index(1).data(MessageListModel::IsVoiceNoteRole).toBool());
        const QModelIndex image = model.index(0);
        QVERIFY(image.data(MessageListModel::IsFileRole).toBool());
        QVERIFY(image.data(MessageListModel::IsImageRole).toBool());
        const QString shown = image.data(MessageListModel::FileNameRole).toString();
        QVERIFY(!shown.contains(QChar(0x202E)));
        QVERIFY(shown.endsWith(QLatin1String("gnp.exe")));
        QCOMPARE(image.data(MessageListModel::ImageWidthRole).toInt(), 16384);
        QCOMPARE(image.data(MessageListModel::ImageHeightRole).toInt(), 16384);
        QCOMPARE(image.data(MessageListModel::ThumbnailRole).toByteArray(), QByteArray(100, 't'));
        QCOMPARE(image.data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Remote));
        QVERIFY(image.data(MessageListModel::FileUrlRole).toUrl().isEmpty());
        QCOMPARE(image.data(MessageListModel::FileProgressRole).toReal(), 0.0);
        const QString imagePath = m_client->transfers()->cachedPath(file);
        // Straight inside the file's own folder of the cache, whatever its name says.
        QCOMPARE(QFileInfo(imagePath).path(),
                 m_client->transfers()->cacheDirectory() + u'/' + toQString(file.file_id()));
        QVERIFY(!QFileInfo(imagePath).fileName().contains(u'/'));
        QVERIFY(QFileInfo(imagePath).fileName() != QLatin1String(".."));

        const QModelIndex pdf = model.index(1);
        QVERIFY(!pdf.data(MessageListModel::IsImageRole).toBool());
        QCOMPARE(pdf.data(MessageListModel::CaptionRole).toString(), QStringLiteral("for monday"));
        QCOMPARE(pdf.data(MessageListModel::FileStateRole).toInt(), int(MessageListModel::Ready));
        QCOMPARE(pdf.data(MessageListModel::FileUrlRole).toUrl(), QUrl::fromLocalFile(cached));
        QCOMPARE(pdf.data(MessageListModel::ImageWidthRole).toInt(), 0);

        QCOMPARE(model.index(2).data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Remote));
        QVERIFY(!model.fetchFile(2)); // nowhere to put it
        QVERIFY(model.fetchFile(1));  // already here: nothing to fetch
        QVERIFY(store()->transfers().isEmpty());
        QCOMPARE(model.index(0).data(MessageListModel::IsFileRole).toBool(), true);
        QVERIFY(!model.index(0).data(MessageListModel::IsOwnRole).toBool());

        // Fetching the image queues a download (offline: it waits).
        QVERIFY(model.fetchFile(0));
        QCOMPARE(model.index(0).data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Queued));
        const auto queued = store()->transfers();
        QCOMPARE(queued.size(), 1);
        QCOMPARE(queued.first().path, imagePath);
        QVERIFY(model.cancelFile(0));
        QCOMPARE(model.index(0).data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Remote));
        QVERIFY(store()->transfers().isEmpty());
    }

    // The cache keeps to its limit by dropping what was used least recently;
    // a fetch under way is never touched, and what a view shows counts as used.
    void fileCacheDropsTheLeastRecentlyUsed()
    {
        TransferQueue *queue = m_client->transfers();
        const QDir cache(queue->cacheDirectory());
        const QDateTime now = QDateTime::currentDateTime();
        const auto put = [&](const QString &name, int kib, int hoursAgo) {
            const QString path = cache.filePath(name);
            QDir().mkpath(QFileInfo(path).absolutePath());
            QFile file(path);
            if (!file.open(QIODevice::WriteOnly) || file.write(QByteArray(kib * 1024, 'c')) < 0)
                return false;
            return file.setFileTime(now.addSecs(-3600 * hoursAgo),
                                    QFileDevice::FileModificationTime);
        };
        v1::FileRef shown;
        shown.set_file_id(newFileId());
        shown.set_name("shown.png");
        shown.set_mime_type("image/png");
        QVERIFY(put(QStringLiteral("a/old.bin"), 100, 50));
        QVERIFY(put(QStringLiteral("b/older.bin"), 100, 60));
        QVERIFY(put(QStringLiteral("c/recent.bin"), 100, 1));
        // The oldest of all, but a view shows it now.
        QVERIFY(put(QFileInfo(queue->cachedPath(shown)).dir().dirName() + u'/' +
                        QFileInfo(queue->cachedPath(shown)).fileName(),
                    100, 90));
        // A fetch that waits (offline), with half its bytes.
        v1::FileRef waiting;
        waiting.set_file_id(newFileId());
        waiting.set_name("big.iso");
        const QString waitingPath = queue->cachedPath(waiting);
        QVERIFY(queue->download(waiting, waitingPath).ok());
        QVERIFY(put(QFileInfo(waitingPath).dir().dirName() + u'/' +
                        QFileInfo(waitingPath).fileName() + QStringLiteral(".part"),
                    100, 100));

        v1::Message m = textMessage(kDirect, 1, kPeer, kNoonMs);
        *m.mutable_content()->mutable_file() = shown;
        QVERIFY(store()->storeMessages(kDirect, {m}, {1, 1}));
        MessageListModel model(m_client.get(), kDirect);
        QCOMPARE(model.index(0).data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Ready));

        queue->setCacheLimit(330 * 1024);
        queue->trimCache();
        QVERIFY(!QFile::exists(cache.filePath(QStringLiteral("b/older.bin"))));
        QVERIFY(!QFile::exists(cache.filePath(QStringLiteral("a/old.bin"))));
        QVERIFY(!QDir(cache.filePath(QStringLiteral("b"))).exists()); // its folder too
        QVERIFY(QFile::exists(cache.filePath(QStringLiteral("c/recent.bin"))));
        QVERIFY(QFile::exists(queue->cachedPath(shown)));
        QVERIFY(QFile::exists(waitingPath + QStringLiteral(".part")));

        // Under the limit: nothing goes.
        queue->trimCache();
        QVERIFY(QFile::exists(cache.filePath(QStringLiteral("c/recent.bin"))));
    }

    void uploadsShowAsPendingRowsUntilSent()
    {
        QVERIFY(store()->storeMessages(kDirect, page(kDirect, 1, 2), {1, 2}));
        MessageListModel model(m_client.get(), kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const QString path = m_dir.filePath(QStringLiteral("notes.txt"));
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            QCOMPARE(f.write("some notes"), 10);
        }
        const QString text = m_client->sendMessage(kDirect, QStringLiteral("first a text"));
        const qint64 id = m_client->sendFile(kDirect, path, QStringLiteral("the notes"));
        QVERIFY(id > 0);
        QCOMPARE(m_client->sendFile(kDirect, m_dir.filePath(QStringLiteral("absent"))), 0);
        QCOMPARE(model.rowCount(), 4);
        QCOMPARE(model.index(2).data(MessageListModel::ClientMsgIdRole).toString(), text);
        const QModelIndex upload = model.index(3);
        QVERIFY(upload.data(MessageListModel::IsOwnRole).toBool());
        QVERIFY(upload.data(MessageListModel::IsFileRole).toBool());
        QCOMPARE(upload.data(MessageListModel::FileNameRole).toString(),
                 QStringLiteral("notes.txt"));
        QCOMPARE(upload.data(MessageListModel::FileSizeRole).toLongLong(), 10);
        QCOMPARE(upload.data(MessageListModel::CaptionRole).toString(),
                 QStringLiteral("the notes"));
        QCOMPARE(upload.data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Pending));
        QCOMPARE(upload.data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::Queued));
        QCOMPARE(upload.data(MessageListModel::FileUrlRole).toUrl(), QUrl::fromLocalFile(path));

        // Refused: marked like a failed text, with the reason; retried, queued again.
        QVERIFY(
            store()->setTransferState(id, TransferState::Failed, QStringLiteral("Too large")).ok());
        QCOMPARE(model.rowCount(), 4);
        QCOMPARE(model.index(3).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Failed));
        QCOMPARE(model.index(3).data(MessageListModel::ErrorRole).toString(),
                 QStringLiteral("Too large"));
        QCOMPARE(model.index(3).data(MessageListModel::FileStateRole).toInt(),
                 int(MessageListModel::TransferFailed));
        QVERIFY(!model.retryFile(2)); // a text: the outbox's business
        QVERIFY(model.retryFile(3));
        QCOMPARE(model.index(3).data(MessageListModel::SendStatusRole).toInt(),
                 int(MessageListModel::Pending));
        // Dropped: the row goes.
        QVERIFY(model.cancelFile(3));
        QCOMPARE(model.rowCount(), 3);
        QVERIFY(store()->transfers().isEmpty());
    }

    void membersComeFromTheStore()
    {
        MemberListModel model(m_client.get(), kGroup);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.rowCount(), 0);
        QList<v1::Member> members;
        for (quint64 id : {kMe, kPeer}) {
            v1::Member m;
            m.mutable_user()->set_id(id);
            m.mutable_user()->set_username(id == kMe ? "me" : "peer");
            m.set_role(id == kMe ? v1::OWNER : v1::MEMBER);
            members << m;
        }
        QVERIFY(store()->replaceMembers(kGroup, members));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(0).data(MemberListModel::RoleNameRole).toString(),
                 QStringLiteral("owner"));
        QVERIFY(model.index(0).data(MemberListModel::IsMeRole).toBool());
        QVERIFY(store()->setPresence(kPeer, true, 0));
        QVERIFY(model.index(1).data(MemberListModel::OnlineRole).toBool());
    }

    void connectionStateIsReconnectingWhileTheServerIsAway()
    {
        QTRY_COMPARE_WITH_TIMEOUT(m_client->connectionState(), KithClient::Reconnecting, 20000);
        QVERIFY(!m_client->isOnline());
        // Within the cap (0 when the wait ended and the timer has yet to run);
        // the delay of each attempt is checked in tst_client_connection.
        QVERIFY2(m_client->nextRetryIn() >= 0 && m_client->nextRetryIn() <= 60,
                 qPrintable(QString::number(m_client->nextRetryIn())));
        QVERIFY(!m_client->lastError().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestClientModels)
#include "tst_client_models.moc"
