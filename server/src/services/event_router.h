#pragma once
// EventRouter: where the services hand their committed domain events. It feeds
// the caches that mirror the store (group members), then turns each event into
// the pushes it means and gives them to the PushRouter. Changes of members
// go to the other nodes' caches through the router, and theirs come back to
// this node's cache the same way. Owned by Services; session loop only.

#include "events.h"

namespace kith::server {

class MembershipCache;
class PushRouter;

class EventRouter
{
public:
    EventRouter(PushRouter &router, MembershipCache &members);
    ~EventRouter();
    EventRouter(const EventRouter &) = delete;
    EventRouter &operator=(const EventRouter &) = delete;

    // Taken by value: the message moves into its push, once for all recipients.
    void messageCommitted(MessageCommitted event);
    void groupChanged(const GroupChanged &event);
    void readMoved(const ReadMoved &event);
    void chatStateChanged(const ChatStateChanged &event);
    void typingChanged(const TypingChanged &event);
    // Returns the deliveries on this node.
    int presenceChanged(const PresenceChanged &event);
    void profileChanged(const ProfileChanged &event);
    void deviceRevoked(const DeviceRevoked &event);
    // Returns how many connections were closed on this node.
    int accountDisabled(const AccountDisabled &event);

private:
    PushRouter &m_router;
    MembershipCache &m_members;
};

} // namespace kith::server
