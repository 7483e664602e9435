#pragma once
// Services: the one composition root of kithd's use cases, built from a store,
// a blob store (files' bytes), a push router and options. The Server builds one over its store and
// the gateway's LocalPushRouter; the service tests build one over a test store and a router of
// recording connections, so both wire the services the same way. Members are declared in dependency
// order (destroyed the other way round).

#include "auth_service.h"
#include "event_router.h"
#include "file_service.h"
#include "group_service.h"
#include "membership_cache.h"
#include "message_service.h"
#include "password_hasher.h"
#include "presence_service.h"
#include "user_service.h"

namespace kith::server {

class PushRouter;

struct ServicesOptions
{
    AuthPolicy auth;
    Argon2Params argon2;
    MessagePolicy messages;
    FileOptions files;
    qint64 presenceGraceMs = PresenceService::kDefaultGraceMs;
};

class Services
{
public:
    Services(Store &store, BlobStore &blobs, PushRouter &router, const ServicesOptions &options);
    Services(const Services &) = delete;
    Services &operator=(const Services &) = delete;

    // Refuses new auth and file work (and waits for the file work under way)
    // and stops presence pushes (the store is about to close).
    void stop();

    Store &store;
    BlobStore &blobs;
    PushRouter &router;
    PasswordHasher hasher;
    MembershipCache members;
    EventRouter events;
    PresenceService presence;
    AuthService auth;
    MessageService messages;
    GroupService groups;
    UserService users;
    FileService files;
};

} // namespace kith::server
