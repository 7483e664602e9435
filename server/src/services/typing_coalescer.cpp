#include "typing_coalescer.h"

#include <algorithm>

namespace kith::server {

namespace {
// Longer than any receiver keeps an indicator without a repeat.
constexpr qint64 kForgetMs = 10'000;
} // namespace

bool TypingCoalescer::shouldForward(quint64 userId, const std::string &conversationId, bool typing,
                                    qint64 nowMs)
{
    if (m_last.size() >= m_pruneAt)
        forgetOld(nowMs);
    std::string key = std::to_string(userId);
    key += ':';
    key += conversationId;
    const auto it = m_last.find(key);
    if (it == m_last.end()) {
        if (!typing)
            return false; // nothing was shown, nothing to take back
        m_last.emplace(std::move(key), Last{true, nowMs});
        return true;
    }
    Last &last = it->second;
    const qint64 since = nowMs - last.atMs;
    bool forward = false;
    if (last.typing == typing)
        forward = typing && since >= kRepeatMs; // a repeat; "stopped" twice says nothing
    else if (typing)
        forward = since >= kMinChangeMs; // typing again soon after a "stopped"
    else
        forward = true; // the shown indicator must not outlive the typing
    if (forward)
        last = Last{typing, nowMs};
    return forward;
}

void TypingCoalescer::forgetOld(qint64 nowMs)
{
    std::erase_if(m_last,
                  [nowMs](const auto &entry) { return nowMs - entry.second.atMs >= kForgetMs; });
    // Next prune when the table has doubled from what is left now.
    m_pruneAt = std::max<size_t>(1024, m_last.size() * 2);
}

} // namespace kith::server
