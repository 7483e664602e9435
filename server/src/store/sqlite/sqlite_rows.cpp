#include "sqlite_rows.h"

#include <algorithm>

namespace kith::server::sqlite {

QByteArray serialize(const google::protobuf::MessageLite &message)
{
    QByteArray bytes(qsizetype(message.ByteSizeLong()), Qt::Uninitialized);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<quint8 *>(bytes.data()));
    return bytes;
}

Error notFound(const QString &what)
{
    return makeError(v1::NOT_FOUND, what);
}

Error invalid(const QString &what)
{
    return makeError(v1::INVALID_ARGUMENT, what);
}

UserRecord userFromRow(const Stmt &s)
{
    UserRecord user;
    user.id = s.u64(0);
    user.username = s.text(1);
    user.displayName = s.text(2);
    user.passwordHash = s.blob(3);
    user.disabled = s.i64(4) != 0;
    user.createdMs = s.i64(5);
    user.hidden = s.i64(6) != 0;
    user.avatarFileId = s.text(7);
    user.avatarColor = quint32(s.i64(8));
    return user;
}

DeviceRecord deviceFromRow(const Stmt &s)
{
    DeviceRecord device;
    device.id = s.u64(0);
    device.userId = s.u64(1);
    device.name = s.text(2);
    device.createdMs = s.i64(3);
    device.lastSeenMs = s.i64(4);
    device.revoked = s.i64(5) != 0;
    return device;
}

FileRecord fileFromRow(const Stmt &s)
{
    FileRecord file;
    file.id = s.text(0);
    file.uploaderId = s.u64(1);
    file.size = s.u64(2);
    file.sha256 = s.blob(3);
    file.mimeType = s.text(4);
    file.complete = s.i64(5) != 0;
    file.createdMs = s.i64(6);
    file.expiresMs = s.i64(7);
    file.completedMs = s.i64(8);
    return file;
}

Result<std::optional<FileRecord>> loadFile(Connection &c, const QString &fileId)
{
    Stmt s(c, QStringLiteral("SELECT %1 FROM files WHERE id = ?").arg(kFileColumns));
    if (!s.exec({fileId}))
        return s.error("file");
    if (!s.next())
        return std::optional<FileRecord>();
    return std::optional<FileRecord>(fileFromRow(s));
}

v1::Message messageFromRow(const Stmt &s, int first)
{
    v1::Message message;
    message.set_conversation_id(s.stdText(first));
    message.set_seq(s.u64(first + 1));
    message.set_server_id(s.u64(first + 2));
    message.set_sender_user_id(s.u64(first + 3));
    message.set_sender_device_id(s.u64(first + 4));
    message.set_client_msg_id(s.stdText(first + 5));
    message.set_server_time_ms(s.i64(first + 6));
    const QByteArrayView content = s.blobView(first + 7);
    if (!message.mutable_content()->ParseFromArray(content.data(), int(content.size())))
        qCWarning(lcStore) << "undecodable content in" << s.text(first) << "seq" << message.seq();
    return message;
}

ConversationView viewFromRow(const Stmt &s, bool *isMember)
{
    ConversationView view;
    view.set_id(s.stdText(0));
    const auto kind = v1::ConversationKind(s.integer(1));
    view.set_kind(kind);
    view.set_title(s.stdText(2));
    view.set_max_seq(s.u64(3));
    view.set_metadata_version(s.u64(4));
    view.set_last_activity_ms(s.i64(5));
    *isMember = !s.isNull(6);
    if (*isMember) {
        view.set_read_seq(s.u64(8));
        // Every send moves the sender's marker to its new seq (and markers never
        // move back), so all of the viewer's own messages are at or below
        // read_seq: max_seq - read_seq counts exactly the others' messages.
        view.set_unread_count(view.max_seq() - std::min(view.max_seq(), view.read_seq()));
        if (kind == v1::GROUP)
            view.set_my_role(v1::Role(s.integer(7)));
    }
    if (kind == v1::DIRECT) {
        if (!s.isNull(9)) {
            view.set_peer_user_id(s.u64(9));
            view.set_peer_read_seq(s.u64(10));
        }
    } else {
        view.set_member_count(quint32(s.u64(11)));
        view.set_avatar_file_id(s.stdText(kViewAvatarColumn));
        view.set_avatar_color(quint32(s.i64(kViewAvatarColumn + 1)));
    }
    if (!s.isNull(kViewLastMessageColumn))
        *view.mutable_last_message() = messageFromRow(s, kViewLastMessageColumn);
    return view;
}

Result<UserRecord> loadUser(Connection &c, quint64 id)
{
    Stmt s(c, QStringLiteral("SELECT %1 FROM users WHERE id = ?").arg(kUserColumns));
    if (!s.exec({intValue(id)}))
        return s.error("user by id");
    if (!s.next())
        return notFound(QStringLiteral("no such user"));
    return userFromRow(s);
}

Result<ConversationView> loadView(Connection &c, const QString &conversationId, quint64 userId,
                                  bool requireMember)
{
    Stmt s(c, kViewSelect + QStringLiteral(
                                "FROM conversations c"
                                " LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = ?"
                                " LEFT JOIN members p ON c.kind = 1 AND p.conversation_id = c.id"
                                "  AND p.user_id <> ?"
                                " LEFT JOIN messages lm ON lm.conversation_id = c.id"
                                "  AND lm.seq = c.max_seq"
                                " WHERE c.id = ?"));
    if (!s.exec({intValue(userId), intValue(userId), conversationId}))
        return s.error("conversation view");
    if (!s.next())
        return notFound(QStringLiteral("no such conversation"));
    bool isMember = false;
    ConversationView view = viewFromRow(s, &isMember);
    if (requireMember && !isMember)
        return notFound(QStringLiteral("no such conversation"));
    return view;
}

Result<QList<MemberRow>> loadMembers(Connection &c, const QString &conversationId)
{
    Stmt s(c, QStringLiteral("SELECT user_id, role, joined_ms, joined_seq FROM members"
                             " WHERE conversation_id = ? ORDER BY joined_seq, user_id"));
    if (!s.exec({conversationId}))
        return s.error("members");
    QList<MemberRow> rows;
    while (s.next()) {
        MemberRow row;
        row.record.userId = s.u64(0);
        row.record.role = v1::Role(s.integer(1));
        row.record.joinedMs = s.i64(2);
        row.joinedSeq = s.u64(3);
        rows.append(row);
    }
    return rows;
}

Result<std::optional<v1::Message>> loadMessageByClientId(Connection &c, quint64 senderUserId,
                                                         const std::string &clientMsgId)
{
    Stmt s(c, QStringLiteral("SELECT %1 FROM messages WHERE sender_user_id = ? AND "
                             "client_msg_id = ?")
                  .arg(kMessageColumns));
    if (!s.exec({intValue(senderUserId), clientMsgId}))
        return s.error("message by client id");
    if (!s.next())
        return std::optional<v1::Message>();
    return std::optional<v1::Message>(messageFromRow(s, 0));
}

} // namespace kith::server::sqlite
