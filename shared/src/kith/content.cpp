#include "kith/content.h"

#include "kith/protocol.h"

#include <QList>
#include <QRandomGenerator>
#include <QStringDecoder>
#include <QStringList>

#include <QTextBoundaryFinder>
#include <algorithm>

namespace kith {

namespace {
bool isValidUtf8(const std::string &bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder(QByteArrayView(bytes.data(), qsizetype(bytes.size())));
    return !decoder.hasError();
}

std::optional<ContentError> validateText(const std::string &body)
{
    if (body.size() > size_t(kMaxTextBytes))
        return ContentError{v1::TOO_LARGE,
                            QStringLiteral("Text is longer than %1 bytes").arg(kMaxTextBytes)};
    if (!isValidUtf8(body))
        return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("Text is not valid UTF-8")};
    if (toQString(body).trimmed().isEmpty())
        return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("Text is empty")};
    return std::nullopt;
}

// Code points that start an emoji. Qt 6.4 has no Emoji property, so this is
// the blocks Unicode's emoji data draws from; a cluster must start with one.
bool startsEmoji(char32_t c)
{
    return (c >= 0x1F000 && c <= 0x1FAFF) || // pictographs, emoticons, transport, flags, ...
           (c >= 0x2600 && c <= 0x27BF) ||   // miscellaneous symbols, dingbats
           (c >= 0x2300 && c <= 0x23FF) ||   // technical (watch, hourglass, ...)
           (c >= 0x2B00 && c <= 0x2BFF) ||   // arrows, stars, squares
           (c >= 0x2190 && c <= 0x21FF) ||   // arrows
           (c >= 0x25A0 && c <= 0x25FF) ||   // geometric shapes
           c == 0x00A9 || c == 0x00AE || c == 0x203C || c == 0x2049 || c == 0x2122 || c == 0x2139 ||
           c == 0x24C2 || c == 0x3030 || c == 0x303D || c == 0x3297 || c == 0x3299;
}

bool isKeycap(const QList<uint> &codePoints)
{
    // 1️⃣: a digit, # or *, an optional VS16, then the combining keycap.
    if (codePoints.isEmpty())
        return false;
    const uint base = codePoints.first();
    const bool keyBase = (base >= '0' && base <= '9') || base == '#' || base == '*';
    return keyBase && codePoints.last() == 0x20E3 && codePoints.size() <= 3;
}

std::optional<ContentError> validateTarget(quint64 targetSeq, const v1::Content &content)
{
    if (targetSeq == 0)
        return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("Which message (target_seq)?")};
    if (content.reply_to_seq() != 0)
        return ContentError{v1::INVALID_ARGUMENT,
                            QStringLiteral("An edit, delete or reaction quotes nothing")};
    return std::nullopt;
}

bool hasControlCharacter(const std::string &bytes)
{
    for (unsigned char c : bytes)
        if (c < 0x20 || c == 0x7f)
            return true;
    return false;
}

bool isPrintableAscii(const std::string &bytes)
{
    for (unsigned char c : bytes)
        if (c < 0x20 || c > 0x7e)
            return false;
    return true;
}

std::optional<ContentError> invalid(const QString &message)
{
    return ContentError{v1::INVALID_ARGUMENT, message};
}

std::optional<ContentError> validateFile(const v1::FileRef &file)
{
    if (!isValidFileId(file.file_id()))
        return invalid(QStringLiteral("A file needs the id its upload was given"));
    if (file.sha256().size() != size_t(kSha256Bytes))
        return invalid(QStringLiteral("A file needs its SHA-256 (32 bytes)"));
    if (file.name().empty())
        return invalid(QStringLiteral("A file needs a name"));
    if (file.name().size() > size_t(kMaxFileNameBytes))
        return invalid(QStringLiteral("File name is longer than %1 bytes").arg(kMaxFileNameBytes));
    if (!isValidUtf8(file.name()) || hasControlCharacter(file.name()))
        return invalid(QStringLiteral("File name is not valid UTF-8 or holds control characters"));
    if (file.mime_type().size() > size_t(kMaxMimeTypeBytes) || !isPrintableAscii(file.mime_type()))
        return invalid(QStringLiteral("MIME type is not printable ASCII of at most %1 bytes")
                           .arg(kMaxMimeTypeBytes));
    if (file.thumbnail().size() > size_t(kMaxThumbnailBytes))
        return ContentError{
            v1::TOO_LARGE,
            QStringLiteral("Thumbnail is larger than %1 bytes").arg(kMaxThumbnailBytes)};
    if (file.caption().size() > size_t(kMaxTextBytes))
        return ContentError{v1::TOO_LARGE,
                            QStringLiteral("Caption is longer than %1 bytes").arg(kMaxTextBytes)};
    if (!isValidUtf8(file.caption()))
        return invalid(QStringLiteral("Caption is not valid UTF-8"));
    return std::nullopt;
}

// Characters that change how the text around them is ordered or shown
// without being seen themselves: bidirectional embeddings, overrides,
// isolates and marks, and the other format characters (zero-width ones).
bool isHiddenFormatting(char32_t c)
{
    const QChar::Category category = QChar::category(c);
    return category == QChar::Other_Format || category == QChar::Other_Control ||
           category == QChar::Other_Surrogate || category == QChar::Other_NotAssigned ||
           category == QChar::Separator_Line || category == QChar::Separator_Paragraph;
}
} // namespace

bool isSingleEmoji(const std::string &bytes)
{
    if (bytes.empty() || bytes.size() > size_t(kMaxEmojiBytes) || !isValidUtf8(bytes))
        return false;
    const QString text = toQString(bytes);
    QTextBoundaryFinder clusters(QTextBoundaryFinder::Grapheme, text);
    if (clusters.toNextBoundary() != text.size())
        return false; // more than one cluster
    const QList<uint> codePoints = text.toUcs4();
    return startsEmoji(codePoints.first()) || isKeycap(codePoints);
}

bool isOperation(const v1::Content &content)
{
    switch (content.kind_case()) {
    case v1::Content::kEdit:
    case v1::Content::kDelete:
    case v1::Content::kReaction:
    case v1::Content::kPin:
        return true;
    default:
        return false;
    }
}

quint64 operationTarget(const v1::Content &content)
{
    switch (content.kind_case()) {
    case v1::Content::kEdit:
        return content.edit().target_seq();
    case v1::Content::kDelete:
        return content.delete_().target_seq();
    case v1::Content::kReaction:
        return content.reaction().target_seq();
    case v1::Content::kPin:
        return content.pin().target_seq();
    default:
        return 0;
    }
}

namespace {
// The text a content's mentions point into; nullptr for kinds that carry none.
const std::string *mentionableText(const v1::Content &content)
{
    switch (content.kind_case()) {
    case v1::Content::kText:
        return &content.text().body();
    case v1::Content::kFile:
        return &content.file().caption();
    case v1::Content::kEdit:
        return &content.edit().text();
    default:
        return nullptr;
    }
}

bool isUtf8Boundary(const std::string &text, size_t at)
{
    return at == text.size() || (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
}

std::optional<ContentError> validateMentions(const v1::Content &content)
{
    if (content.mentions_size() == 0)
        return std::nullopt;
    // The count first: a hostile list is refused before anything in it is looked at.
    if (content.mentions_size() > kMaxMentions)
        return invalid(QStringLiteral("At most %1 mentions in a message").arg(kMaxMentions));
    const std::string *text = mentionableText(content);
    if (!text)
        return invalid(QStringLiteral("Only a text, a caption or an edit mentions anyone"));
    for (const v1::Mention &mention : content.mentions()) {
        if (mention.user_id() == 0)
            return invalid(QStringLiteral("A mention names a user (user_id)"));
        if (mention.offset() == 0 && mention.length() == 0)
            continue; // no place given
        const size_t begin = mention.offset();
        const size_t end = begin + mention.length();
        if (mention.length() == 0 || end > text->size() || !isUtf8Boundary(*text, begin) ||
            !isUtf8Boundary(*text, end))
            return invalid(QStringLiteral("A mention's offset and length are not in the text"));
    }
    return std::nullopt;
}

std::optional<ContentError> validateKind(const v1::Content &content)
{
    switch (content.kind_case()) {
    case v1::Content::kText:
        return validateText(content.text().body());
    case v1::Content::kEdit:
        if (auto bad = validateTarget(content.edit().target_seq(), content))
            return bad;
        return validateText(content.edit().text());
    case v1::Content::kDelete:
        return validateTarget(content.delete_().target_seq(), content);
    case v1::Content::kReaction:
        if (auto bad = validateTarget(content.reaction().target_seq(), content))
            return bad;
        if (!isSingleEmoji(content.reaction().emoji()))
            return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("A reaction is one emoji")};
        return std::nullopt;
    case v1::Content::kPin:
        return validateTarget(content.pin().target_seq(), content);
    case v1::Content::kDeleted:
        return ContentError{v1::INVALID_ARGUMENT,
                            QStringLiteral("Tombstones are made by the server only")};
    case v1::Content::kFile:
        return validateFile(content.file());
    case v1::Content::kSystem:
        return ContentError{v1::INVALID_ARGUMENT,
                            QStringLiteral("System events are made by the server only")};
    case v1::Content::KIND_NOT_SET:
        break;
    }
    return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("Message has no content")};
}
} // namespace

std::optional<ContentError> validateUserContent(const v1::Content &content)
{
    if (content.edited_ms() != 0 || content.reactions_size() != 0 || content.last_op_seq() != 0 ||
        content.pinned_ms() != 0 || content.pinned_by_user_id() != 0)
        return ContentError{v1::INVALID_ARGUMENT,
                            QStringLiteral("edited_ms, reactions, last_op_seq and the pin are set "
                                           "by the server only")};
    if (auto bad = validateMentions(content))
        return bad;
    return validateKind(content);
}

bool mentionsUser(const v1::Content &content, quint64 userId)
{
    if (userId == 0 || content.kind_case() == v1::Content::kDeleted)
        return false;
    return std::any_of(content.mentions().begin(), content.mentions().end(),
                       [userId](const v1::Mention &m) { return m.user_id() == userId; });
}

QList<quint64> mentionedUsers(const v1::Content &content)
{
    QList<quint64> users;
    for (const v1::Mention &mention : content.mentions())
        if (!users.contains(mention.user_id()))
            users.append(mention.user_id());
    return users;
}

void foldOperation(v1::Content &target, const v1::Content &op, quint64 actor, qint64 timeMs,
                   quint64 opSeq)
{
    switch (op.kind_case()) {
    case v1::Content::kEdit:
        if (!op.edit().text().empty() && target.kind_case() == v1::Content::kText) {
            target.mutable_text()->set_body(op.edit().text());
            // The new text's mentions replace the old ones (none: none left).
            *target.mutable_mentions() = op.mentions();
            target.set_edited_ms(timeMs);
        }
        break;
    case v1::Content::kDelete:
        // A new content, not a cleared one: nothing of the old (reply quote,
        // edit time, reactions) is carried over.
        target = v1::Content();
        target.mutable_deleted()->set_deleted_ms(timeMs);
        target.mutable_deleted()->set_by_user_id(actor);
        break;
    case v1::Content::kReaction: {
        const v1::Reaction &reaction = op.reaction();
        auto *list = target.mutable_reactions();
        auto entry = std::find_if(list->begin(), list->end(), [&](const v1::ReactionCount &r) {
            return r.emoji() == reaction.emoji();
        });
        if (reaction.remove()) {
            if (entry == list->end())
                break;
            auto *users = entry->mutable_user_ids();
            const auto user = std::find(users->begin(), users->end(), actor);
            if (user != users->end())
                users->erase(user);
            if (users->empty())
                list->erase(entry);
            break;
        }
        if (entry == list->end()) {
            v1::ReactionCount *added = list->Add();
            added->set_emoji(reaction.emoji());
            added->add_user_ids(actor);
        } else if (std::find(entry->user_ids().begin(), entry->user_ids().end(), actor) ==
                   entry->user_ids().end()) {
            entry->add_user_ids(actor);
        }
        break;
    }
    case v1::Content::kPin:
        if (op.pin().remove()) {
            target.clear_pinned_ms();
            target.clear_pinned_by_user_id();
        } else if (target.pinned_ms() == 0) {
            target.set_pinned_ms(timeMs);
            target.set_pinned_by_user_id(actor);
        }
        break;
    default:
        return;
    }
    target.set_last_op_seq(opSeq);
}

bool isValidClientMsgId(const std::string &id)
{
    if (id.empty() || id.size() > size_t(kMaxClientMsgIdBytes))
        return false;
    for (char c : id)
        if (c < 0x21 || c > 0x7e)
            return false;
    return true;
}

bool isValidUsername(const QString &name)
{
    if (name.size() < 3 || name.size() > 32)
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        const QChar c = name.at(i);
        const bool alnum = (c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9');
        if (alnum)
            continue;
        if (i == 0 || (c != u'.' && c != u'_' && c != u'-'))
            return false;
    }
    return true;
}

QString normalizeUsername(const QString &name)
{
    return name.trimmed().toLower();
}

QString previewText(const v1::Content &content)
{
    switch (content.kind_case()) {
    case v1::Content::kText: {
        QString text = toQString(content.text().body()).simplified();
        if (text.size() > 120)
            text = text.left(119) + QChar(0x2026);
        return text;
    }
    case v1::Content::kFile: {
        const v1::FileRef &file = content.file();
        QString caption = toQString(file.caption()).simplified();
        if (caption.size() > 100)
            caption = caption.left(99) + QChar(0x2026);
        const QString mime = toQString(file.mime_type());
        QString what;
        if (file.voice_note())
            what = QStringLiteral("Voice message");
        else if (mime.startsWith(QLatin1String("image/")))
            what = QStringLiteral("Photo");
        else
            what = displayFileName(toQString(file.name()), 60);
        return caption.isEmpty() ? what : what + QStringLiteral(": ") + caption;
    }
    case v1::Content::kDeleted:
        return QStringLiteral("Message deleted");
    case v1::Content::kEdit:
        return QStringLiteral("Edited a message");
    case v1::Content::kDelete:
        return QStringLiteral("Deleted a message");
    case v1::Content::kReaction:
        return QStringLiteral("Reacted ") + toQString(content.reaction().emoji());
    case v1::Content::kPin:
        return content.pin().remove() ? QStringLiteral("Unpinned a message")
                                      : QStringLiteral("Pinned a message");
    case v1::Content::kSystem:
        switch (content.system().kind()) {
        case v1::SystemEvent::GROUP_CREATED:
            return QStringLiteral("Group created");
        case v1::SystemEvent::MEMBERS_ADDED:
            return QStringLiteral("Members added");
        case v1::SystemEvent::MEMBER_REMOVED:
            return QStringLiteral("Member removed");
        case v1::SystemEvent::MEMBER_LEFT:
            return QStringLiteral("Member left");
        case v1::SystemEvent::GROUP_RENAMED:
            return QStringLiteral("Renamed to ") + toQString(content.system().name());
        case v1::SystemEvent::GROUP_AVATAR_CHANGED:
            if (content.system().color_only())
                return QStringLiteral("Group colour changed");
            return content.system().avatar_file_id().empty()
                       ? QStringLiteral("Group picture removed")
                       : QStringLiteral("Group picture changed");
        default:
            return QStringLiteral("Group event");
        }
    case v1::Content::KIND_NOT_SET:
        break;
    }
    return {};
}

bool isValidFileId(std::string_view id)
{
    if (id.size() != size_t(kFileIdChars))
        return false;
    for (char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

std::string newFileId()
{
    QByteArray bytes(16, Qt::Uninitialized);
    // QRandomGenerator::system() reads the operating system's generator: not guessable.
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), 4);
    return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals)
        .toStdString();
}

QString displayFileName(const QString &name, int maxChars)
{
    QString shown;
    shown.reserve(name.size());
    for (const char32_t c : name.toUcs4()) {
        if (isHiddenFormatting(c))
            continue;
        shown += QString::fromUcs4(&c, 1);
    }
    shown = shown.simplified();
    if (shown.isEmpty())
        return QStringLiteral("file");
    maxChars = std::max(maxChars, 8);
    if (shown.size() <= maxChars)
        return shown;
    // Keep the extension: "a very long name….pdf".
    const qsizetype dot = shown.lastIndexOf(u'.');
    const qsizetype extension = dot > 0 && shown.size() - dot <= 10 ? shown.size() - dot : 0;
    const qsizetype head = maxChars - 1 - extension;
    return shown.left(head) + QChar(0x2026) + shown.right(extension);
}

QString safeLocalFileName(const QString &name)
{
    QString safe = displayFileName(name, 200);
    for (QChar &c : safe) {
        if (c == u'/' || c == u'\\' || c == u':' || c == u'*' || c == u'?' || c == u'"' ||
            c == u'<' || c == u'>' || c == u'|')
            c = u'_';
    }
    while (safe.startsWith(u'.') || safe.startsWith(u' '))
        safe.remove(0, 1);
    while (safe.endsWith(u'.') || safe.endsWith(u' '))
        safe.chop(1);
    // Names Windows reserves for devices, whatever their extension.
    static const QStringList reserved = {QStringLiteral("con"), QStringLiteral("prn"),
                                         QStringLiteral("aux"), QStringLiteral("nul")};
    const QString stem = safe.section(u'.', 0, 0).toLower();
    if (reserved.contains(stem) ||
        ((stem.startsWith(QLatin1String("com")) || stem.startsWith(QLatin1String("lpt"))) &&
         stem.size() == 4 && stem.at(3).isDigit()))
        safe.prepend(u'_');
    // At most 200 bytes of UTF-8, cut at a character boundary.
    while (safe.toUtf8().size() > 200)
        safe = safe.left(safe.size() - 1);
    return safe.isEmpty() ? QStringLiteral("file") : safe;
}

} // namespace kith
