#pragma once
// The user directory: search, profiles, setting one's own display name and
// avatar (a picture, one of one's own files, and a colour). A change is
// pushed to the user's contacts and other connections (ProfilePush).
// Changes have a budget of their own per user, since each one is told to
// every contact. Owned by the Server; plain service, no socket code.

#include "blob_store.h"
#include "caller.h"
#include "rate_limit.h"

#include <QObject>

namespace kith::server {

class EventRouter;
class MembershipCache;
class PresenceService;

// A display name as typed: trimmed, 1..kMaxDisplayNameChars characters, no
// control characters. INVALID_ARGUMENT otherwise.
[[nodiscard]] Result<QString> cleanDisplayName(const std::string &utf8);

class UserService : public QObject
{
    Q_OBJECT
public:
    // Profile changes (display name, avatar) per user: a few at once, then
    // one every few seconds.
    static constexpr double kChangeRate = 0.5;
    static constexpr double kChangeBurst = 20;

    UserService(Store &store, BlobStore &blobs, MembershipCache &members, EventRouter &events,
                PresenceService &presence, QObject *parent = nullptr);

    [[nodiscard]] Result<v1::UserList> search(const Caller &caller,
                                              const v1::SearchUsersRequest &request);
    [[nodiscard]] Result<v1::UserProfile> profile(const Caller &caller,
                                                  const v1::GetProfileRequest &request);
    void setDisplayName(const Caller &caller, const v1::SetDisplayNameRequest &request,
                        QObject *context, Completion<v1::UserProfile> done);
    // INVALID_ARGUMENT for a colour past kMaxAvatarColor, a file that is not
    // the caller's own finished upload (the same answer for one that does
    // not exist), one over kMaxAvatarBytes, or one that is not a PNG, JPEG or
    // WebP image (its MIME type and its first bytes); RATE_LIMITED past the
    // budget of changes.
    void setAvatar(const Caller &caller, const v1::SetAvatarRequest &request, QObject *context,
                   Completion<v1::UserProfile> done);

private:
    [[nodiscard]] quint32 takeChange(quint64 userId);
    // Answers the changed profile and tells the contacts and other connections.
    void changed(const Caller &caller, const UserRecord &record, Completion<v1::UserProfile> done);

    Store &m_store;
    BlobStore &m_blobs;
    MembershipCache &m_members;
    EventRouter &m_events;
    PresenceService &m_presence;
    KeyedBucketTable<quint64> m_changes{kChangeRate, kChangeBurst};
};

} // namespace kith::server
