// Group avatars on GroupService: setting and clearing a group's picture and
// colour as a change of the group (a SystemEvent in its seq stream, a new
// metadata_version, every member told), admins and owners only, the answers
// to bad input as for a user's own avatar (someone else's file, an unfinished
// and an unknown one alike), who may fetch the picture (members, not
// others), and a replaced picture collected by the sweep.

#include "service_fixture.h"

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/sha256.h"

#include <QBuffer>
#include <QImage>
#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {
constexpr qint64 kDayMs = 24ll * 3600 * 1000;

QByteArray imageBytes(QColor colour)
{
    QImage image(64, 64, QImage::Format_RGB32);
    image.fill(colour);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, "PNG");
    return bytes;
}
} // namespace

class TestGroupAvatars : public QObject
{
    Q_OBJECT

    // A finished (or unfinished) upload of `bytes` by `user`.
    static Result<QString> upload(ServiceFixture &f, quint64 user, const QByteArray &bytes,
                                  const std::string &mimeType, bool finish = true)
    {
        v1::CreateUploadRequest request;
        request.set_size(quint64(bytes.size()));
        request.set_sha256(Sha256::of(bytes).toStdString());
        request.set_mime_type(mimeType);
        const Result<v1::UploadTicket> ticket =
            await<v1::UploadTicket>([&](QObject *context, auto done) {
                f.files->createUpload(f.callerFor(user), request, context, done);
            });
        if (!ticket)
            return ticket.error();
        const QString id = toQString(ticket->upload_id());
        const Result<FileRecord> record = f.files->uploadOf(Principal{user, 0}, id);
        if (!record)
            return record.error();
        Result<std::unique_ptr<BlobStore::PartWriter>> part = f.blobs->openPart(id);
        if (!part)
            return part.error();
        if (const Status appended = (*part)->append(bytes); !appended)
            return appended.error();
        if (!finish)
            return id;
        std::unique_ptr<BlobStore::PartWriter> writer = std::move(*part);
        const Result<FileRecord> finished = await<FileRecord>([&](QObject *context, auto done) {
            f.files->finishUpload(*record, std::move(writer), std::nullopt, context, done);
        });
        if (!finished)
            return finished.error();
        return id;
    }

    static Result<v1::ConversationState> create(ServiceFixture &f, quint64 owner,
                                                const QList<quint64> &members)
    {
        v1::CreateGroupRequest request;
        request.set_name("team");
        for (quint64 id : members)
            request.add_member_user_ids(id);
        return await<v1::ConversationState>([&](QObject *context, auto done) {
            f.groups->createGroup(f.callerFor(owner), request, context, done);
        });
    }

    static Status setGroupAvatar(ServiceFixture &f, const Caller &caller, const std::string &group,
                                 const QString &fileId, quint32 color)
    {
        v1::SetGroupAvatarRequest request;
        request.set_conversation_id(group);
        request.set_file_id(toStd(fileId));
        request.set_color(color);
        return await<Done>([&](QObject *context, auto done) {
            f.groups->setGroupAvatar(caller, request, context, done);
        });
    }

    // The answer to a fetch of the file by that user: NOT_FOUND when refused,
    // ERROR_UNSPECIFIED when allowed.
    static v1::ErrorCode fetchBy(ServiceFixture &f, quint64 user, const QString &fileId)
    {
        const auto file = f.files->downloadable(Principal{user, 0}, fileId);
        return file.ok() ? v1::ERROR_UNSPECIFIED : file.error().code;
    }

    static v1::ConversationState stateOf(ServiceFixture &f, const std::string &group, quint64 user)
    {
        const Result<ConversationView> view = f.store->conversation(toQString(group), user);
        return view ? *view : v1::ConversationState();
    }

private slots:
    void setAndClearReachMembers()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 stranger = f.addUser(QStringLiteral("stranger"));
        const auto group = create(f, alice, {bob});
        QVERIFY(group.ok());
        const std::string id = group->id();
        RecordingConnection *bobPhone = f.connect(bob, 3);
        RecordingConnection *strangerPhone = f.connect(stranger, 4);
        const quint64 versionBefore = stateOf(f, id, bob).metadata_version();

        const Result<QString> picture = upload(f, alice, imageBytes(Qt::red), "image/png");
        QVERIFY(picture.ok());
        const Status set = setGroupAvatar(f, f.callerFor(alice), id, *picture, 5);
        QVERIFY2(set.ok(), qPrintable(set.ok() ? QString() : set.error().message));

        // Every member's state carries it, under a new metadata version, so
        // that a sync brings it.
        const v1::ConversationState bobs = stateOf(f, id, bob);
        QCOMPARE(toQString(bobs.avatar_file_id()), *picture);
        QCOMPARE(bobs.avatar_color(), 5u);
        QVERIFY(bobs.metadata_version() > versionBefore);
        const Result<QList<ConversationView>> listed = f.store->conversationsOf(bob);
        QVERIFY(listed.ok());
        QCOMPARE(listed->size(), 1);
        QCOMPARE(toQString(listed->at(0).avatar_file_id()), *picture);

        // Told as a group change: the event in the group's stream.
        const auto pushes = bobPhone->of(v1::Envelope::kMessage);
        QVERIFY(!pushes.isEmpty());
        const v1::Message event = pushes.last().message().message();
        QCOMPARE(event.content().system().kind(), v1::SystemEvent::GROUP_AVATAR_CHANGED);
        QCOMPARE(event.content().system().actor_user_id(), alice);
        QCOMPARE(toQString(event.content().system().avatar_file_id()), *picture);
        QCOMPARE(event.content().system().avatar_color(), 5u);
        QVERIFY(!event.content().system().color_only());
        QCOMPARE(strangerPhone->frames.size(), 0);

        // A member may fetch it; someone outside the group may not.
        QCOMPARE(fetchBy(f, bob, *picture), v1::ERROR_UNSPECIFIED);
        QCOMPARE(fetchBy(f, stranger, *picture), v1::NOT_FOUND);

        // Cleared: no picture, the colour as asked; the file is alice's own again.
        QVERIFY(setGroupAvatar(f, f.callerFor(alice), id, QString(), 7).ok());
        QVERIFY(stateOf(f, id, bob).avatar_file_id().empty());
        QCOMPARE(stateOf(f, id, bob).avatar_color(), 7u);
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage)
                     .last()
                     .message()
                     .message()
                     .content()
                     .system()
                     .avatar_file_id(),
                 "");
        QVERIFY(!bobPhone->of(v1::Envelope::kMessage)
                     .last()
                     .message()
                     .message()
                     .content()
                     .system()
                     .color_only());
        QCOMPARE(fetchBy(f, bob, *picture), v1::NOT_FOUND);
        QCOMPARE(fetchBy(f, alice, *picture), v1::ERROR_UNSPECIFIED);

        // Only the colour, with no picture before or after: said as such.
        QVERIFY(setGroupAvatar(f, f.callerFor(alice), id, QString(), 9).ok());
        const v1::SystemEvent recoloured =
            bobPhone->of(v1::Envelope::kMessage).last().message().message().content().system();
        QVERIFY(recoloured.color_only());
        QCOMPARE(recoloured.avatar_color(), 9u);
    }

    // Admins and owners only, as rename: a plain member gets what a rename
    // gets; made an admin, the same request goes through.
    void plainMembersMayNotChangeIt()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const auto group = create(f, alice, {bob});
        QVERIFY(group.ok());
        const Result<QString> bobs = upload(f, bob, imageBytes(Qt::blue), "image/png");
        QVERIFY(bobs.ok());

        v1::RenameGroupRequest rename;
        rename.set_conversation_id(group->id());
        rename.set_name("mine now");
        const Status renamed = await<Done>([&](QObject *context, auto done) {
            f.groups->renameGroup(f.callerFor(bob), rename, context, done);
        });
        QVERIFY(!renamed.ok());
        const Status refused = setGroupAvatar(f, f.callerFor(bob), group->id(), *bobs, 2);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, renamed.error().code);
        QCOMPARE(refused.error().code, v1::PERMISSION_DENIED);
        QCOMPARE(setGroupAvatar(f, f.callerFor(bob), group->id(), QString(), 2).error().code,
                 v1::PERMISSION_DENIED);
        QVERIFY(stateOf(f, group->id(), alice).avatar_file_id().empty());
        QCOMPARE(stateOf(f, group->id(), alice).avatar_color(), 0u);

        // Someone outside the group learns nothing: NOT_FOUND, as for no group.
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        QCOMPARE(setGroupAvatar(f, f.callerFor(mallory), group->id(), QString(), 1).error().code,
                 v1::NOT_FOUND);
        QCOMPARE(setGroupAvatar(f, f.callerFor(mallory), "g:999999", QString(), 1).error().code,
                 v1::NOT_FOUND);
    }

    // A hostile admin: unknown ids, other people's files and unfinished
    // uploads answer alike; non-images and colours out of range are refused;
    // a direct chat has no group avatar; nothing of it is stored.
    void refusesBadInput()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const auto group = create(f, alice, {bob});
        QVERIFY(group.ok());
        const std::string id = group->id();
        const Result<QString> bobs = upload(f, bob, imageBytes(Qt::green), "image/png");
        QVERIFY(bobs.ok());
        const Result<QString> mine = upload(f, alice, imageBytes(Qt::green), "image/png");
        QVERIFY(mine.ok());
        const quint64 eventsBefore = stateOf(f, id, alice).max_seq();

        const auto refused = [&](const QString &fileId, quint32 color) {
            const Status answer = setGroupAvatar(f, f.callerFor(alice), id, fileId, color);
            return answer ? Error{} : answer.error();
        };
        const Error unknown = refused(toQString(newFileId()), 0);
        QCOMPARE(unknown.code, v1::INVALID_ARGUMENT);
        const Error someoneElses = refused(*bobs, 0);
        QCOMPARE(someoneElses.code, unknown.code);
        QCOMPARE(someoneElses.message, unknown.message);
        QCOMPARE(refused(QStringLiteral("../../etc/passwd"), 0).message, unknown.message);
        const Result<QString> unfinished =
            upload(f, alice, imageBytes(Qt::gray), "image/png", false);
        QVERIFY(unfinished.ok());
        const Error notFinished = refused(*unfinished, 0);
        QCOMPARE(notFinished.code, unknown.code);
        QCOMPARE(notFinished.message, unknown.message);

        const Result<QString> text = upload(f, alice, QByteArray("just some text"), "text/plain");
        QVERIFY(text.ok());
        QCOMPARE(refused(*text, 0).code, v1::INVALID_ARGUMENT);
        const Result<QString> posing = upload(f, alice, QByteArray(2000, 'x'), "image/png");
        QVERIFY(posing.ok());
        QCOMPARE(refused(*posing, 0).code, v1::INVALID_ARGUMENT);
        QByteArray big = imageBytes(Qt::green);
        big.append(QByteArray(qsizetype(kMaxAvatarBytes), 'z'));
        const Result<QString> tooBig = upload(f, alice, big, "image/png");
        QVERIFY(tooBig.ok());
        QVERIFY(refused(*tooBig, 0).message.contains(QStringLiteral("1024 KiB")));
        QCOMPARE(refused(*mine, kMaxAvatarColor + 1).code, v1::INVALID_ARGUMENT);
        QCOMPARE(refused(QString(), 1000).code, v1::INVALID_ARGUMENT);

        QCOMPARE(setGroupAvatar(f, f.callerFor(alice),
                                directConversationId(alice, bob).toStdString(), *mine, 1)
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);

        const v1::ConversationState after = stateOf(f, id, alice);
        QVERIFY(after.avatar_file_id().empty());
        QCOMPARE(after.avatar_color(), 0u);
        QCOMPARE(after.max_seq(), eventsBefore);
        QCOMPARE(fetchBy(f, bob, *mine), v1::NOT_FOUND);
    }

    // The current picture is held like a sent file; the one it replaced is
    // not, and goes after the grace, its blob too.
    void replacedPictureIsCollected()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const auto group = create(f, alice, {});
        QVERIFY(group.ok());
        const QByteArray firstBytes = imageBytes(Qt::red);
        const QByteArray secondBytes = imageBytes(Qt::blue);
        const Result<QString> first = upload(f, alice, firstBytes, "image/png");
        const Result<QString> second = upload(f, alice, secondBytes, "image/png");
        QVERIFY(first.ok() && second.ok());
        QVERIFY(setGroupAvatar(f, f.callerFor(alice), group->id(), *first, 0).ok());
        QVERIFY(setGroupAvatar(f, f.callerFor(alice), group->id(), *second, 0).ok());

        const Result<SweepReport> late = await<SweepReport>([&](QObject *context, auto done) {
            f.files->sweep(nowMs() + 2 * kDayMs, context, done);
        });
        QVERIFY(late.ok());
        QCOMPARE(late->unsentFiles, 1);
        QCOMPARE(late->blobsRemoved, 1);
        QVERIFY(!f.blobs->hasBlob(Sha256::of(firstBytes)));
        QVERIFY(f.blobs->hasBlob(Sha256::of(secondBytes)));
        QVERIFY(f.store->file(*second)->has_value());
        QVERIFY(!f.store->file(*first)->has_value());
        QCOMPARE(toQString(stateOf(f, group->id(), alice).avatar_file_id()), *second);
    }
};

QTEST_GUILESS_MAIN(TestGroupAvatars)
#include "tst_group_avatars.moc"
