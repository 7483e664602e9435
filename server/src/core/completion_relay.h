#pragma once
// CompletionRelay: hands a store's completions from its writer thread to the
// thread of each completion's context object. Shared by the store backends.
//
// Posting straight to a context object from another thread races with that
// object being deleted on its own thread. The relay instead posts to one
// long-lived QObject per target thread (retired when the thread finishes),
// and the completion checks its context guard on the target thread itself,
// where the check cannot race with the deletion.

#include <QObject>
#include <QPointer>

#include <functional>
#include <memory>
#include <utility>
#include <vector>

class QThread;

namespace kith::server {

class CompletionRelay
{
public:
    // Where to deliver later: call on a thread where `context` is alive (the
    // caller's). Empty when context is null or has no thread.
    struct Target
    {
        QThread *thread = nullptr; // a key only; never dereferenced after capture
        QPointer<QObject> context;
    };
    [[nodiscard]] static Target targetOf(QObject *context);

    // Runs `fn` on the target's thread if its context is still alive then;
    // otherwise (context gone, thread finished) drops it. Callable from any thread.
    static void post(const Target &target, std::function<void()> fn);

    // Completions gathered by one thread (a writer's batch) and posted with
    // one event per target thread, which runs them in the order added.
    class Batch
    {
    public:
        Batch() = default;
        Batch(const Batch &) = delete;
        Batch &operator=(const Batch &) = delete;
        ~Batch() { flush(); }

        void add(const Target &target, std::function<void()> fn);
        // Keeps `owned` alive until the completions have run and releases it
        // on their thread: what that thread allocated is freed there too.
        void releaseAfter(std::shared_ptr<void> owned) { m_owned = std::move(owned); }
        void flush();

    private:
        struct Entry
        {
            QPointer<QObject> context;
            std::function<void()> fn;
        };
        // Usually one target thread (the session loop's).
        std::vector<std::pair<QThread *, std::vector<Entry>>> m_byThread;
        std::shared_ptr<void> m_owned;
    };
};

} // namespace kith::server
