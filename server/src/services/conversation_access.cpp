#include "conversation_access.h"

#include "kith/protocol.h"
#include "logging.h"
#include "membership_cache.h"

namespace kith::server {

namespace {
Error notFound()
{
    return makeError(v1::NOT_FOUND, QStringLiteral("No such conversation"));
}
} // namespace

namespace {
// The check, with where the answers come from left to `Source`: the store or
// the membership cache (both answer userExists and membership).
template<class Source>
Result<ConversationRef> checkAccess(Source &source, const std::string &conversationId,
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
        const Result<bool> exists = source.userExists(peer);
        if (!exists)
            return storeError(exists.error());
        if (!*exists)
            return notFound();
        return *ref;
    }
    const Result<std::optional<MemberRecord>> member = source.membership(id, userId);
    if (!member)
        return member.error().code == v1::NOT_FOUND ? notFound() : storeError(member.error());
    if (!member->has_value())
        return notFound();
    return *ref;
}

// The store as a Source.
struct StoreSource
{
    Store &store;
    Result<bool> userExists(quint64 userId)
    {
        const Result<UserRecord> user = store.userById(userId);
        if (!user)
            return user.error().code == v1::NOT_FOUND ? Result<bool>(false)
                                                      : Result<bool>(user.error());
        return true;
    }
    Result<std::optional<MemberRecord>> membership(const QString &id, quint64 userId)
    {
        return store.membership(id, userId);
    }
};
} // namespace

Result<ConversationRef> checkConversationAccess(Store &store, const std::string &conversationId,
                                                quint64 userId)
{
    StoreSource source{store};
    return checkAccess(source, conversationId, userId);
}

Result<ConversationRef> checkConversationAccess(MembershipCache &members,
                                                const std::string &conversationId, quint64 userId)
{
    return checkAccess(members, conversationId, userId);
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
    case v1::EDIT_WINDOW_CLOSED:
    case v1::TOO_MANY_REACTIONS:
        return error;
    case v1::UNAVAILABLE:
        // The database is away for now; clients retry with the same ids.
        return makeError(v1::UNAVAILABLE, QStringLiteral("Storage unavailable; retry later"),
                         error.retryAfterMs);
    default:
        qCWarning(lcSession) << "storage error:" << error.message;
        return makeError(v1::INTERNAL, QStringLiteral("Storage error; safe to retry"));
    }
}

} // namespace kith::server
