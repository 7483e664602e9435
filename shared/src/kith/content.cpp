#include "kith/content.h"

#include "kith/protocol.h"

#include <QList>
#include <QRandomGenerator>
#include <QStringDecoder>
#include <QStringList>

namespace kith {

namespace {
bool isValidUtf8(const std::string &bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder(QByteArrayView(bytes.data(), qsizetype(bytes.size())));
    return !decoder.hasError();
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

std::optional<ContentError> validateUserContent(const v1::Content &content)
{
    switch (content.kind_case()) {
    case v1::Content::kText: {
        const std::string &body = content.text().body();
        if (body.size() > size_t(kMaxTextBytes))
            return ContentError{v1::TOO_LARGE,
                                QStringLiteral("Text is longer than %1 bytes").arg(kMaxTextBytes)};
        if (!isValidUtf8(body))
            return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("Text is not valid UTF-8")};
        if (toQString(body).trimmed().isEmpty())
            return ContentError{v1::INVALID_ARGUMENT, QStringLiteral("Text is empty")};
        return std::nullopt;
    }
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
