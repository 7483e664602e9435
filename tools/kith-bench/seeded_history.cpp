#include "seeded_history.h"

#include "chat_text.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace kith::bench {

std::string historyFile(const Options &o)
{
    return (std::filesystem::path(o.tokenCache).parent_path() / "kith-bench-history.tsv").string();
}

bool addToGroup(SetupClient &owner, std::string &conversationId, const std::vector<uint64_t> &ids,
                const std::string &groupName)
{
    for (size_t first = 0; first < ids.size() || conversationId.empty();
         first += kMaxMembersPerRequest) {
        v1::Envelope env;
        google::protobuf::RepeatedField<uint64_t> *added = nullptr;
        if (conversationId.empty()) {
            env.mutable_create_group()->set_name(groupName);
            added = env.mutable_create_group()->mutable_member_user_ids();
        } else {
            env.mutable_add_members()->set_conversation_id(conversationId);
            added = env.mutable_add_members()->mutable_user_ids();
        }
        for (size_t i = first; i < std::min(ids.size(), first + kMaxMembersPerRequest); ++i)
            added->Add(ids[i]);
        const auto answer = owner.request(env);
        if (!answer || answer->body_case() == v1::Envelope::kError) {
            fail("setting up the history group failed" +
                 (answer ? ": " + answer->error().message() : std::string()));
            return false;
        }
        if (conversationId.empty())
            conversationId = answer->conversation().state().id();
    }
    return true;
}

std::optional<SeededHistory> ensureHistory(const Options &o,
                                           const std::vector<Credentials> &readers, int depth)
{
    const auto feeders = usersFor(o, "bhf", 1);
    if (!feeders)
        return std::nullopt;
    SetupClient feeder((*feeders)[0], o.target);
    if (!feeder.waitReady()) {
        fail("the history feeder could not log in: " + feeder.session().failure());
        return std::nullopt;
    }

    SeededHistory history;
    {
        std::ifstream in(historyFile(o));
        std::string id;
        int64_t texts = 0;
        while (in >> id >> texts) {
            history.conversationId = id;
            history.texts = texts;
        }
    }
    // A remembered group counts only when this kithd still has it.
    if (!history.conversationId.empty()) {
        // Sync comes in pages; the group may be on any of them.
        std::string after;
        for (;;) {
            v1::Envelope env;
            env.mutable_sync()->set_after_conversation_id(after);
            const auto answer = feeder.request(env);
            if (!answer || answer->body_case() != v1::Envelope::kSyncResponse)
                break;
            const v1::SyncResponse &page = answer->sync_response();
            for (const v1::ConversationState &state : page.changed())
                history.reused |= state.id() == history.conversationId;
            if (history.reused || !page.has_more() || page.next_after() <= after)
                break;
            after = page.next_after();
        }
        if (!history.reused)
            history = {};
    }

    std::vector<uint64_t> missing;
    if (history.reused) {
        v1::Envelope env;
        env.mutable_list_members()->set_conversation_id(history.conversationId);
        const auto answer = feeder.request(env);
        if (!answer || answer->body_case() != v1::Envelope::kMemberList) {
            fail("listing the history group's members failed");
            return std::nullopt;
        }
        std::unordered_set<uint64_t> members;
        for (const v1::Member &member : answer->member_list().members())
            members.insert(member.user().id());
        for (const Credentials &reader : readers) {
            if (!members.contains(reader.userId))
                missing.push_back(reader.userId);
        }
    } else {
        for (const Credentials &reader : readers)
            missing.push_back(reader.userId);
    }
    if ((!missing.empty() || history.conversationId.empty()) &&
        !addToGroup(feeder, history.conversationId, missing, "kith-bench history"))
        return std::nullopt;

    if (history.texts < depth) {
        const int64_t total = depth - history.texts;
        int64_t next = 0, acked = 0, errors = 0;
        int inflight = 0;
        feeder.onPush = [&](const v1::Envelope &in) {
            if (in.body_case() == v1::Envelope::kError) {
                ++errors;
                --inflight;
                fail(std::string("seeding the history failed: ") + in.error().message());
            } else if (in.body_case() == v1::Envelope::kSendAck) {
                ++acked;
                --inflight;
            }
        };
        auto feed = [&] {
            while (inflight < kHistoryFeedWindow && next < total && errors == 0) {
                v1::Envelope env;
                env.set_request_id(feeder.session().nextRequestId());
                auto *send = env.mutable_send();
                send->set_conversation_id(history.conversationId);
                send->set_client_msg_id(o.runTag + "-h-" + std::to_string(next));
                send->mutable_content()->mutable_text()->set_body(
                    chatText(uint64_t(history.texts + next)));
                feeder.session().send(env);
                ++inflight;
                ++next;
            }
        };
        feeder.loop().runUntil([&] { return errors > 0 || acked == total; },
                               monoNs() + kSetupTimeoutNs, feed);
        feeder.onPush = nullptr;
        if (acked != total) {
            fail("seeding the history did not finish");
            return std::nullopt;
        }
        history.texts = depth;
        std::ofstream(historyFile(o), std::ios::app)
            << history.conversationId << '\t' << history.texts << '\n';
    }

    v1::Envelope newest;
    newest.mutable_pull()->set_conversation_id(history.conversationId);
    newest.mutable_pull()->set_direction(v1::PullRequest::BACKWARD);
    newest.mutable_pull()->set_limit(1);
    const auto answer = feeder.request(newest);
    if (!answer || answer->body_case() != v1::Envelope::kPullResponse ||
        answer->pull_response().max_seq() < uint64_t(history.texts)) {
        fail("the history group holds fewer messages than it was given");
        return std::nullopt;
    }
    history.maxSeq = answer->pull_response().max_seq();
    return history;
}

} // namespace kith::bench
