// kith-bench reactions: one message in a big group, and every member reacts to
// it at once. Each reaction is an op in the group's seq stream, pushed to every
// other member; the scenario checks that each member got every other member's
// reaction exactly once and reports how long the acks and the whole wave took.

#include "scenario_common.h"

#include "kith/protocol.h"

#include <algorithm>
#include <memory>
#include <sstream>
#include <unordered_set>

namespace kith::bench {

namespace {
double percentile(std::vector<double> values, double p)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const size_t at = std::min(values.size() - 1, size_t(p * double(values.size() - 1) + 0.5));
    return values[at];
}

std::string joined(const std::vector<double> &values)
{
    std::ostringstream out;
    for (size_t i = 0; i < values.size(); ++i)
        out << (i ? "," : "") << values[i];
    return out.str();
}

void appendSplit(std::vector<double> &into, const std::string &text)
{
    std::istringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty())
            into.push_back(std::stod(item));
}
} // namespace

int runReactions(const Options &o)
{
    if (o.members < 2) {
        fail("reactions needs at least two members");
        return 2;
    }
    const auto users = usersFor(o, "br", o.members);
    if (!users)
        return 2;

    std::string groupId;
    uint64_t targetSeq = 0;
    {
        SetupClient owner((*users)[0], o.target);
        if (!owner.waitReady()) {
            fail("the group owner could not log in: " + owner.session().failure());
            return 2;
        }
        for (int first = 1; first < o.members; first += kMaxMembersPerRequest) {
            v1::Envelope env;
            const int last = std::min(o.members, first + kMaxMembersPerRequest);
            google::protobuf::RepeatedField<uint64_t> *ids = nullptr;
            if (groupId.empty()) {
                env.mutable_create_group()->set_name("kith-bench reactions " + o.runTag);
                ids = env.mutable_create_group()->mutable_member_user_ids();
            } else {
                env.mutable_add_members()->set_conversation_id(groupId);
                ids = env.mutable_add_members()->mutable_user_ids();
            }
            for (int i = first; i < last; ++i)
                ids->Add((*users)[size_t(i)].userId);
            const auto answer = owner.request(env);
            if (!answer || answer->body_case() == v1::Envelope::kError) {
                fail("creating the group failed" +
                     (answer ? ": " + answer->error().message() : std::string()));
                return 2;
            }
            if (groupId.empty())
                groupId = answer->conversation().state().id();
        }
        v1::Envelope env;
        env.mutable_send()->set_conversation_id(groupId);
        env.mutable_send()->set_client_msg_id(o.runTag + "-target");
        env.mutable_send()->mutable_content()->mutable_text()->set_body("react to this");
        const auto ack = owner.request(env);
        if (!ack || ack->body_case() != v1::Envelope::kSendAck) {
            fail("the message to react to was not sent" +
                 (ack && ack->body_case() == v1::Envelope::kError ? ": " + ack->error().message()
                                                                  : std::string()));
            return 2;
        }
        targetSeq = ack->send_ack().seq();
    }

    // Members react in turn from a short list, so counts per emoji stay small.
    static const char *const kEmoji[] = {"\U0001F44D", "\u2764\uFE0F", "\U0001F602", "\U0001F389"};
    const int workers = workerCount(o, o.members, o.members);
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    WorkerPool pool;
    const bool started = pool.start(workers, o.deadlineSeconds, [&](WorkerLink &link) {
        const auto [first, end] = link.slice(o.members);
        EventLoop loop;
        std::vector<std::unique_ptr<KithSession>> sessions;
        std::vector<std::unordered_set<uint64_t>> seen(size_t(end - first));
        std::vector<double> ackMs, waveMs;
        int ready = 0, failed = 0;
        int64_t duplicates = 0, errors = 0, acks = 0;
        int64_t pending = int64_t(end - first) * (o.members - 1);
        int64_t start = 0;
        for (int i = first; i < end; ++i) {
            sessions.push_back(std::make_unique<KithSession>(loop, (*users)[size_t(i)]));
            sessions.back()->onReady = [&](KithSession &) { ++ready; };
            sessions.back()->onFailed = [&](KithSession &s) {
                if (failed++ == 0)
                    fail("member failed: " + s.failure());
            };
            sessions.back()->onEnvelope = [&, slot = size_t(i - first)](KithSession &,
                                                                        const v1::Envelope &in) {
                if (in.body_case() == v1::Envelope::kError) {
                    ++errors;
                    return;
                }
                if (in.body_case() == v1::Envelope::kSendAck) {
                    ++acks;
                    ackMs.push_back(double(monoNs() - start) / 1e6);
                    return;
                }
                if (in.body_case() != v1::Envelope::kMessage)
                    return;
                const v1::Message &m = in.message().message();
                if (m.conversation_id() != groupId || !m.content().has_reaction() ||
                    m.content().reaction().target_seq() != targetSeq)
                    return;
                if (!seen[slot].insert(m.sender_user_id()).second) {
                    ++duplicates;
                    return;
                }
                --pending;
                if (int64_t(seen[slot].size()) == o.members - 1)
                    waveMs.push_back(double(monoNs() - start) / 1e6);
            };
        }
        connectBounded(
            loop, sessions.size(),
            [&](size_t i) { sessions[i]->start(o.target, sourceAddress(size_t(first) + i)); },
            ready, failed, deadline);
        link.report({{"ready", std::to_string(ready)}, {"failed", std::to_string(failed)}});
        if (link.waitCommand() != 'g')
            return 1;
        start = monoNs();
        for (size_t i = 0; i < sessions.size(); ++i) {
            v1::Envelope env;
            env.set_request_id(sessions[i]->nextRequestId());
            auto *send = env.mutable_send();
            send->set_conversation_id(groupId);
            send->set_client_msg_id(o.runTag + "-r-" + std::to_string(size_t(first) + i));
            auto *reaction = send->mutable_content()->mutable_reaction();
            reaction->set_target_seq(targetSeq);
            reaction->set_emoji(kEmoji[(size_t(first) + i) % std::size(kEmoji)]);
            sessions[i]->send(env);
        }
        loop.runUntil([&] { return pending == 0 && acks + errors == int64_t(sessions.size()); },
                      std::min(deadline, start + kDrainNs), [] {});
        link.report({{"missing", std::to_string(pending)},
                     {"duplicates", std::to_string(duplicates)},
                     {"errors", std::to_string(errors)},
                     {"failed", std::to_string(failed)},
                     {"acks", std::to_string(acks)},
                     {"ack_ms", joined(ackMs)},
                     {"wave_ms", joined(waveMs)}});
        link.waitCommand();
        return 0;
    });
    const auto connected = started ? pool.gather(deadline) : std::nullopt;
    if (!connected) {
        fail("reactions workers did not connect");
        return 2;
    }
    pool.command('g');
    const auto results = pool.gather(deadline);
    pool.command('q');
    pool.finish(deadline + 5'000'000'000);
    if (!results) {
        fail("a worker died or the deadline passed");
        return 2;
    }
    int64_t missing = 0, duplicates = 0, errors = 0, acks = 0;
    std::vector<double> ackMs, waveMs;
    for (const Fields &f : *results) {
        missing += fieldInt(f, "missing");
        duplicates += fieldInt(f, "duplicates");
        errors += fieldInt(f, "errors") + fieldInt(f, "failed");
        acks += fieldInt(f, "acks");
        if (const auto it = f.find("ack_ms"); it != f.end())
            appendSplit(ackMs, it->second);
        if (const auto it = f.find("wave_ms"); it != f.end())
            appendSplit(waveMs, it->second);
    }
    Report report("reactions");
    report.add("members", int64_t(o.members));
    report.add("workers", int64_t(workers));
    report.add("acks", acks);
    report.add("missing", missing);
    report.add("duplicates", duplicates);
    report.add("errors", errors);
    report.add("ack_ms_p50", percentile(ackMs, 0.5));
    report.add("ack_ms_p99", percentile(ackMs, 0.99));
    report.add("all_reactions_ms_p50", percentile(waveMs, 0.5));
    report.add("all_reactions_ms_p99", percentile(waveMs, 0.99));
    report.print();
    return missing == 0 && duplicates == 0 && errors == 0 && acks == int64_t(o.members) ? 0 : 1;
}

} // namespace kith::bench
