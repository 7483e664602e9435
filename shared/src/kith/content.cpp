#include "kith/content.h"

#include "kith/protocol.h"

#include <QStringDecoder>

namespace kith {

namespace {
bool isValidUtf8(const std::string &bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder(QByteArrayView(bytes.data(), qsizetype(bytes.size())));
    return !decoder.hasError();
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
        return ContentError{v1::INVALID_ARGUMENT,
                            QStringLiteral("File messages are not supported by this server yet")};
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
    case v1::Content::kFile:
        return QStringLiteral("[file] ") + toQString(content.file().name());
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

} // namespace kith
