#include "pg_rows.h"

#include "pg_logging.h"

namespace kith::server::pg {

namespace {
constexpr int kViewLastMessageColumn = 12;
constexpr int kViewAvatarColumn = 20; // a group's picture, then its colour
} // namespace

QString displayKey(const QString &displayName)
{
    return displayName.toCaseFolded();
}

Error notFound(const QString &what)
{
    return makeError(v1::NOT_FOUND, what);
}

Error invalid(const QString &what)
{
    return makeError(v1::INVALID_ARGUMENT, what);
}

UserRecord userFromRow(const Rows &r)
{
    UserRecord user;
    user.id = r.u64(0);
    user.username = r.text(1);
    user.displayName = r.text(2);
    user.passwordHash = r.bytes(3);
    user.disabled = r.boolean(4);
    user.createdMs = r.i64(5);
    user.hidden = r.boolean(6);
    user.avatarFileId = r.text(7);
    user.avatarColor = quint32(r.i64(8));
    return user;
}

DeviceRecord deviceFromRow(const Rows &r)
{
    DeviceRecord device;
    device.id = r.u64(0);
    device.userId = r.u64(1);
    device.name = r.text(2);
    device.createdMs = r.i64(3);
    device.lastSeenMs = r.i64(4);
    device.revoked = r.boolean(5);
    return device;
}

FileRecord fileFromRow(const Rows &r)
{
    FileRecord file;
    file.id = r.text(0);
    file.uploaderId = r.u64(1);
    file.size = r.u64(2);
    file.sha256 = r.bytes(3);
    file.mimeType = r.text(4);
    file.complete = r.boolean(5);
    file.createdMs = r.i64(6);
    file.expiresMs = r.i64(7);
    file.completedMs = r.i64(8);
    return file;
}

Result<std::optional<FileRecord>> loadFile(PgConnection &c, const QString &fileId)
{
    auto r = c.query(QStringLiteral("SELECT %1 FROM files WHERE id = $1").arg(kFileColumns),
                     {fileId}, "file");
    if (!r)
        return r.error();
    if (!r->next())
        return std::optional<FileRecord>();
    return std::optional<FileRecord>(fileFromRow(*r));
}

v1::Message messageFromRow(const Rows &r, int first)
{
    v1::Message message;
    message.set_conversation_id(r.stdText(first));
    message.set_seq(r.u64(first + 1));
    message.set_server_id(r.u64(first + 2));
    message.set_sender_user_id(r.u64(first + 3));
    message.set_sender_device_id(r.u64(first + 4));
    message.set_client_msg_id(r.stdText(first + 5));
    message.set_server_time_ms(r.i64(first + 6));
    const QByteArrayView content = r.bytesView(first + 7);
    if (!message.mutable_content()->ParseFromArray(content.data(), int(content.size())))
        qCWarning(lcPostgres) << "undecodable content in" << r.text(first) << "seq"
                              << message.seq();
    return message;
}

ConversationView viewFromRow(const Rows &r, bool *isMember)
{
    ConversationView view;
    view.set_id(r.stdText(0));
    const auto kind = v1::ConversationKind(r.integer(1));
    view.set_kind(kind);
    view.set_title(r.stdText(2));
    view.set_max_seq(r.u64(3));
    view.set_metadata_version(r.u64(4));
    view.set_last_activity_ms(r.i64(5));
    *isMember = !r.isNull(6);
    if (*isMember) {
        view.set_read_seq(r.u64(8));
        // Every send moves the sender's marker to its new seq (and markers never
        // move back), so max_seq - read_seq counts exactly the others' messages.
        view.set_unread_count(view.max_seq() - std::min(view.max_seq(), view.read_seq()));
        if (kind == v1::GROUP)
            view.set_my_role(v1::Role(r.integer(7)));
    }
    if (kind == v1::DIRECT) {
        if (!r.isNull(9)) {
            view.set_peer_user_id(r.u64(9));
            view.set_peer_read_seq(r.u64(10));
        }
    } else {
        view.set_member_count(quint32(r.u64(11)));
        view.set_avatar_file_id(r.stdText(kViewAvatarColumn));
        view.set_avatar_color(quint32(r.i64(kViewAvatarColumn + 1)));
    }
    if (!r.isNull(kViewLastMessageColumn))
        *view.mutable_last_message() = messageFromRow(r, kViewLastMessageColumn);
    return view;
}

Result<UserRecord> loadUser(PgConnection &c, quint64 id)
{
    auto r = c.query(QStringLiteral("SELECT %1 FROM users WHERE id = $1").arg(kUserColumns), {id},
                     "user by id");
    if (!r)
        return r.error();
    if (!r->next())
        return notFound(QStringLiteral("no such user"));
    return userFromRow(*r);
}

Result<ConversationView> loadView(PgConnection &c, const QString &conversationId, quint64 userId,
                                  bool requireMember)
{
    auto r = c.query(
        kViewSelect +
            QStringLiteral("FROM conversations c"
                           " LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = $1"
                           " LEFT JOIN members p ON c.kind = 1 AND p.conversation_id = c.id"
                           "  AND p.user_id <> $1"
                           " LEFT JOIN messages lm ON lm.conversation_id = c.id"
                           "  AND lm.seq = c.max_seq"
                           // A direct chat exists from its first message (an
                           // append that failed may have left its row behind).
                           " WHERE c.id = $2 AND (c.kind <> 1 OR c.max_seq > 0)"),
        {userId, conversationId}, "conversation view");
    if (!r)
        return r.error();
    if (!r->next())
        return notFound(QStringLiteral("no such conversation"));
    bool isMember = false;
    ConversationView view = viewFromRow(*r, &isMember);
    if (requireMember && !isMember)
        return notFound(QStringLiteral("no such conversation"));
    return view;
}

Result<QList<MemberRow>> loadMembers(PgConnection &c, const QString &conversationId)
{
    const QString sql = QStringLiteral("SELECT user_id, role, joined_ms, joined_seq FROM members"
                                       " WHERE conversation_id = $1 ORDER BY joined_seq, user_id");
    auto r = c.query(sql, {conversationId}, "members");
    if (!r)
        return r.error();
    QList<MemberRow> rows;
    while (r->next()) {
        MemberRow row;
        row.record.userId = r->u64(0);
        row.record.role = v1::Role(r->integer(1));
        row.record.joinedMs = r->i64(2);
        row.joinedSeq = r->u64(3);
        rows.append(row);
    }
    return rows;
}

Result<std::optional<v1::Message>> loadMessageByClientId(PgConnection &c, quint64 senderUserId,
                                                         const std::string &clientMsgId)
{
    auto r = c.query(QStringLiteral("SELECT %1 FROM messages WHERE sender_user_id = $1 AND "
                                    "client_msg_id = $2")
                         .arg(kMessageColumns),
                     {senderUserId, clientMsgId}, "message by client id");
    if (!r)
        return r.error();
    if (!r->next())
        return std::optional<v1::Message>();
    return std::optional<v1::Message>(messageFromRow(*r, 0));
}

} // namespace kith::server::pg
