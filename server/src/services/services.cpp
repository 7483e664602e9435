#include "services.h"

namespace kith::server {

Services::Services(Store &store_, BlobStore &blobs_, PushRouter &router_,
                   const ServicesOptions &options)
    : store(store_)
    , blobs(blobs_)
    , router(router_)
    , hasher(options.argon2)
    , members(store_)
    , events(router_, members)
    , presence(members, router_, events, options.presenceGraceMs)
    , auth(store_, router_, events, hasher, presence, options.auth)
    , messages(store_, members, events, options.messages)
    , groups(store_, blobs_, members, events, router_, presence)
    , users(store_, blobs_, members, events, presence)
    , files(store_, blobs_, options.files)
{}

void Services::stop()
{
    auth.stop();
    presence.stop();
    files.stop();
}

} // namespace kith::server
