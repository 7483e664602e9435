#include "conversation_access.h"

#include "kith/protocol.h"
#include "logging.h"

namespace kith::server {

namespace {
Error notFound()
{
    return makeError(v1::NOT_FOUND, QStringLiteral("No such conversation"));
}
} // namespace

Result<ConversationRef> checkConversationAccess(Store &store, const std::string &conversationId,
                                                quint64 userId)
{
    const QString id = toQString(conversationId);
    const std::optional<ConversationRef> ref = parseConversationId(id);
    if (!ref)
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Malformed conversation id"));
    if (ref->isDirect()) {
        const quint64 peer = ref->peerOf(userId);
        if (peer == 0)
            return notFound();
        const Result<UserRecord> peerRecord = store.userById(peer);
        if (!peerRecord)
            return peerRecord.error().code == v1::NOT_FOUND ? notFound()
                                                            : storeError(peerRecord.error());
        return *ref;
    }
    const Result<std::optional<MemberRecord>> member = store.membership(id, userId);
    if (!member)
        return member.error().code == v1::NOT_FOUND ? notFound() : storeError(member.error());
    if (!member->has_value())
        return notFound();
    return *ref;
}

Result<ConversationRef> parseSendTarget(const std::string &conversationId, quint64 userId)
{
    const std::optional<ConversationRef> ref = parseConversationId(toQString(conversationId));
    if (!ref)
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Malformed conversation id"));
    if (ref->isDirect() && ref->peerOf(userId) == 0)
        return notFound();
    return *ref;
}

Error storeError(const Error &error)
{
    switch (error.code) {
    case v1::NOT_FOUND:
    case v1::INVALID_ARGUMENT:
    case v1::PERMISSION_DENIED:
    case v1::NAME_TAKEN:
    case v1::TOO_LARGE:
        return error;
    default:
        qCWarning(lcSession) << "storage error:" << error.message;
        return makeError(v1::INTERNAL, QStringLiteral("Storage error; safe to retry"));
    }
}

} // namespace kith::server
