#pragma once
// Committed domain events: what the services tell the rest of kithd after a
// change is durable (or, for the ephemeral ones, as it happens). An EventRouter
// turns them into pushes; caches that mirror the store are fed by them.
// Plain values, so another node can be told the same.

#include "records.h"

#include <QList>

namespace kith::server {

// A connection anywhere: the node that holds it and its id there. Node 0 is
// this process (one node until kithd runs as several); connection 0 is none.
struct ConnectionRef
{
    quint32 node = 0;
    quint64 connection = 0;

    [[nodiscard]] bool isNone() const { return connection == 0; }
    friend bool operator==(const ConnectionRef &, const ConnectionRef &) = default;
};

// A new message is stored. `recipients` are the members at commit time (the
// sender included); `origin` has the ack and is not pushed to.
struct MessageCommitted
{
    v1::Message message;
    QList<quint64> recipients;
    ConnectionRef origin;
};

// A group changed (its event message is in the stream). `views` holds, for the
// users who gained access and are online, the group as each of them sees it.
struct GroupChanged
{
    GroupChange change;
    QList<std::pair<quint64, v1::ConversationState>> views;
    ConnectionRef origin;
};

// A user's read marker moved. `peer` is the other user of a direct chat (it
// sees a read receipt), 0 for a group.
struct ReadMoved
{
    QString conversationId;
    quint64 userId = 0;
    quint64 readSeq = 0;
    quint64 unreadCount = 0;
    quint64 peer = 0;
    ConnectionRef origin;
};

// A user changed their own chat state (mute, archive, a hidden message, a
// block): their other connections are told.
struct ChatStateChanged
{
    quint64 userId = 0;
    v1::ChatState state;
    ConnectionRef origin;
};

// Ephemeral: a member started or stopped typing. Never stored.
struct TypingChanged
{
    std::string conversationId;
    quint64 userId = 0;
    bool typing = false;
    QList<quint64> recipients; // the other members
};

// Ephemeral: a user's first connection came or the last one went.
struct PresenceChanged
{
    quint64 userId = 0;
    bool online = false;
    qint64 atMs = 0;
    QList<quint64> contacts; // who hears it
};

// A user changed their display name or avatar: their contacts (`contacts`,
// who hear their presence, blockers left out) and their own other
// connections are told.
struct ProfileChanged
{
    v1::User user;
    QList<quint64> contacts;
    ConnectionRef origin;
};

// A device was logged out or revoked: its connections close.
struct DeviceRevoked
{
    quint64 deviceId = 0;
    ConnectionRef origin; // the logging-out connection closes itself after its answer
};

// The admin disabled an account: its connections close.
struct AccountDisabled
{
    quint64 userId = 0;
};

// Group members or presence contacts changed (a group change, the first
// message of a direct chat). Another node's caches of them forget them and
// read them again when next asked; `everything`: forget all, some changes
// may have been missed (the nodes could not reach each other for a while).
struct MembershipChanged
{
    QString groupId;      // empty: no group
    QList<quint64> users; // whose presence contacts (or blockers) changed
    bool everything = false;
};

} // namespace kith::server
