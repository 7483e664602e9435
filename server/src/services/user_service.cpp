#include "user_service.h"

#include "avatar_check.h"
#include "conversation_access.h"
#include "event_router.h"
#include "kith/content.h"
#include "kith/protocol.h"
#include "logging.h"
#include "membership_cache.h"
#include "presence_service.h"
#include "rate_limit.h"

namespace kith::server {

namespace {
constexpr quint32 kDefaultSearchLimit = 20;
constexpr quint32 kMaxSearchLimit = 100; // a page of a people picker, not a dump
constexpr int kMaxSearchQueryChars = 64;

// A page's cursor, opaque to clients: "1:" or "0:" (the last user's name
// started with the query, or not) and that user's name.
std::string encodeCursor(const DirectoryCursor &cursor)
{
    return (cursor.prefix ? "1:" : "0:") + toStd(cursor.username);
}

std::optional<DirectoryCursor> decodeCursor(const std::string &text)
{
    if (text.size() < 3 || text.size() > 2 + 32 || (text[0] != '0' && text[0] != '1') ||
        text[1] != ':')
        return std::nullopt;
    DirectoryCursor cursor;
    cursor.prefix = text[0] == '1';
    cursor.username = toQString(text.substr(2));
    if (!isValidUsername(cursor.username) || normalizeUsername(cursor.username) != cursor.username)
        return std::nullopt;
    return cursor;
}
} // namespace

Result<QString> cleanDisplayName(const std::string &utf8)
{
    const QString name = toQString(utf8).trimmed();
    if (name.isEmpty() || name.size() > kMaxDisplayNameChars)
        return makeError(
            v1::INVALID_ARGUMENT,
            QStringLiteral("A display name has 1 to %1 characters").arg(kMaxDisplayNameChars));
    for (QChar c : name) {
        if (c.category() == QChar::Other_Control)
            return makeError(v1::INVALID_ARGUMENT,
                             QStringLiteral("A display name cannot hold control characters"));
    }
    return name;
}

UserService::UserService(Store &store, BlobStore &blobs, MembershipCache &members,
                         EventRouter &events, PresenceService &presence, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_blobs(blobs)
    , m_members(members)
    , m_events(events)
    , m_presence(presence)
{}

quint32 UserService::takeChange(quint64 userId)
{
    const qint64 now = monotonicMs();
    if (m_changes.size() > 10'000)
        m_changes.forgetRefilled(now);
    return m_changes.take(userId, now);
}

Result<v1::UserList> UserService::search(const Caller &caller,
                                         const v1::SearchUsersRequest &request)
{
    // An empty query lists the whole directory, a page at a time.
    const QString query = toQString(request.query()).trimmed();
    if (query.size() > kMaxSearchQueryChars)
        return makeError(
            v1::INVALID_ARGUMENT,
            QStringLiteral("A search has at most %1 characters").arg(kMaxSearchQueryChars));
    std::optional<DirectoryCursor> after;
    if (!request.page_after().empty()) {
        after = decodeCursor(request.page_after());
        if (!after)
            return makeError(v1::INVALID_ARGUMENT,
                             QStringLiteral("page_after is not a next_page this server gave"));
    }
    const quint32 limit =
        request.limit() == 0 ? kDefaultSearchLimit : qMin(request.limit(), kMaxSearchLimit);
    const Result<DirectoryPage> found = m_store.searchUsersPage(query, int(limit), after);
    if (!found)
        return storeError(found.error());
    v1::UserList list;
    for (const UserRecord &record : found->users) {
        if (record.disabled)
            continue;
        Result<v1::User> user = m_presence.toUserFor(record, caller.userId);
        if (!user)
            return storeError(user.error());
        *list.add_users() = std::move(*user);
    }
    if (found->hasMore && !found->users.isEmpty()) {
        list.set_has_more(true);
        list.set_next_page(
            encodeCursor(DirectoryCursor{found->prefix.last(), found->users.last().username}));
    }
    return list;
}

Result<v1::UserProfile> UserService::profile(const Caller &caller,
                                             const v1::GetProfileRequest &request)
{
    Result<UserRecord> record =
        makeError(v1::INVALID_ARGUMENT, QStringLiteral("Give a user id or a user name"));
    if (request.user_id() != 0)
        record = m_store.userById(request.user_id());
    else if (!request.username().empty())
        record = m_store.userByName(normalizeUsername(toQString(request.username())));
    if (!record) {
        if (record.error().code == v1::NOT_FOUND)
            return makeError(v1::NOT_FOUND, QStringLiteral("No such user"));
        return storeError(record.error());
    }
    Result<v1::User> user = m_presence.toUserFor(*record, caller.userId);
    if (!user)
        return storeError(user.error());
    v1::UserProfile profile;
    *profile.mutable_user() = std::move(*user);
    return profile;
}

void UserService::setDisplayName(const Caller &caller, const v1::SetDisplayNameRequest &request,
                                 QObject *context, Completion<v1::UserProfile> done)
{
    const Result<QString> name = cleanDisplayName(request.display_name());
    if (!name) {
        done(name.error());
        return;
    }
    if (const quint32 wait = takeChange(caller.userId))
        return done(makeError(v1::RATE_LIMITED, QStringLiteral("Too many profile changes"), wait));
    m_store.setDisplayName(
        caller.userId, *name, this,
        whileAlive<UserRecord>(context, [this, caller, done](Result<UserRecord> record) {
            if (!record)
                return done(storeError(record.error()));
            changed(caller, *record, done);
        }));
}

void UserService::setAvatar(const Caller &caller, const v1::SetAvatarRequest &request,
                            QObject *context, Completion<v1::UserProfile> done)
{
    if (const quint32 wait = takeChange(caller.userId))
        return done(makeError(v1::RATE_LIMITED, QStringLiteral("Too many profile changes"), wait));
    if (Status color = checkAvatarColor(request.color()); !color)
        return done(color.error());
    if (Status picture = checkAvatarPicture(m_store, m_blobs, caller.userId, request.file_id());
        !picture)
        return done(picture.error());
    const QString fileId = toQString(request.file_id());
    m_store.setAvatar(
        caller.userId, fileId, request.color(), this,
        whileAlive<UserRecord>(context, [this, caller, done](Result<UserRecord> record) {
            if (!record) // the file went meanwhile (the sweep): as for any file not there
                return done(record.error().code == v1::NOT_FOUND
                                ? Result<v1::UserProfile>(notOwnPicture())
                                : storeError(record.error()));
            changed(caller, *record, done);
        }));
}

void UserService::changed(const Caller &caller, const UserRecord &record,
                          Completion<v1::UserProfile> done)
{
    v1::UserProfile profile;
    *profile.mutable_user() = m_presence.toUser(record);
    // Who hears the user's presence hears this too, blockers left out.
    Result<QList<quint64>> contacts = m_members.contactsOf(record.id);
    const Result<QList<quint64>> blockers = m_members.blockersOf(record.id);
    if (contacts && blockers) {
        for (quint64 blocker : *blockers)
            contacts->removeAll(blocker);
        contacts->removeAll(record.id);
        m_events.profileChanged(ProfileChanged{profile.user(), *contacts, caller.connection});
    } else {
        qCWarning(lcPresence) << "cannot tell the contacts of" << record.id
                              << "of a profile change";
    }
    done(profile);
}

} // namespace kith::server
