#include "kith/conversation_id.h"

#include <algorithm>

namespace kith {

QString directConversationId(quint64 userA, quint64 userB)
{
    const auto [low, high] = std::minmax(userA, userB);
    return QStringLiteral("d:%1:%2").arg(low).arg(high);
}

QString groupConversationId(quint64 groupId)
{
    return QStringLiteral("g:%1").arg(groupId);
}

QString ConversationRef::toString() const
{
    return isDirect() ? directConversationId(lowUser, highUser) : groupConversationId(groupId);
}

namespace {
std::optional<quint64> parseId(QStringView digits)
{
    if (digits.isEmpty() || digits.size() > 20 || digits.startsWith(u'0'))
        return std::nullopt;
    bool ok = false;
    const quint64 value = digits.toULongLong(&ok);
    if (!ok || value == 0)
        return std::nullopt;
    for (QChar c : digits)
        if (c < u'0' || c > u'9')
            return std::nullopt;
    return value;
}
} // namespace

std::optional<ConversationRef> parseConversationId(QStringView id)
{
    if (id.size() < 3 || id.at(1) != u':')
        return std::nullopt;
    ConversationRef ref;
    if (id.at(0) == u'g') {
        const auto group = parseId(id.mid(2));
        if (!group)
            return std::nullopt;
        ref.kind = ConversationRef::Kind::Group;
        ref.groupId = *group;
        return ref;
    }
    if (id.at(0) != u'd')
        return std::nullopt;
    const QStringView rest = id.mid(2);
    const qsizetype colon = rest.indexOf(u':');
    if (colon < 0)
        return std::nullopt;
    const auto low = parseId(rest.left(colon));
    const auto high = parseId(rest.mid(colon + 1));
    if (!low || !high || *low >= *high)
        return std::nullopt;
    ref.kind = ConversationRef::Kind::Direct;
    ref.lowUser = *low;
    ref.highUser = *high;
    return ref;
}

} // namespace kith
