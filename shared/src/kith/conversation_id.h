#pragma once
// Conversation ids as the protocol spells them: "d:<low>:<high>" for a direct
// chat between two user ids (derived from the sorted pair, so either side can
// name it before it holds a message) and "g:<group id>" for a group.

#include <QString>
#include <QStringView>

#include <optional>

namespace kith {

struct ConversationRef
{
    enum class Kind { Direct, Group };
    Kind kind = Kind::Direct;
    quint64 groupId = 0;  // Group
    quint64 lowUser = 0;  // Direct: the smaller user id
    quint64 highUser = 0; // Direct: the larger user id

    [[nodiscard]] bool isDirect() const { return kind == Kind::Direct; }
    [[nodiscard]] bool involves(quint64 userId) const
    {
        return isDirect() && (userId == lowUser || userId == highUser);
    }
    // Direct: the other participant (0 when userId is not one of the two).
    [[nodiscard]] quint64 peerOf(quint64 userId) const
    {
        if (!isDirect())
            return 0;
        return userId == lowUser ? highUser : userId == highUser ? lowUser : 0;
    }
    [[nodiscard]] QString toString() const;
};

[[nodiscard]] QString directConversationId(quint64 userA, quint64 userB);
[[nodiscard]] QString groupConversationId(quint64 groupId);

// nullopt for anything that is not a well-formed id (including "d:5:5" and ids of 0).
[[nodiscard]] std::optional<ConversationRef> parseConversationId(QStringView id);

} // namespace kith
