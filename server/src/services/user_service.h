#pragma once
// The user directory: search, profiles, setting one's own display name.
// Owned by the Server; plain service, no socket code.

#include "caller.h"

#include <QObject>

namespace kith::server {

class PresenceService;

// A display name as typed: trimmed, 1..kMaxDisplayNameChars characters, no
// control characters. INVALID_ARGUMENT otherwise.
[[nodiscard]] Result<QString> cleanDisplayName(const std::string &utf8);

class UserService : public QObject
{
    Q_OBJECT
public:
    UserService(Store &store, PresenceService &presence, QObject *parent = nullptr);

    [[nodiscard]] Result<v1::UserList> search(const Caller &caller,
                                              const v1::SearchUsersRequest &request);
    [[nodiscard]] Result<v1::UserProfile> profile(const Caller &caller,
                                                  const v1::GetProfileRequest &request);
    void setDisplayName(const Caller &caller, const v1::SetDisplayNameRequest &request,
                        QObject *context, Completion<v1::UserProfile> done);

private:
    Store &m_store;
    PresenceService &m_presence;
};

} // namespace kith::server
