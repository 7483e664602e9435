#pragma once
// The records kithd's storage hands to the services: users, devices, members,
// conversation views and the results of writes. Every Store backend returns
// these; the services and the domain rules read them.

#include "kith/v1/envelope.pb.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <limits>

namespace kith::server {

// The largest seq a store holds (its integers are signed 64-bit). Seqs come
// as uint64 from the wire: where they enter, larger ones are clamped to this.
inline constexpr quint64 kMaxSeq = quint64(std::numeric_limits<qint64>::max());

// Groups larger than this do not broadcast their members' presence (see
// Store::contactsOf); their members see it in the member list.
inline constexpr int kPresenceGroupLimit = 256;

struct UserRecord
{
    quint64 id = 0;
    QString username; // normalised (lower case)
    QString displayName;
    QByteArray passwordHash; // libsodium crypto_pwhash_str output
    bool disabled = false;
    qint64 createdMs = 0;
};

struct DeviceRecord
{
    quint64 id = 0;
    quint64 userId = 0;
    QString name;
    qint64 createdMs = 0;
    qint64 lastSeenMs = 0;
    bool revoked = false;
};

struct MemberRecord
{
    quint64 userId = 0;
    v1::Role role = v1::MEMBER; // MEMBER for both sides of a direct chat
    qint64 joinedMs = 0;
};

// What one user sees of one conversation (the store fills every field of the
// protocol's ConversationState except presence-derived ones).
using ConversationView = v1::ConversationState;

struct AppendResult
{
    v1::Message message;    // as stored (the original one for a duplicate)
    bool duplicate = false; // (sender, client_msg_id) was already stored
    // Who was a member when it committed (the sender included): the push goes
    // to them with no second trip to the store. Empty for a duplicate.
    QList<quint64> recipients;
};

// A group change: the new state and the system message it added to the stream.
struct GroupChange
{
    v1::ConversationState state; // as the acting user sees it
    v1::Message event;           // the SystemEvent message (seq assigned)
    QList<quint64> memberIds;    // members after the change
    QList<MemberRecord> members; // the same, with roles, in order of standing
    QList<quint64> removedIds;   // who lost access (removed / left)
    QList<quint64> addedIds;     // who gained access (createGroup: everyone, creator included)
};

struct PullPage
{
    QList<v1::Message> messages; // in the requested order
    quint64 maxSeq = 0;
    bool hasMore = false;
};

struct ReadResult
{
    quint64 readSeq = 0;     // after the update (never moves back)
    quint64 unreadCount = 0; // for the reader
    bool moved = false;      // false when the marker was already there or beyond
};

} // namespace kith::server
