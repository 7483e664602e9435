#include "completion_relay.h"

#include <QMetaObject>
#include <QThread>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace kith::server {

namespace {

// One relay object per thread that has received completions. A relay leaves
// the map under the lock before it is deleted, so a poster holding the lock
// never reaches a deleted relay.
class RelayRegistry
{
public:
    void ensure(QThread *thread)
    {
        std::lock_guard lock(m_mutex);
        if (m_relays.count(thread))
            return;
        auto *relay = new QObject;
        relay->moveToThread(thread);
        m_relays.emplace(thread, relay);
        // Emitted on the finishing thread; Qt still runs that thread's
        // deferred deletions after `finished`.
        QObject::connect(thread, &QThread::finished, [this, thread] { retire(thread); });
    }

    void post(QThread *thread, std::function<void()> fn)
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_relays.find(thread);
        if (it == m_relays.end())
            return;
        QMetaObject::invokeMethod(it->second, std::move(fn), Qt::QueuedConnection);
    }

private:
    void retire(QThread *thread)
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_relays.find(thread);
        if (it == m_relays.end())
            return;
        it->second->deleteLater();
        m_relays.erase(it);
    }

    std::mutex m_mutex;
    std::unordered_map<QThread *, QObject *> m_relays;
};

// Never destroyed: threads may finish (and retire their relays) during
// static destruction at exit.
RelayRegistry &registry()
{
    static auto *instance = new RelayRegistry;
    return *instance;
}

} // namespace

CompletionRelay::Target CompletionRelay::targetOf(QObject *context)
{
    if (!context || !context->thread())
        return {};
    registry().ensure(context->thread());
    return Target{context->thread(), QPointer<QObject>(context)};
}

void CompletionRelay::Batch::add(const Target &target, std::function<void()> fn)
{
    if (!target.thread)
        return;
    auto it = std::find_if(m_byThread.begin(), m_byThread.end(),
                           [&](const auto &group) { return group.first == target.thread; });
    if (it == m_byThread.end()) {
        m_byThread.emplace_back(target.thread, std::vector<Entry>());
        it = std::prev(m_byThread.end());
    }
    it->second.push_back(Entry{target.context, std::move(fn)});
}

void CompletionRelay::Batch::flush()
{
    for (auto &[thread, entries] : m_byThread) {
        auto shared = std::make_shared<std::vector<Entry>>(std::move(entries));
        registry().post(thread, [shared, owned = std::exchange(m_owned, {})]() mutable {
            for (Entry &entry : *shared) {
                if (entry.context)
                    std::exchange(entry.fn, {})();
            }
            shared.reset();
            owned.reset();
        });
    }
    m_byThread.clear();
    m_owned.reset();
}

void CompletionRelay::post(const Target &target, std::function<void()> fn)
{
    if (!target.thread)
        return;
    registry().post(target.thread, [context = target.context, fn = std::move(fn)] {
        if (context)
            fn();
    });
}

} // namespace kith::server
