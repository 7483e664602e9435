#include "message_ops.h"

#include "kith/content.h"
#include "kith/protocol.h"

#include <algorithm>

namespace kith::server {

namespace {
Error noSuchMessage()
{
    return makeError(v1::NOT_FOUND, QStringLiteral("No such message"));
}

bool withinWindow(qint64 windowMs, qint64 sentMs, qint64 nowMs)
{
    return windowMs <= 0 || nowMs - sentMs <= windowMs;
}

int reactionsBy(const v1::Content &content, quint64 user)
{
    int count = 0;
    for (const v1::ReactionCount &r : content.reactions())
        if (std::find(r.user_ids().begin(), r.user_ids().end(), user) != r.user_ids().end())
            ++count;
    return count;
}

bool hasReaction(const v1::Content &content, const std::string &emoji, quint64 user)
{
    for (const v1::ReactionCount &r : content.reactions())
        if (r.emoji() == emoji)
            return std::find(r.user_ids().begin(), r.user_ids().end(), user) != r.user_ids().end();
    return false;
}
} // namespace

bool isOpTargetable(const v1::Content &content)
{
    return content.kind_case() == v1::Content::kText || content.kind_case() == v1::Content::kFile;
}

Result<OpOutcome> applyOperation(const OpTarget &target, const v1::Content &op, quint64 actor,
                                 v1::Role actorRole, qint64 nowMs, quint64 opSeq,
                                 const OpWindows &windows)
{
    if (!isOpTargetable(target.content))
        return noSuchMessage();
    const bool own = target.senderUserId == actor;
    OpOutcome outcome;
    switch (op.kind_case()) {
    case v1::Content::kEdit:
        if (!own)
            return makeError(v1::PERMISSION_DENIED,
                             QStringLiteral("Only the author may edit a message"));
        if (target.content.kind_case() != v1::Content::kText)
            return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Only text can be edited"));
        if (!withinWindow(windows.editMs, target.serverTimeMs, nowMs))
            return makeError(v1::EDIT_WINDOW_CLOSED,
                             QStringLiteral("This message can no longer be edited"));
        outcome.supersedesEdits = true;
        break;
    case v1::Content::kDelete: {
        const bool admin = actorRole == v1::ADMIN || actorRole == v1::OWNER;
        if (!own && !admin)
            return makeError(v1::PERMISSION_DENIED,
                             QStringLiteral("Only the author or a group admin may delete this"));
        if (!admin && !withinWindow(windows.deleteMs, target.serverTimeMs, nowMs))
            return makeError(v1::EDIT_WINDOW_CLOSED,
                             QStringLiteral("This message can no longer be deleted"));
        outcome.deletes = true;
        outcome.supersedesEdits = true;
        break;
    }
    case v1::Content::kReaction:
        if (!op.reaction().remove() && !hasReaction(target.content, op.reaction().emoji(), actor) &&
            reactionsBy(target.content, actor) >= kMaxReactionsPerUser)
            return makeError(v1::TOO_MANY_REACTIONS,
                             QStringLiteral("At most %1 different reactions per message")
                                 .arg(kMaxReactionsPerUser));
        break;
    case v1::Content::kPin:
        break; // any member, any message of the conversation
    default:
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not an operation"));
    }
    outcome.target = target.content;
    foldOperation(outcome.target, op, actor, nowMs, opSeq);
    return outcome;
}

} // namespace kith::server
