#pragma once
// TypingCoalescer: decides which typing signals are worth a push. Clients
// repeat "typing" every few seconds while someone types, and a hostile one
// may send thousands a second; each push goes to every member's connections.
// So a signal is pushed only when it says something new: "typing" again at
// most every two seconds (the receivers' indicator lapses after six without
// one), "typing" after "stopped" at most a second after it, and "stopped"
// only after a "typing" went out (then always). An alternating flood makes
// at most two pushes a second. Owned by MessageService; session loop only.

#include <QtGlobal>

#include <string>
#include <unordered_map>

namespace kith::server {

class TypingCoalescer
{
public:
    // "Typing" closer than this to a pushed "stopped" is not pushed.
    static constexpr qint64 kMinChangeMs = 1000;
    // A repeat of "typing" closer than this to the last push is not pushed.
    static constexpr qint64 kRepeatMs = 2000;

    // Whether this signal of `userId` in `conversationId` should be pushed;
    // when so, it is remembered as the last one pushed.
    [[nodiscard]] bool shouldForward(quint64 userId, const std::string &conversationId, bool typing,
                                     qint64 nowMs);
    [[nodiscard]] size_t size() const { return m_last.size(); }

private:
    struct Last
    {
        bool typing = false;
        qint64 atMs = 0;
    };
    // Drops what every receiver has let lapse anyway.
    void forgetOld(qint64 nowMs);

    std::unordered_map<std::string, Last> m_last; // by "user:conversation"
    size_t m_pruneAt = 1024;
};

} // namespace kith::server
