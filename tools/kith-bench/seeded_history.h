#pragma once
// The seeded history the latency-under-pulls and history scenarios page
// through: one group, written once and reused by later runs.

#include "scenario_common.h"

namespace kith::bench {

// The group conversation the priority and history scenarios page through. A
// feeder writes it once; DATA/kith-bench-history.tsv (next to the token cache)
// remembers its id and how many texts it holds, so later runs on the same
// data folder reuse it and only top it up.
struct SeededHistory
{
    std::string conversationId;
    int64_t texts = 0;   // feeder messages in it
    uint64_t maxSeq = 0; // its newest seq: the texts plus membership events
    bool reused = false;
};

std::string historyFile(const Options &o);

// Adds `ids` to the group (creating it when conversationId is empty) in
// requests of at most kMaxMembersPerRequest.
bool addToGroup(SetupClient &owner, std::string &conversationId, const std::vector<uint64_t> &ids,
                const std::string &groupName);

// Makes sure the history group exists on this kithd, holds at least `depth`
// feeder texts and has every reader as a member.
std::optional<SeededHistory> ensureHistory(const Options &o,
                                           const std::vector<Credentials> &readers, int depth);

} // namespace kith::bench
