// FileService on a real store and blob folder: finishing an upload (verified
// by SHA-256, stored as a content-addressed blob, the same bytes once), a
// wrong checksum dropping the upload with its bytes, who may fetch a file, the
// request budget, and the sweep: expired uploads and their parts, finished
// files no message carries, and blobs no file holds any more, while a blob
// some file still holds stays.

#include "service_fixture.h"

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/sha256.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {
constexpr qint64 kDayMs = 24ll * 3600 * 1000;

QByteArray bytesOf(char fill, qsizetype size)
{
    QByteArray bytes(size, fill);
    for (qsizetype i = 0; i < size; i += 97)
        bytes[i] = char(i / 97);
    return bytes;
}
} // namespace

class TestFileService : public QObject
{
    Q_OBJECT

    static Result<v1::UploadTicket> create(ServiceFixture &f, quint64 user, const QByteArray &bytes)
    {
        v1::CreateUploadRequest request;
        request.set_size(quint64(bytes.size()));
        request.set_sha256(Sha256::of(bytes).toStdString());
        return await<v1::UploadTicket>([&](QObject *context, auto done) {
            f.files->createUpload(f.callerFor(user), request, context, done);
        });
    }

    // Writes `bytes` into the upload's part and finishes it, as a transfer does.
    static Result<FileRecord> write(ServiceFixture &f, quint64 user, const QString &id,
                                    const QByteArray &bytes, bool finish = true)
    {
        const Result<FileRecord> upload = f.files->uploadOf(Principal{user, 0}, id);
        if (!upload)
            return upload.error();
        Result<std::unique_ptr<BlobStore::PartWriter>> part = f.blobs->openPart(id);
        if (!part)
            return part.error();
        if (const Status appended = (*part)->append(bytes); !appended)
            return appended.error();
        if (!finish)
            return *upload;
        std::unique_ptr<BlobStore::PartWriter> writer = std::move(*part);
        return await<FileRecord>([&](QObject *context, auto done) {
            f.files->finishUpload(*upload, std::move(writer), std::nullopt, context, done);
        });
    }

    static Result<QString> upload(ServiceFixture &f, quint64 user, const QByteArray &bytes)
    {
        const Result<v1::UploadTicket> ticket = create(f, user, bytes);
        if (!ticket)
            return ticket.error();
        const QString id = toQString(ticket->upload_id());
        const Result<FileRecord> finished = write(f, user, id, bytes);
        if (!finished)
            return finished.error();
        return id;
    }

    static Result<v1::SendAck> sendFile(ServiceFixture &f, quint64 user, const QString &chat,
                                        const QString &id, const QByteArray &bytes)
    {
        v1::SendMessageRequest request;
        request.set_conversation_id(toStd(chat));
        request.set_client_msg_id(newFileId());
        v1::FileRef *file = request.mutable_content()->mutable_file();
        file->set_file_id(toStd(id));
        file->set_name("photo.jpg");
        file->set_size(quint64(bytes.size()));
        file->set_sha256(Sha256::of(bytes).toStdString());
        return await<v1::SendAck>([&](QObject *context, auto done) {
            f.messages->send(f.callerFor(user), request, context, done);
        });
    }

    static Result<SweepReport> sweep(ServiceFixture &f, qint64 atMs)
    {
        return await<SweepReport>(
            [&](QObject *context, auto done) { f.files->sweep(atMs, context, done); });
    }

    static QStringList trashed(ServiceFixture &f)
    {
        return QDir(QDir(f.blobs->location()).filePath(QStringLiteral("trash")))
            .entryList(QDir::Files | QDir::Hidden);
    }

private slots:
    void finishedUploadBecomesOneBlob()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QByteArray bytes = bytesOf('a', 300'000);
        const Result<QString> first = upload(f, alice, bytes);
        QVERIFY2(first.ok(), qPrintable(first.ok() ? QString() : first.error().message));
        const QByteArray sum = Sha256::of(bytes);
        QVERIFY(f.blobs->hasBlob(sum));
        QVERIFY(!QFile::exists(f.blobs->partPath(*first)));
        // Stored read-only under its checksum, byte for byte.
        QFile blob(f.blobs->blobPath(sum));
        QVERIFY(blob.open(QIODevice::ReadOnly));
        QCOMPARE(blob.readAll(), bytes);

        // The same bytes from another user: a file of their own, the blob once.
        const Result<QString> second = upload(f, bob, bytes);
        QVERIFY(second.ok());
        QVERIFY(*second != *first);
        QVERIFY(f.blobs->hasBlob(sum));
        // Asking again for the same bytes answers with the finished file.
        const Result<v1::UploadTicket> again = create(f, alice, bytes);
        QVERIFY(again.ok());
        QVERIFY(again->complete());
        QCOMPARE(toQString(again->upload_id()), *first);
        QCOMPARE(again->received(), quint64(bytes.size()));
    }

    // A large part is written in pieces and handed to the disk as it grows
    // (write-behind, and a flush beside it every 64 MiB), and cut off once
    // in between, just after a flush was asked for: the bytes the blob ends
    // up with are the ones sent, in order, and the resumed part counts on
    // from the size it had.
    void largePartWrittenInPiecesAndResumedIsWhole()
    {
        FileOptions options;
        options.maxFileBytes = 200ull * 1024 * 1024;
        ServiceFixture f(AuthPolicy{}, options);
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const QByteArray bytes = bytesOf('l', 150 * 1024 * 1024 + 12'345);
        const Result<v1::UploadTicket> ticket = create(f, alice, bytes);
        QVERIFY(ticket.ok());
        const QString id = toQString(ticket->upload_id());
        const Result<FileRecord> upload = f.files->uploadOf(Principal{alice, 0}, id);
        QVERIFY(upload.ok());
        constexpr qsizetype kPiece = 3 * 1024 * 1024 + 7;
        const qsizetype cut = 97 * 1024 * 1024 + 3;
        {
            Result<std::unique_ptr<BlobStore::PartWriter>> part = f.blobs->openPart(id);
            QVERIFY(part.ok());
            for (qsizetype at = 0; at < cut; at += kPiece)
                QVERIFY((*part)->append(bytes.sliced(at, std::min(kPiece, cut - at))).ok());
        }
        Result<std::unique_ptr<BlobStore::PartWriter>> part = f.blobs->openPart(id);
        QVERIFY(part.ok());
        QCOMPARE((*part)->size(), qint64(cut));
        for (qsizetype at = cut; at < bytes.size(); at += kPiece)
            QVERIFY((*part)->append(bytes.sliced(at, std::min(kPiece, bytes.size() - at))).ok());
        const Result<QByteArray> hashed = f.blobs->hashPart(id);
        QVERIFY(hashed.ok());
        QCOMPARE(*hashed, Sha256::of(bytes));
        std::unique_ptr<BlobStore::PartWriter> writer = std::move(*part);
        const Result<FileRecord> finished = await<FileRecord>([&](QObject *context, auto done) {
            f.files->finishUpload(*upload, std::move(writer), std::nullopt, context, done);
        });
        QVERIFY2(finished.ok(), qPrintable(finished.ok() ? QString() : finished.error().message));
        QFile blob(f.blobs->blobPath(Sha256::of(bytes)));
        QVERIFY(blob.open(QIODevice::ReadOnly));
        QCOMPARE(blob.readAll(), bytes);
    }

    void wrongChecksumDropsUploadAndBytes()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const QByteArray bytes = bytesOf('b', 10'000);
        const Result<v1::UploadTicket> ticket = create(f, alice, bytes);
        QVERIFY(ticket.ok());
        const QString id = toQString(ticket->upload_id());
        QByteArray wrong = bytes;
        wrong[10] = 'X';
        const Result<FileRecord> finished = write(f, alice, id, wrong);
        QVERIFY(!finished.ok());
        QCOMPARE(finished.error().code, v1::CHECKSUM_MISMATCH);
        QVERIFY(!QFile::exists(f.blobs->partPath(id)));
        QVERIFY(!f.blobs->hasBlob(Sha256::of(wrong)));
        QVERIFY(!f.blobs->hasBlob(Sha256::of(bytes)));
        // The upload is gone (its row is dropped on the session loop).
        QVERIFY(QTest::qWaitFor(
            [&] {
                const Result<FileRecord> gone = f.files->uploadOf(Principal{alice, 0}, id);
                return !gone.ok() && gone.error().code == v1::NOT_FOUND;
            },
            kWaitMs));
    }

    // A cancelled upload's bytes go, a big part (freed in steps) as a small one.
    void cancelledUploadsLeaveNoPart()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        for (const qsizetype held : {qsizetype(5'000), qsizetype(70 * 1024 * 1024 + 17)}) {
            const QByteArray bytes = bytesOf('c', 90 * 1024 * 1024);
            const Result<v1::UploadTicket> ticket = create(f, alice, bytes);
            QVERIFY(ticket.ok());
            const QString id = toQString(ticket->upload_id());
            {
                Result<std::unique_ptr<BlobStore::PartWriter>> part = f.blobs->openPart(id);
                QVERIFY(part.ok());
                QVERIFY((*part)->append(bytes.first(held)).ok());
            }
            QCOMPARE(QFileInfo(f.blobs->partPath(id)).size(), qint64(held));
            v1::CancelUploadRequest cancel;
            cancel.set_upload_id(id.toStdString());
            const Result<Done> cancelled = await<Done>([&](QObject *context, auto done) {
                f.files->cancelUpload(f.callerFor(alice), cancel, context, done);
            });
            QVERIFY(cancelled.ok());
            QVERIFY(
                QTest::qWaitFor([&] { return !QFile::exists(f.blobs->partPath(id)); }, kWaitMs));
            QVERIFY(f.blobs->parts().isEmpty());
            const Result<FileRecord> gone = f.files->uploadOf(Principal{alice, 0}, id);
            QVERIFY(!gone.ok());
            QCOMPARE(gone.error().code, v1::NOT_FOUND);
        }
    }

    void onlyMembersAndTheUploaderMayFetch()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        const QByteArray bytes = bytesOf('c', 2000);
        const Result<QString> id = upload(f, alice, bytes);
        QVERIFY(id.ok());
        // Before any message carries it: the uploader only.
        QVERIFY(f.files->downloadable(Principal{alice, 0}, *id).ok());
        QCOMPARE(f.files->downloadable(Principal{bob, 0}, *id).error().code, v1::NOT_FOUND);
        const Result<v1::SendAck> sent =
            sendFile(f, alice, directConversationId(alice, bob), *id, bytes);
        QVERIFY2(sent.ok(), qPrintable(sent.ok() ? QString() : sent.error().message));
        QVERIFY(f.files->downloadable(Principal{bob, 0}, *id).ok());
        // An outsider gets exactly the answer for a file that does not exist.
        const Result<FileRecord> outsider = f.files->downloadable(Principal{carol, 0}, *id);
        const Result<FileRecord> missing =
            f.files->downloadable(Principal{carol, 0}, QString::fromStdString(newFileId()));
        QVERIFY(!outsider.ok() && !missing.ok());
        QCOMPARE(outsider.error().code, v1::NOT_FOUND);
        QCOMPARE(outsider.error().code, missing.error().code);
        QCOMPARE(outsider.error().message, missing.error().message);
        // Someone else's upload is not there for bob to write.
        QCOMPARE(f.files->uploadOf(Principal{bob, 0}, *id).error().code, v1::NOT_FOUND);
        // Tokens: a made-up one is refused.
        QCOMPARE(f.files->authenticate("made-up").error().code, v1::TOKEN_INVALID);
    }

    void requestsHaveABudget()
    {
        FileOptions options;
        options.requestRate = 0.001;
        options.requestBurst = 3;
        ServiceFixture f({}, options);
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        for (int i = 0; i < 3; ++i)
            QVERIFY(create(f, alice, bytesOf(char('d' + i), 10)).ok());
        const Result<v1::UploadTicket> flood = create(f, alice, bytesOf('z', 10));
        QVERIFY(!flood.ok());
        QCOMPARE(flood.error().code, v1::RATE_LIMITED);
        QVERIFY(flood.error().retryAfterMs > 0);
    }

    void sweepDropsWhatNothingRefersTo()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);

        // Sent in a message: stays.
        const QByteArray sentBytes = bytesOf('s', 4000);
        const Result<QString> sentId = upload(f, alice, sentBytes);
        QVERIFY(sentId.ok());
        QVERIFY(sendFile(f, alice, chat, *sentId, sentBytes).ok());
        // Finished, never sent: dropped after the grace, its blob too.
        const QByteArray unsentBytes = bytesOf('u', 5000);
        const Result<QString> unsentId = upload(f, alice, unsentBytes);
        QVERIFY(unsentId.ok());
        // Finished twice (alice, bob), sent by bob only: alice's file goes, the blob stays.
        const QByteArray sharedBytes = bytesOf('h', 6000);
        const Result<QString> aliceShared = upload(f, alice, sharedBytes);
        const Result<QString> bobShared = upload(f, bob, sharedBytes);
        QVERIFY(aliceShared.ok() && bobShared.ok());
        QVERIFY(sendFile(f, bob, chat, *bobShared, sharedBytes).ok());
        // Under way and never finished: dropped after its expiry, with its part.
        const QByteArray halfBytes = bytesOf('p', 7000);
        const Result<v1::UploadTicket> half = create(f, alice, halfBytes);
        QVERIFY(half.ok());
        const QString halfId = toQString(half->upload_id());
        QVERIFY(write(f, alice, halfId, halfBytes.left(3000), false).ok());
        QVERIFY(QFile::exists(f.blobs->partPath(halfId)));

        // Now: nothing is due.
        const Result<SweepReport> early = sweep(f, nowMs());
        QVERIFY(early.ok());
        QCOMPARE(early->expiredUploads, 0);
        QCOMPARE(early->unsentFiles, 0);
        QCOMPARE(early->blobsRemoved, 0);
        QVERIFY(QFile::exists(f.blobs->partPath(halfId)));

        // Two days on: past the expiry and the grace.
        const Result<SweepReport> late = sweep(f, nowMs() + 2 * kDayMs);
        QVERIFY2(late.ok(), qPrintable(late.ok() ? QString() : late.error().message));
        QCOMPARE(late->expiredUploads, 1);
        QCOMPARE(late->unsentFiles, 2);
        QCOMPARE(late->blobsRemoved, 1);
        QVERIFY(!QFile::exists(f.blobs->partPath(halfId)));
        QVERIFY(f.blobs->hasBlob(Sha256::of(sentBytes)));
        QVERIFY(!f.blobs->hasBlob(Sha256::of(unsentBytes)));
        QVERIFY(!QFile::exists(f.blobs->blobPath(Sha256::of(unsentBytes))));
        // The collected blob went by way of trash/ and is gone from there too.
        QCOMPARE(trashed(f), QStringList());
        QVERIFY(f.blobs->hasBlob(Sha256::of(sharedBytes)));
        QCOMPARE(f.files->uploadOf(Principal{alice, 0}, halfId).error().code, v1::NOT_FOUND);
        QCOMPARE(f.files->downloadable(Principal{alice, 0}, *unsentId).error().code, v1::NOT_FOUND);
        QVERIFY(f.files->downloadable(Principal{bob, 0}, *sentId).ok());
        QVERIFY(f.files->downloadable(Principal{alice, 0}, *bobShared).ok());

        // A part nothing in the store knows (left by a crash) goes too.
        const QString stray = QString::fromStdString(newFileId());
        {
            Result<std::unique_ptr<BlobStore::PartWriter>> part = f.blobs->openPart(stray);
            QVERIFY(part.ok());
            QVERIFY((*part)->append("left behind").ok());
        }
        const Result<SweepReport> strays = sweep(f, nowMs());
        QVERIFY(strays.ok());
        QCOMPARE(strays->partsRemoved, 1);
        QVERIFY(!QFile::exists(f.blobs->partPath(stray)));
    }

    // A blob whose removal a crash cut short is in trash/ under a new name:
    // it never counts as a blob, and the next open removes it.
    void openEmptiesTheTrash()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const QByteArray sum = Sha256::of("collected");
        QFile left(f.blobs->trashPath(sum));
        QVERIFY(left.open(QIODevice::WriteOnly));
        QVERIFY(left.write("collected") == 9);
        left.close();
        QVERIFY(!f.blobs->hasBlob(sum));
        QCOMPARE(trashed(f).size(), 1);
        FsBlobStore again(f.blobs->location());
        QVERIFY(again.open().ok());
        QCOMPARE(trashed(f), QStringList());
    }
};

QTEST_GUILESS_MAIN(TestFileService)
#include "tst_file_service.moc"
