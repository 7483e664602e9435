// Avatars on UserService: setting and clearing one's picture and colour, the
// answers to bad input (someone else's file and an unknown one alike, a
// non-image, a file too big, a colour out of range), the budget of changes,
// who is told (contacts and one's other connections, not strangers or
// blockers), who may fetch the picture, and a replaced picture collected
// by the sweep like any file nothing refers to.

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

QByteArray imageBytes(QColor colour, const char *format)
{
    QImage image(64, 64, QImage::Format_RGB32);
    image.fill(colour);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, format);
    return bytes;
}
} // namespace

class TestAvatars : public QObject
{
    Q_OBJECT

    // A finished upload of `bytes` by `user`, as the uploader named its type.
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

    static Result<v1::UserProfile> setAvatar(ServiceFixture &f, const Caller &caller,
                                             const QString &fileId, quint32 color)
    {
        v1::SetAvatarRequest request;
        request.set_file_id(toStd(fileId));
        request.set_color(color);
        return await<v1::UserProfile>([&](QObject *context, auto done) {
            f.users->setAvatar(caller, request, context, done);
        });
    }

    static v1::User profileOf(ServiceFixture &f, quint64 asker, quint64 user)
    {
        v1::GetProfileRequest request;
        request.set_user_id(user);
        const Result<v1::UserProfile> profile = f.users->profile(f.callerFor(asker), request);
        return profile ? profile->user() : v1::User();
    }

private slots:
    void setAndClearReachContacts()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 stranger = f.addUser(QStringLiteral("stranger"));
        QVERIFY(f.sendText(f.callerFor(alice), directConversationId(alice, bob), "a1", "hi").ok());
        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        RecordingConnection *alicePhone = f.connect(alice, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);
        RecordingConnection *strangerPhone = f.connect(stranger, 4);

        const QByteArray png = imageBytes(Qt::red, "PNG");
        const Result<QString> picture = upload(f, alice, png, "image/png");
        QVERIFY(picture.ok());
        const auto set = setAvatar(f, f.callerFor(alice, aliceLaptop), *picture, 4);
        QVERIFY2(set.ok(), qPrintable(set.ok() ? QString() : set.error().message));
        QCOMPARE(toQString(set->user().avatar_file_id()), *picture);
        QCOMPARE(set->user().avatar_color(), 4u);
        QCOMPARE(f.store->userById(alice)->avatarFileId, *picture);
        QCOMPARE(f.store->userById(alice)->avatarColor, 4u);

        // Told: the contact and alice's other connection; not the asking
        // connection (it has the answer), not a stranger.
        QCOMPARE(bobPhone->of(v1::Envelope::kProfile).size(), 1);
        const v1::User told = bobPhone->of(v1::Envelope::kProfile).at(0).profile().user();
        QCOMPARE(told.id(), alice);
        QCOMPARE(toQString(told.avatar_file_id()), *picture);
        QCOMPARE(told.avatar_color(), 4u);
        QCOMPARE(alicePhone->of(v1::Envelope::kProfile).size(), 1);
        QCOMPARE(aliceLaptop->of(v1::Envelope::kProfile).size(), 0);
        QCOMPARE(strangerPhone->of(v1::Envelope::kProfile).size(), 0);

        // Anyone who sees alice in a profile answer sees the picture and may fetch it.
        QCOMPARE(toQString(profileOf(f, stranger, alice).avatar_file_id()), *picture);
        QVERIFY(f.files->downloadable(Principal{bob, 0}, *picture).ok());
        QVERIFY(f.files->downloadable(Principal{stranger, 0}, *picture).ok());

        // A display name change is told the same way.
        v1::SetDisplayNameRequest rename;
        rename.set_display_name("Alice L.");
        QVERIFY(await<v1::UserProfile>([&](QObject *context, auto done) {
                    f.users->setDisplayName(f.callerFor(alice, aliceLaptop), rename, context, done);
                }).ok());
        QCOMPARE(bobPhone->of(v1::Envelope::kProfile).size(), 2);
        QCOMPARE(bobPhone->of(v1::Envelope::kProfile).at(1).profile().user().display_name(),
                 "Alice L.");

        // Cleared: no picture, the colour kept as asked; the file is alice's own again.
        const auto cleared = setAvatar(f, f.callerFor(alice, aliceLaptop), QString(), 4);
        QVERIFY(cleared.ok());
        QVERIFY(cleared->user().avatar_file_id().empty());
        QCOMPARE(bobPhone->of(v1::Envelope::kProfile).size(), 3);
        QVERIFY(
            bobPhone->of(v1::Envelope::kProfile).at(2).profile().user().avatar_file_id().empty());
        QCOMPARE(f.files->downloadable(Principal{stranger, 0}, *picture).error().code,
                 v1::NOT_FOUND);
        QVERIFY(f.files->downloadable(Principal{alice, 0}, *picture).ok());

        // JPEG and WebP are pictures too.
        const Result<QString> jpeg = upload(f, alice, imageBytes(Qt::blue, "JPEG"), "image/jpeg");
        QVERIFY(jpeg.ok());
        QVERIFY(setAvatar(f, f.callerFor(alice), *jpeg, 0).ok());
        QByteArray webp("RIFF\x20\0\0\0WEBPVP8 ", 16);
        webp.append(QByteArray(24, '\0'));
        const Result<QString> webpId = upload(f, alice, webp, "image/webp");
        QVERIFY(webpId.ok());
        QVERIFY(setAvatar(f, f.callerFor(alice), *webpId, 16).ok());
    }

    // A hostile client: unknown ids and other people's files answer alike,
    // non-images, files too big, unfinished uploads and colours out of range
    // are refused with INVALID_ARGUMENT, and nothing of it is stored.
    void refusesBadInput()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QByteArray png = imageBytes(Qt::green, "PNG");
        const Result<QString> bobs = upload(f, bob, png, "image/png");
        QVERIFY(bobs.ok());
        const Result<QString> mine = upload(f, alice, png, "image/png");
        QVERIFY(mine.ok());

        const auto refused = [&](const QString &fileId, quint32 color) {
            const auto answer = setAvatar(f, f.callerFor(alice), fileId, color);
            return answer ? Error{} : answer.error();
        };
        const Error unknown = refused(toQString(newFileId()), 0);
        QCOMPARE(unknown.code, v1::INVALID_ARGUMENT);
        const Error someoneElses = refused(*bobs, 0);
        QCOMPARE(someoneElses.code, unknown.code);
        QCOMPARE(someoneElses.message, unknown.message);
        QCOMPARE(refused(QStringLiteral("../../etc/passwd"), 0).message, unknown.message);
        const Result<QString> unfinished =
            upload(f, alice, imageBytes(Qt::gray, "PNG"), "image/png", false);
        QVERIFY(unfinished.ok());
        QCOMPARE(refused(*unfinished, 0).message, unknown.message);

        // Not an image: by its type, or bytes that are not what the type says.
        const Result<QString> text = upload(f, alice, QByteArray("just some text"), "text/plain");
        QVERIFY(text.ok());
        QCOMPARE(refused(*text, 0).code, v1::INVALID_ARGUMENT);
        const Result<QString> posing = upload(f, alice, QByteArray(2000, 'x'), "image/png");
        QVERIFY(posing.ok());
        const Error notImage = refused(*posing, 0);
        QCOMPARE(notImage.code, v1::INVALID_ARGUMENT);
        QVERIFY(notImage.message.contains(QStringLiteral("PNG")));
        const Result<QString> svg = upload(f, alice, QByteArray("<svg/>"), "image/svg+xml");
        QVERIFY(svg.ok());
        QCOMPARE(refused(*svg, 0).message, notImage.message);
        // A PNG's first bytes, then more than a picture may hold.
        QByteArray big = png;
        big.append(QByteArray(qsizetype(kMaxAvatarBytes), 'z'));
        const Result<QString> tooBig = upload(f, alice, big, "image/png");
        QVERIFY(tooBig.ok());
        const Error large = refused(*tooBig, 0);
        QCOMPARE(large.code, v1::INVALID_ARGUMENT);
        QVERIFY(large.message.contains(QStringLiteral("1024 KiB")));

        QCOMPARE(refused(*mine, kMaxAvatarColor + 1).code, v1::INVALID_ARGUMENT);
        QCOMPARE(refused(QString(), 1000).code, v1::INVALID_ARGUMENT);

        // Nothing of it was stored.
        QVERIFY(f.store->userById(alice)->avatarFileId.isEmpty());
        QCOMPARE(f.store->userById(alice)->avatarColor, 0u);
    }

    // Rapid changes run into the budget of profile changes (RATE_LIMITED
    // with a wait), and what was allowed is stored.
    void rapidChangesAreLimited()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        int allowed = 0;
        int limited = 0;
        quint32 last = 0;
        for (int i = 0; i < 100; ++i) {
            const quint32 color = quint32(i % 16) + 1;
            const auto answer = setAvatar(f, f.callerFor(alice), QString(), color);
            if (answer) {
                ++allowed;
                last = color;
            } else {
                QCOMPARE(answer.error().code, v1::RATE_LIMITED);
                QVERIFY(answer.error().retryAfterMs > 0);
                ++limited;
            }
        }
        QVERIFY(limited > 0);
        QVERIFY(allowed >= int(UserService::kChangeBurst));
        QVERIFY(allowed < 100);
        QCOMPARE(f.store->userById(alice)->avatarColor, last);
    }

    // As for presence: a user alice blocks shows her no picture, she is not
    // told of their changes and may not fetch it; others still may.
    void blockersSeeNoPicture()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        QVERIFY(f.sendText(f.callerFor(mallory), directConversationId(alice, mallory), "m1", "hi")
                    .ok());
        v1::BlockUserRequest block;
        block.set_user_id(mallory);
        block.set_blocked(true);
        QVERIFY(await<v1::ChatState>([&](QObject *context, auto done) {
                    f.messages->blockUser(f.callerFor(alice), block, context, done);
                }).ok());
        RecordingConnection *alicePhone = f.connect(alice, 1);

        const Result<QString> picture =
            upload(f, mallory, imageBytes(Qt::black, "PNG"), "image/png");
        QVERIFY(picture.ok());
        QVERIFY(setAvatar(f, f.callerFor(mallory), *picture, 2).ok());
        QCOMPARE(alicePhone->of(v1::Envelope::kProfile).size(), 0);
        QVERIFY(profileOf(f, alice, mallory).avatar_file_id().empty());
        QCOMPARE(f.files->downloadable(Principal{alice, 0}, *picture).error().code, v1::NOT_FOUND);
        QCOMPARE(toQString(profileOf(f, carol, mallory).avatar_file_id()), *picture);
        QVERIFY(f.files->downloadable(Principal{carol, 0}, *picture).ok());
    }

    // The current picture is held like a sent file; the one it replaced is
    // not, and goes after the grace, its blob too.
    void replacedPictureIsCollected()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const QByteArray firstBytes = imageBytes(Qt::red, "PNG");
        const QByteArray secondBytes = imageBytes(Qt::blue, "PNG");
        const Result<QString> first = upload(f, alice, firstBytes, "image/png");
        const Result<QString> second = upload(f, alice, secondBytes, "image/png");
        QVERIFY(first.ok() && second.ok());
        QVERIFY(setAvatar(f, f.callerFor(alice), *first, 0).ok());
        QVERIFY(setAvatar(f, f.callerFor(alice), *second, 0).ok());

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
        QCOMPARE(f.store->userById(alice)->avatarFileId, *second);
    }
};

QTEST_GUILESS_MAIN(TestAvatars)
#include "tst_avatars.moc"
