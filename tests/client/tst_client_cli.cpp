// kith-cli end to end: two users, each with their own data folder
// (XDG_DATA_HOME), register, exchange messages through a real kithd, read
// their histories, watch with tail, manage a group, and get one-line errors.
#include "client_fixture.h"
#include "kith/client/local_store.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "test_server.h"

#include <QDir>
#include <QImage>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <optional>
#include <sys/types.h>

using namespace kith;
using namespace kith::test;

class TestClientCli : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    QString m_alice;
    QString m_bob;

    QStringList withServer(QStringList args) const
    {
        return QStringList{QStringLiteral("--server"), m_server->url().toString()} + args;
    }

    // Runs kith-cli for one user; fails the test on a non-zero exit.
    QStringList run(const QString &home, const QStringList &args, const QByteArray &input = {})
    {
        QByteArray out;
        QByteArray err;
        const int code = runCli(home, withServer(args), &out, &err, input);
        if (code != 0)
            qWarning() << "kith-cli" << args << "exited" << code << err;
        m_lastCode = code;
        return QString::fromUtf8(out).split(u'\n', Qt::SkipEmptyParts);
    }
    int m_lastCode = 0;

    // Starts `kith-cli tail` for one user and waits until it listens; what it
    // printed so far is in `out`.
    bool startTail(QProcess &tail, const QString &home, QByteArray *out)
    {
        tail.setProcessEnvironment(cliEnvironment(home));
        tail.start(cliPath(), withServer({QStringLiteral("tail")}));
        if (!tail.waitForStarted())
            return false;
        return TestClient::waitUntil(
            [&] {
                *out += tail.readAllStandardOutput();
                return out->contains("listening");
            },
            kClientTimeoutMs);
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_server = std::make_unique<TestServer>();
        QVERIFY(m_server->start());
        m_alice = m_dir.filePath(QStringLiteral("alice"));
        m_bob = m_dir.filePath(QStringLiteral("bob"));
    }

    void registerKeepsTheSession()
    {
        auto out = run(m_alice, {QStringLiteral("register"), QStringLiteral("alice"), kPassword});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(out.value(0).startsWith(QStringLiteral("registered alice")));
        out = run(m_bob, {QStringLiteral("register"), QStringLiteral("bob"), kPassword});
        QCOMPARE(m_lastCode, 0);
        // The cache lives under XDG_DATA_HOME.
        QVERIFY(QFileInfo::exists(m_alice + QStringLiteral("/kith/kith-cli/session.ini")));
        // Without a keychain (KITH_NO_KEYCHAIN in the test environment) the
        // token is in an owner-only file beside the store, not in the store.
        const QString accounts = m_alice + QStringLiteral("/kith/kith-cli/accounts/");
        const QString serverDir =
            QDir(accounts).entryList(QDir::Dirs | QDir::NoDotAndDotDot).value(0);
        const QString tokenFile = accounts + serverDir + QStringLiteral("/alice.token");
        QVERIFY2(QFileInfo::exists(tokenFile), qPrintable(tokenFile));
        const auto permissions = QFile(tokenFile).permissions();
        QVERIFY(permissions.testFlags(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
        QVERIFY(!(permissions & (QFileDevice::ReadGroup | QFileDevice::ReadOther)));
        {
            client::LocalStore store;
            QVERIFY(store.open(accounts + serverDir + QStringLiteral("/alice.sqlite")));
            QVERIFY(
                store.value(QString::fromLatin1(client::LocalStore::kKeyLegacyToken)).isEmpty());
        }
        // A stored session: no password needed.
        run(m_alice, {QStringLiteral("sync")});
        QCOMPARE(m_lastCode, 0);
    }

    void twoUsersExchangeMessages()
    {
        QProcess tail;
        QByteArray tailOut;
        QVERIFY(startTail(tail, m_bob, &tailOut));

        run(m_alice, {QStringLiteral("send"), QStringLiteral("bob"), QStringLiteral("hello bob")});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(TestClient::waitUntil(
            [&] {
                tailOut += tail.readAllStandardOutput();
                return tailOut.contains("alice: hello bob");
            },
            kClientTimeoutMs));
        tail.kill();
        tail.waitForFinished();

        run(m_alice, {QStringLiteral("send"), QStringLiteral("bob"), QStringLiteral("--stdin")},
            "line one\n\nline two\nline three\n");
        QCOMPARE(m_lastCode, 0);
        run(m_bob,
            {QStringLiteral("send"), QStringLiteral("alice"), QStringLiteral("hi alice\nbye")});
        QCOMPARE(m_lastCode, 0);

        const QStringList expected{
            QStringLiteral("alice: hello bob"), QStringLiteral("alice: line one"),
            QStringLiteral("alice: line two"), QStringLiteral("alice: line three"),
            QStringLiteral("bob: hi alice\\nbye")};
        for (const QString &home : {m_alice, m_bob}) {
            const QString peer = home == m_alice ? QStringLiteral("bob") : QStringLiteral("alice");
            const QStringList lines = run(home, {QStringLiteral("history"), peer});
            QCOMPARE(m_lastCode, 0);
            QCOMPARE(lines.size(), expected.size());
            for (int i = 0; i < lines.size(); ++i)
                QVERIFY2(lines.at(i).endsWith(expected.at(i)), qPrintable(lines.at(i)));
        }
    }

    void aFileGoesAcrossByteIdentical()
    {
        QByteArray bytes(700 * 1024 + 3, Qt::Uninitialized);
        for (qsizetype i = 0; i < bytes.size(); ++i)
            bytes[i] = char((i * 7919) >> 3);
        const QString path = m_dir.filePath(QStringLiteral("report.pdf"));
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QCOMPARE(file.write(bytes), bytes.size());
        }
        QByteArray out;
        QByteArray err;
        QCOMPARE(runCli(m_alice,
                        withServer({QStringLiteral("send-file"), QStringLiteral("bob"), path}),
                        &out, &err),
                 0);
        // The seq on stdout, the progress on stderr.
        bool isSeq = false;
        const quint64 seq = out.trimmed().toULongLong(&isSeq);
        QVERIFY2(isSeq && seq > 0, out.constData());
        QVERIFY2(err.contains("bytes (100%)"), err.constData());

        const QString saved = m_dir.filePath(QStringLiteral("bob-copy.pdf"));
        const QStringList lines = run(m_bob, {QStringLiteral("download"), QStringLiteral("alice"),
                                              QString::number(seq), saved});
        QCOMPARE(m_lastCode, 0);
        QCOMPARE(lines.value(0), saved);
        QFile copy(saved);
        QVERIFY(copy.open(QIODevice::ReadOnly));
        QVERIFY(copy.readAll() == bytes);
        QVERIFY(!QFile::exists(saved + QStringLiteral(".part")));

        // A download cut off before goes on from its ".part" (a Range request).
        const QString resumed = m_dir.filePath(QStringLiteral("resumed.pdf"));
        {
            QFile part(resumed + QStringLiteral(".part"));
            QVERIFY(part.open(QIODevice::WriteOnly));
            part.write(bytes.left(300 * 1024));
        }
        QCOMPARE(runCli(m_bob,
                        withServer({QStringLiteral("download"), QStringLiteral("alice"),
                                    QString::number(seq), resumed}),
                        &out, &err),
                 0);
        // The first progress line starts where the ".part" ended.
        QVERIFY2(err.startsWith("\r" + QByteArray::number(300 * 1024) + " / " +
                                QByteArray::number(bytes.size())),
                 err.left(80).constData());
        QFile whole(resumed);
        QVERIFY(whole.open(QIODevice::ReadOnly));
        QVERIFY(whole.readAll() == bytes);
        // A ".part" that is not a start of the file ends in a checksum
        // failure, and nothing under the final name.
        const QString spoiled = m_dir.filePath(QStringLiteral("spoiled.pdf"));
        {
            QFile part(spoiled + QStringLiteral(".part"));
            QVERIFY(part.open(QIODevice::WriteOnly));
            part.write(QByteArray(1000, 'x'));
        }
        QCOMPARE(runCli(m_bob,
                        withServer({QStringLiteral("download"), QStringLiteral("alice"),
                                    QString::number(seq), spoiled}),
                        &out, &err),
                 1);
        QVERIFY2(err.contains("checksum"), err.constData());
        QVERIFY(!QFile::exists(spoiled));
        QVERIFY(!QFile::exists(spoiled + QStringLiteral(".part")));

        // A message without a file, and a seq that is not there: one line each.
        run(m_bob, {QStringLiteral("download"), QStringLiteral("alice"), QStringLiteral("1")});
        QCOMPARE(m_lastCode, 1);
        run(m_bob, {QStringLiteral("download"), QStringLiteral("alice"), QStringLiteral("9999")});
        QCOMPARE(m_lastCode, 1);
    }

    // An image goes with its size and a thumbnail (the receiving bubble has
    // its shape before the download); any other file goes without.
    void anImageGoesWithItsSizeAndThumbnail()
    {
        const QString photo = m_dir.filePath(QStringLiteral("photo.png"));
        {
            QImage image(640, 400, QImage::Format_RGB32);
            for (int y = 0; y < image.height(); ++y)
                for (int x = 0; x < image.width(); ++x)
                    image.setPixel(x, y, qRgb(x % 256, y % 256, (x * y) % 256));
            QVERIFY(image.save(photo, "PNG"));
        }
        const QString notes = m_dir.filePath(QStringLiteral("notes.png"));
        {
            QFile file(notes); // named like an image, but words
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("not a picture at all");
        }
        QList<quint64> seqs;
        for (const QString &path : {photo, notes}) {
            const QStringList out =
                run(m_alice, {QStringLiteral("send-file"), QStringLiteral("bob"), path});
            QCOMPARE(m_lastCode, 0);
            seqs << out.value(0).toULongLong();
            QVERIFY(seqs.last() > 0);
        }
        run(m_bob, {QStringLiteral("history"), QStringLiteral("alice")});
        QCOMPARE(m_lastCode, 0);

        const QString accounts = m_bob + QStringLiteral("/kith/kith-cli/accounts/");
        const QString serverDir =
            QDir(accounts).entryList(QDir::Dirs | QDir::NoDotAndDotDot).value(0);
        client::LocalStore store;
        QVERIFY(store.open(accounts + serverDir + QStringLiteral("/bob.sqlite")));
        QString chat;
        for (const client::ConversationRow &row : store.conversations())
            if (row.kind == v1::DIRECT)
                chat = row.id;
        QVERIFY(!chat.isEmpty());

        const auto sent = store.message(chat, seqs.at(0));
        QVERIFY(sent && sent->content.has_file());
        const v1::FileRef &file = sent->content.file();
        QCOMPARE(file.name(), std::string("photo.png"));
        QCOMPARE(file.width(), 640u);
        QCOMPARE(file.height(), 400u);
        const QByteArray thumbnailBytes = QByteArray::fromStdString(file.thumbnail());
        QVERIFY(!thumbnailBytes.isEmpty());
        QVERIFY(thumbnailBytes.size() <= kMaxThumbnailBytes);
        const QImage thumbnail = QImage::fromData(thumbnailBytes);
        QVERIFY(!thumbnail.isNull());
        QVERIFY(thumbnail.width() <= 160 && thumbnail.height() <= 160);
        // The same shape as the photo, 16:10.
        QVERIFY2(
            qAbs(thumbnail.width() * 10 - thumbnail.height() * 16) <= 16,
            qPrintable(QStringLiteral("%1x%2").arg(thumbnail.width()).arg(thumbnail.height())));

        const auto other = store.message(chat, seqs.at(1));
        QVERIFY(other && other->content.has_file());
        QCOMPARE(other->content.file().width(), 0u);
        QCOMPARE(other->content.file().height(), 0u);
        QVERIFY(other->content.file().thumbnail().empty());
    }

    void groupsAreManaged()
    {
        QStringList out = run(m_alice, {QStringLiteral("group"), QStringLiteral("create"),
                                        QStringLiteral("team"), QStringLiteral("bob")});
        QCOMPARE(m_lastCode, 0);
        const QString group = out.value(0);
        QVERIFY2(group.startsWith(QStringLiteral("g:")), qPrintable(group));
        out = run(m_bob, {QStringLiteral("groups")});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(out.value(0).startsWith(group + QStringLiteral("\tteam\t2 members")));

        run(m_bob, {QStringLiteral("send"), QStringLiteral("team"), QStringLiteral("team hello")});
        QCOMPARE(m_lastCode, 0);
        out = run(m_alice, {QStringLiteral("history"), QStringLiteral("team")});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(!out.isEmpty());
        QVERIFY2(out.last().endsWith(QStringLiteral("bob: team hello")), qPrintable(out.last()));

        run(m_alice,
            {QStringLiteral("group"), QStringLiteral("remove"), group, QStringLiteral("bob")});
        QCOMPARE(m_lastCode, 0);
        out = run(m_bob, {QStringLiteral("groups")});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(out.isEmpty());
        run(m_alice, {QStringLiteral("group"), QStringLiteral("add"), QStringLiteral("team"),
                      QStringLiteral("bob")});
        QCOMPARE(m_lastCode, 0);
        out = run(m_bob, {QStringLiteral("groups")});
        QCOMPARE(out.size(), 1);
    }

    // avatar PATH makes and sets a picture, avatar-color the colour,
    // avatar-remove takes the picture away; others see each in the profile.
    void theAvatarIsSetAndRemoved()
    {
        const QString face = m_dir.filePath(QStringLiteral("face.png"));
        {
            QImage image(500, 300, QImage::Format_RGB32);
            image.fill(Qt::darkCyan);
            QVERIFY(image.save(face, "PNG"));
        }
        TestClient bob;
        QVERIFY(bob.connectAndLogin(m_server->url(), QStringLiteral("bob"), kPassword));
        const auto aliceAsBobSees = [&bob]() {
            v1::Envelope get;
            get.mutable_get_profile()->set_username("alice");
            const auto answer = bob.request(get);
            return answer && answer->has_user_profile() ? answer->user_profile().user()
                                                        : v1::User();
        };
        run(m_alice, {QStringLiteral("avatar"), face});
        QCOMPARE(m_lastCode, 0);
        const v1::User withPicture = aliceAsBobSees();
        QVERIFY(isValidFileId(withPicture.avatar_file_id()));
        run(m_alice, {QStringLiteral("avatar-color"), QStringLiteral("3")});
        QCOMPARE(m_lastCode, 0);
        QCOMPARE(aliceAsBobSees().avatar_color(), 3u);
        QCOMPARE(aliceAsBobSees().avatar_file_id(), withPicture.avatar_file_id());
        run(m_alice, {QStringLiteral("avatar-remove")});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(aliceAsBobSees().avatar_file_id().empty());
        QCOMPARE(aliceAsBobSees().avatar_color(), 3u);
        // Not an image, a colour out of range: refused, non-zero.
        run(m_alice, {QStringLiteral("avatar"), m_dir.filePath(QStringLiteral("nothing.png"))});
        QVERIFY(m_lastCode != 0);
        run(m_alice, {QStringLiteral("avatar-color"), QStringLiteral("99")});
        QVERIFY(m_lastCode != 0);
    }

    // group-avatar GROUP PATH makes and sets the group's picture,
    // group-avatar-color its colour, group-avatar-remove takes the picture
    // away; a member sees each in the group's state. A plain member is refused.
    void theGroupAvatarIsSetAndRemoved()
    {
        const QString face = m_dir.filePath(QStringLiteral("crest.png"));
        {
            QImage image(300, 500, QImage::Format_RGB32);
            image.fill(Qt::darkYellow);
            QVERIFY(image.save(face, "PNG"));
        }
        const QStringList created =
            run(m_alice, {QStringLiteral("group"), QStringLiteral("create"),
                          QStringLiteral("painters"), QStringLiteral("bob")});
        QCOMPARE(m_lastCode, 0);
        const QString group = created.value(0).trimmed();
        QVERIFY2(group.startsWith(u'g'), qPrintable(group));
        TestClient bob;
        QVERIFY(bob.connectAndLogin(m_server->url(), QStringLiteral("bob"), kPassword));
        const auto groupAsBobSees = [&bob, &group]() {
            const auto answer = bob.sync();
            if (answer && answer->has_sync_response())
                for (const v1::ConversationState &state : answer->sync_response().changed())
                    if (QString::fromStdString(state.id()) == group)
                        return state;
            return v1::ConversationState();
        };
        run(m_alice, {QStringLiteral("group-avatar"), group, face});
        QCOMPARE(m_lastCode, 0);
        const v1::ConversationState withPicture = groupAsBobSees();
        QVERIFY(isValidFileId(withPicture.avatar_file_id()));
        run(m_alice, {QStringLiteral("group-avatar-color"), QStringLiteral("painters"),
                      QStringLiteral("4")});
        QCOMPARE(m_lastCode, 0);
        QCOMPARE(groupAsBobSees().avatar_color(), 4u);
        QCOMPARE(groupAsBobSees().avatar_file_id(), withPicture.avatar_file_id());
        run(m_alice, {QStringLiteral("group-avatar-remove"), group});
        QCOMPARE(m_lastCode, 0);
        QVERIFY(groupAsBobSees().avatar_file_id().empty());
        QCOMPARE(groupAsBobSees().avatar_color(), 4u);
        // A plain member, a colour out of range, a direct chat: refused, non-zero.
        run(m_bob, {QStringLiteral("group-avatar-color"), group, QStringLiteral("2")});
        QVERIFY(m_lastCode != 0);
        run(m_alice, {QStringLiteral("group-avatar-color"), group, QStringLiteral("99")});
        QVERIFY(m_lastCode != 0);
        run(m_alice, {QStringLiteral("group-avatar-remove"), QStringLiteral("bob")});
        QVERIFY(m_lastCode != 0);
        QCOMPARE(groupAsBobSees().avatar_color(), 4u);
    }

    void failuresExitNonZeroWithOneLine_data()
    {
        QTest::addColumn<QString>("home");
        QTest::addColumn<QStringList>("args");
        QTest::newRow("no session") << QStringLiteral("nobody")
                                    << QStringList{QStringLiteral("--user"),
                                                   QStringLiteral("carol"), QStringLiteral("sync")};
        QTest::newRow("wrong password")
            << QStringLiteral("alice2")
            << QStringList{QStringLiteral("--user"), QStringLiteral("alice"),
                           QStringLiteral("--password"), QStringLiteral("wrong-password"),
                           QStringLiteral("sync")};
        QTest::newRow("unknown peer")
            << QStringLiteral("alice")
            << QStringList{QStringLiteral("send"), QStringLiteral("nosuchuser"),
                           QStringLiteral("x")};
        QTest::newRow("name taken")
            << QStringLiteral("other")
            << QStringList{QStringLiteral("register"), QStringLiteral("bob"), kPassword};
        QTest::newRow("unknown command")
            << QStringLiteral("alice") << QStringList{QStringLiteral("dance")};
    }

    void failuresExitNonZeroWithOneLine()
    {
        QFETCH(QString, home);
        QFETCH(QStringList, args);
        QByteArray out;
        QByteArray err;
        const int code = runCli(m_dir.filePath(home), withServer(args), &out, &err);
        QVERIFY2(code > 0, err.constData());
        QVERIFY2(err.startsWith("kith-cli: "), err.constData());
        QCOMPARE(err.count('\n'), 1);
    }

    void unreachableServerFails()
    {
        QByteArray err;
        const int code = runCli(m_alice,
                                {QStringLiteral("--server"), QStringLiteral("ws://127.0.0.1:9/"),
                                 QStringLiteral("--user"), QStringLiteral("alice"),
                                 QStringLiteral("--password"), kPassword, QStringLiteral("sync")},
                                nullptr, &err);
        QVERIFY(code > 0);
        QVERIFY2(err.contains("not reachable"), err.constData());
    }

    // A client that stops reading (here: kith-cli tail, stopped with SIGSTOP)
    // while pushes pile up for it is cut off once more than the output budget
    // waits in kithd for it; the sender meanwhile gets every ack and goes on.
    // (Whether the sender is told "offline" depends on alice's presence budget,
    // spent by the kith-cli runs above: the server's count and alice's state
    // are what say she was cut off.)
    void aReaderThatStopsReadingIsCutOffAlone()
    {
        const QString dropped = QStringLiteral("kith_slow_consumers_dropped_total");
        const double droppedBefore = m_server->metric(dropped);
        QVERIFY(droppedBefore >= 0);

        QProcess tail;
        QByteArray tailOut;
        QVERIFY(startTail(tail, m_alice, &tailOut));

        TestClient bob;
        QVERIFY(bob.connectAndLogin(m_server->url(), QStringLiteral("bob"), kPassword));
        const auto findAlice = [&bob]() -> std::optional<v1::User> {
            v1::Envelope search;
            search.mutable_search_users()->set_query("alice");
            const auto found = bob.request(search);
            if (!found || found->user_list().users_size() != 1)
                return std::nullopt;
            return found->user_list().users(0);
        };
        const auto found = findAlice();
        QVERIFY(found);
        QVERIFY2(found->online(), "alice's tail is connected");
        const quint64 alice = found->id();
        const QString chat = directConversationId(bob.userId(), alice);

        QVERIFY(::kill(pid_t(tail.processId()), SIGSTOP) == 0);
        // 480 texts of 65,000 bytes: about 31 MB, of which the kernel's socket
        // buffers hold a few; the rest would wait in kithd for the stopped reader.
        const QString text(65000, QLatin1Char('x'));
        QList<quint32> sent;
        for (int i = 0; i < 480; ++i)
            sent << bob.post(
                TestClient::sendRequest(chat, text, QStringLiteral("flood-%1").arg(i)));
        for (quint32 id : sent) {
            const auto ack = bob.waitForAnswer(id, kClientTimeoutMs);
            QVERIFY2(ack && ack->has_send_ack(), "every send is acked");
        }
        const bool cutOff = TestClient::waitUntil(
            [&] { return m_server->metric(dropped) > droppedBefore; }, kClientTimeoutMs);
        // Shown offline once kithd's presence grace has passed.
        std::optional<v1::User> aliceAfter;
        TestClient::waitUntil(
            [&] {
                aliceAfter = findAlice();
                return aliceAfter && !aliceAfter->online();
            },
            kClientTimeoutMs);
        ::kill(pid_t(tail.processId()), SIGCONT);
        tail.kill();
        tail.waitForFinished();
        QVERIFY2(cutOff, "the stopped reader was cut off");
        QVERIFY2(aliceAfter && !aliceAfter->online(), "alice is offline once cut off");
        // Bob's own session went on throughout.
        QVERIFY(bob.isConnected());
        QVERIFY(bob.send(chat, QStringLiteral("still here"), QStringLiteral("after-flood")));
    }
};

QTEST_GUILESS_MAIN(TestClientCli)
#include "tst_client_cli.moc"
