// kith-bench history: one reader pages the whole seeded history.

#include "seeded_history.h"

#include "chat_text.h"
#include "latency_histogram.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <unordered_set>

namespace kith::bench {

namespace {

// ---------------------------------------------------------------- history

// One pass over the whole seeded history on one connection: what came, and
// how many bytes it took as received and once inflated.
struct HistoryPass
{
    bool deflateGranted = false;
    int64_t pages = 0, fullPages = 0, compressedFrames = 0, gaps = 0;
    int64_t rawBytes = 0, wireBytes = 0, fullPageRawBytes = 0, fullPageWireBytes = 0;
    int64_t syncRawBytes = 0, syncWireBytes = 0;
    bool syncCompressed = false;
    double seconds = 0;
    std::vector<std::string> messages; // every Message encoded, in seq order
};

std::optional<HistoryPass> readHistory(const Options &o, const Credentials &reader,
                                       const std::string &conversation, bool deflate)
{
    SetupClient client(reader, o.target,
                       deflate ? std::vector<std::string>{"deflate"} : std::vector<std::string>{});
    if (!client.waitReady()) {
        fail("the history reader could not log in: " + client.session().failure());
        return std::nullopt;
    }
    HistoryPass pass;
    pass.deflateGranted = client.session().granted("deflate");
    auto refused = [&](const std::optional<v1::Envelope> &answer, const char *what) {
        fail(std::string(what) +
             " failed: " + (answer ? answer->error().message() : client.session().failure()));
        return std::nullopt;
    };

    v1::Envelope sync;
    sync.mutable_sync();
    auto answer = client.request(sync);
    if (!answer || answer->body_case() != v1::Envelope::kSyncResponse)
        return refused(answer, "sync");
    pass.syncRawBytes = client.answerRawBytes();
    pass.syncWireBytes = client.answerWireBytes();
    pass.syncCompressed = client.answerCompressed();

    const int64_t start = monoNs();
    uint64_t next = 1;
    for (;;) {
        v1::Envelope env;
        auto *request = env.mutable_pull();
        request->set_conversation_id(conversation);
        request->set_direction(v1::PullRequest::FORWARD);
        request->set_from_seq(next);
        request->set_limit(kPullPage);
        answer = client.request(env);
        if (!answer || answer->body_case() != v1::Envelope::kPullResponse)
            return refused(answer, "pulling the history");
        const v1::PullResponse &page = answer->pull_response();
        ++pass.pages;
        pass.rawBytes += client.answerRawBytes();
        pass.wireBytes += client.answerWireBytes();
        pass.compressedFrames += client.answerCompressed() ? 1 : 0;
        if (page.messages_size() == int(kPullPage)) {
            ++pass.fullPages;
            pass.fullPageRawBytes += client.answerRawBytes();
            pass.fullPageWireBytes += client.answerWireBytes();
        }
        for (const v1::Message &m : page.messages()) {
            if (m.seq() != next)
                ++pass.gaps;
            next = m.seq() + 1;
            pass.messages.push_back(m.SerializeAsString());
        }
        if (!page.has_more() || page.messages().empty())
            break;
    }
    pass.seconds = double(monoNs() - start) / 1e9;
    return pass;
}

} // namespace

// ---------------------------------------------------------------- history

int runHistory(const Options &o)
{
    const auto readers = usersFor(o, "bh", 1);
    if (!readers)
        return 2;
    const auto history = ensureHistory(o, *readers, o.pullDepth);
    if (!history)
        return 2;
    const Credentials &reader = (*readers)[0];
    const auto plain = readHistory(o, reader, history->conversationId, false);
    if (!plain)
        return 2;
    const auto deflated = readHistory(o, reader, history->conversationId, true);
    if (!deflated)
        return 2;

    // Both connections must have been given exactly the same messages.
    int64_t mismatches =
        std::abs(int64_t(plain->messages.size()) - int64_t(deflated->messages.size()));
    for (size_t i = 0; i < std::min(plain->messages.size(), deflated->messages.size()); ++i)
        mismatches += plain->messages[i] != deflated->messages[i] ? 1 : 0;
    const int64_t messages = int64_t(deflated->messages.size());
    const double ratio =
        deflated->rawBytes > 0 ? double(deflated->wireBytes) / double(deflated->rawBytes) : 1.0;
    auto mean = [](int64_t bytes, int64_t pages) {
        return pages > 0 ? double(bytes) / double(pages) : 0.0;
    };

    if (!deflated->deflateGranted)
        std::printf("kithd did not grant \"deflate\": every frame came plain, ratio 1.0\n");
    Report report("history");
    report.add("history_messages", int64_t(history->maxSeq));
    report.add("history_reused", int64_t(history->reused ? 1 : 0));
    report.add("deflate_granted", int64_t(deflated->deflateGranted ? 1 : 0));
    report.add("pages", deflated->pages);
    report.add("messages", messages);
    report.add("plain_pages", plain->pages);
    report.add("plain_messages", int64_t(plain->messages.size()));
    report.add("mismatches", mismatches);
    report.add("gaps", plain->gaps + deflated->gaps);
    report.add("compressed_frames", deflated->compressedFrames);
    report.add("raw_bytes", deflated->rawBytes);
    report.add("wire_bytes", deflated->wireBytes);
    report.add("plain_wire_bytes", plain->wireBytes);
    report.add("ratio", ratio);
    report.add("saved_pct", (1.0 - ratio) * 100.0);
    report.add("full_pages", deflated->fullPages);
    report.add("page_raw_bytes_mean", mean(deflated->fullPageRawBytes, deflated->fullPages));
    report.add("page_wire_bytes_mean", mean(deflated->fullPageWireBytes, deflated->fullPages));
    report.add("sync_raw_bytes", deflated->syncRawBytes);
    report.add("sync_wire_bytes", deflated->syncWireBytes);
    report.add("sync_compressed", int64_t(deflated->syncCompressed ? 1 : 0));
    report.add("plain_seconds", plain->seconds);
    report.add("deflate_seconds", deflated->seconds);
    report.print();
    const bool complete = messages >= int64_t(history->maxSeq) && plain->pages == deflated->pages;
    return mismatches == 0 && plain->gaps == 0 && deflated->gaps == 0 && complete ? 0 : 1;
}

} // namespace kith::bench
