#pragma once
// What the store tests share: a test object that runs a Store's writes and
// waits for them, and helpers that set up users, chats and groups through the
// Store interface alone (so they serve every backend).

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "store.h"

#include <QCryptographicHash>
#include <QTest>

#include <memory>
#include <optional>

namespace kith::server::test {

constexpr int kWaitMs = 30000; // generous: the box is shared and fsync may be slow

inline v1::Content text(const QString &body, quint64 replyTo = 0)
{
    v1::Content content;
    content.mutable_text()->set_body(body.toStdString());
    content.set_reply_to_seq(replyTo);
    return content;
}

class StoreTestBase : public QObject
{
protected:
    std::unique_ptr<Store> m_store;

    // Runs one asynchronous write and waits for its completion.
    template<class T, class Call> Result<T> wait(Call call)
    {
        std::optional<Result<T>> out;
        // Goes before `out`: a completion that comes after the wait gave up is dropped.
        QObject receiver;
        call(&receiver, [&out](Result<T> r) { out.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&out] { return out.has_value(); }, kWaitMs))
            return makeError(v1::INTERNAL, QStringLiteral("no completion"));
        return std::move(*out);
    }

    UserRecord addUser(const QString &name, const QString &display = {})
    {
        auto r = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->createUser(name, display, "hash", ctx, done);
        });
        if (!r.ok())
            qWarning() << "createUser failed" << r.error().message;
        return r.ok() ? *r : UserRecord{};
    }

    Result<AppendResult> send(const QString &conversation, quint64 sender, const QString &clientId,
                              const QString &body = QStringLiteral("hi"), quint64 replyTo = 0)
    {
        AppendRequest request;
        request.conversationId = conversation;
        request.senderUserId = sender;
        request.senderDeviceId = 1;
        request.clientMsgId = clientId.toStdString();
        request.content = text(body, replyTo);
        return wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
    }

    // An edit, delete or reaction (content from the helpers below).
    Result<AppendResult> operate(const QString &conversation, quint64 sender,
                                 const QString &clientId, const v1::Content &op,
                                 const OpWindows &windows = {})
    {
        AppendRequest request;
        request.conversationId = conversation;
        request.senderUserId = sender;
        request.senderDeviceId = 1;
        request.clientMsgId = clientId.toStdString();
        request.content = op;
        request.opWindows = windows;
        return wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
    }
    static v1::Content editOf(quint64 target, const QString &body)
    {
        v1::Content content;
        content.mutable_edit()->set_target_seq(target);
        content.mutable_edit()->set_text(body.toStdString());
        return content;
    }
    static v1::Content deletionOf(quint64 target)
    {
        v1::Content content;
        content.mutable_delete_()->set_target_seq(target);
        return content;
    }
    static v1::Content reactionTo(quint64 target, const QString &emoji, bool remove = false)
    {
        v1::Content content;
        content.mutable_reaction()->set_target_seq(target);
        content.mutable_reaction()->set_emoji(emoji.toStdString());
        content.mutable_reaction()->set_remove(remove);
        return content;
    }
    // The stored message at `seq` (an empty one when there is none).
    v1::Message messageAt(const QString &conversation, quint64 seq)
    {
        PullQuery query;
        query.conversationId = conversation;
        query.fromSeq = seq;
        query.toSeq = seq;
        query.limit = 1;
        const auto page = m_store->pull(query);
        if (!page.ok() || page->messages.isEmpty())
            return {};
        return page->messages.first();
    }

    static AppendRequest appendRequest(const QString &conversation, quint64 sender,
                                       const QString &clientId, quint64 replyTo = 0)
    {
        AppendRequest r;
        r.conversationId = conversation;
        r.senderUserId = sender;
        r.clientMsgId = clientId.toStdString();
        r.content = text(clientId, replyTo);
        return r;
    }

    // alice, bob and carol; alice and bob's direct chat (no messages yet) and
    // a group of alice (owner) and bob.
    struct ThreeUsers
    {
        UserRecord alice, bob, carol;
        QString direct, team;
    };
    ThreeUsers threeUsersAndTwoChats()
    {
        ThreeUsers t{addUser(QStringLiteral("alice")),
                     addUser(QStringLiteral("bob")),
                     addUser(QStringLiteral("carol")),
                     {},
                     {}};
        t.direct = directConversationId(t.alice.id, t.bob.id);
        const auto created = group(t.alice.id, QStringLiteral("team"), {t.bob.id});
        if (created.ok())
            t.team = QString::fromStdString(created->state.id());
        return t;
    }

    Result<GroupChange> group(quint64 owner, const QString &name, const QList<quint64> &members)
    {
        return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->createGroup(owner, name, members, ctx, done);
        });
    }

    static v1::Content pinOf(quint64 target, bool remove = false)
    {
        v1::Content content;
        content.mutable_pin()->set_target_seq(target);
        content.mutable_pin()->set_remove(remove);
        return content;
    }

    // One change of a user's chat state: mute (until), archive or hide (a seq).
    Result<v1::ChatState> chatState(const QString &conversation, quint64 user,
                                    v1::SetChatStateRequest::ChangeCase change, qint64 value)
    {
        ChatStateWrite write;
        write.conversationId = conversation;
        write.userId = user;
        write.change = change;
        write.mutedUntilMs = value;
        write.archived = value != 0;
        write.hideSeq = quint64(value);
        return wait<v1::ChatState>([&](QObject *ctx, Completion<v1::ChatState> done) {
            m_store->setChatState(write, ctx, done);
        });
    }

    Result<v1::ChatState> setBlocked(quint64 user, quint64 other, bool blocked)
    {
        return wait<v1::ChatState>([&](QObject *ctx, Completion<v1::ChatState> done) {
            m_store->setBlocked(user, other, blocked, ctx, done);
        });
    }

    Result<ReadResult> markRead(const QString &conversation, quint64 user, quint64 seq)
    {
        return wait<ReadResult>([&](QObject *ctx, Completion<ReadResult> done) {
            m_store->markRead(conversation, user, seq, ctx, done);
        });
    }

    // ---- files

    // A checksum standing for some bytes (the store never sees the bytes).
    static QByteArray digestOf(const QByteArray &bytes)
    {
        return QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
    }

    Result<UploadGrant> upload(quint64 uploader, quint64 size, const QByteArray &sha256,
                               qint64 nowMs = 1000, quint64 quota = 0, int maxUnfinished = 0,
                               qint64 lifeMs = 3'600'000)
    {
        NewUpload upload;
        upload.id = QString::fromStdString(newFileId());
        upload.uploaderId = uploader;
        upload.size = size;
        upload.sha256 = sha256;
        upload.mimeType = QStringLiteral("application/octet-stream");
        upload.nowMs = nowMs;
        upload.expiresMs = nowMs + lifeMs;
        upload.quotaBytes = quota;
        upload.maxUnfinished = maxUnfinished;
        return wait<UploadGrant>([&](QObject *ctx, Completion<UploadGrant> done) {
            m_store->createUpload(upload, ctx, done);
        });
    }

    Result<FileRecord> complete(const QString &fileId, qint64 nowMs = 2000)
    {
        return wait<FileRecord>([&](QObject *ctx, Completion<FileRecord> done) {
            m_store->completeUpload(fileId, nowMs, ctx, done);
        });
    }

    // An upload of `size` bytes with checksum `sha256`, finished.
    FileRecord finishedFile(quint64 uploader, quint64 size, const QByteArray &sha256,
                            qint64 nowMs = 1000)
    {
        const auto granted = upload(uploader, size, sha256, nowMs);
        if (!granted.ok())
            return {};
        const auto done = complete(granted->file.id, nowMs + 1);
        return done.ok() ? *done : FileRecord{};
    }

    static v1::Content fileContent(const FileRecord &file,
                                   const QString &name = QStringLiteral("a.bin"))
    {
        v1::Content content;
        v1::FileRef *ref = content.mutable_file();
        ref->set_file_id(file.id.toStdString());
        ref->set_name(name.toStdString());
        ref->set_size(file.size);
        ref->set_sha256(file.sha256.toStdString());
        return content;
    }

    Result<AppendResult> sendFile(const QString &conversation, quint64 sender,
                                  const QString &clientId, const v1::Content &content)
    {
        AppendRequest request;
        request.conversationId = conversation;
        request.senderUserId = sender;
        request.senderDeviceId = 1;
        request.clientMsgId = clientId.toStdString();
        request.content = content;
        return wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
    }

    Result<FileSweep> sweep(qint64 nowMs, qint64 graceMs, int limit = 100)
    {
        return wait<FileSweep>([&](QObject *ctx, Completion<FileSweep> done) {
            m_store->sweepFiles(nowMs, graceMs, limit, ctx, done);
        });
    }

    QList<quint64> pullAllSeqs(const QString &conversation)
    {
        QList<quint64> seqs;
        PullQuery query;
        query.conversationId = conversation;
        query.limit = kMaxPullLimit;
        for (;;) {
            const auto page = m_store->pull(query);
            if (!page.ok())
                return {};
            for (const v1::Message &m : page->messages)
                seqs.append(m.seq());
            if (!page->hasMore || page->messages.isEmpty())
                return seqs;
            query.fromSeq = page->messages.last().seq() + 1;
        }
    }
};

} // namespace kith::server::test
