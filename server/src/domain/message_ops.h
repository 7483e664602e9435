#pragma once
// The rules of operations (edit, delete for everyone, reaction) that every
// Store backend shares: who may change which message, for how long, and what
// the target becomes. Backends load the target and write the result in the
// op's own transaction; the rules live here so two backends cannot disagree.

#include "kith/result.h"
#include "records.h"

#include <QList>

namespace kith::server {

// How long after sending a message its author may change it (0 = no limit).
struct OpWindows
{
    qint64 editMs = 48LL * 3600 * 1000;
    qint64 deleteMs = 0; // for the author; admins deleting others' are not limited
};

// The stored message an op names.
struct OpTarget
{
    quint64 senderUserId = 0;
    qint64 serverTimeMs = 0;
    v1::Content content;
};

struct OpOutcome
{
    v1::Content target;           // what the target becomes
    bool deletes = false;         // the target's content is gone: clear its edit ops too
    bool supersedesEdits = false; // earlier edit ops of the target lose their text
};

// Applies `op` (edit, delete or reaction; validated as user content) made by
// `actor` (whose role is `actorRole`, MEMBER in a direct chat) at `nowMs` as
// seq `opSeq` to `target`:
//  - NOT_FOUND when the target is not a user message (a system event,
//    another op, a deleted message): the same answer as for no message at all;
//  - PERMISSION_DENIED for someone else's message (admins and owners of a
//    group may delete it);
//  - EDIT_WINDOW_CLOSED after the author's window;
//  - TOO_MANY_REACTIONS past kMaxReactionsPerUser distinct emoji.
// Adding a reaction one has, or removing one one has not, changes nothing
// but last_op_seq.
[[nodiscard]] Result<OpOutcome> applyOperation(const OpTarget &target, const v1::Content &op,
                                               quint64 actor, v1::Role actorRole, qint64 nowMs,
                                               quint64 opSeq, const OpWindows &windows);

// Whether the content is a message an op may name (text or file, not deleted).
[[nodiscard]] bool isOpTargetable(const v1::Content &content);

} // namespace kith::server
