#pragma once
// An event dispatcher on Linux epoll, installed for kithd's threads instead of
// Qt's poll()-based one. Qt's dispatcher rebuilds and scans a pollfd array of
// every socket on each wake-up, so one busy client among 18,000 idle ones costs
// 18,000 entries per message; here a wake-up costs what is ready, and timers
// sit in an ordered set (start, stop and expiry in O(log n)).
//
// Semantics follow Qt's Unix dispatcher: level-triggered notifiers (a notifier
// is armed while enabled; Qt disables it when its buffer is full), a timer
// never fires inside its own handler, posted events first on each pass.

#include <QAbstractEventDispatcher>

#include <atomic>
#include <chrono>
#include <set>
#include <unordered_map>
#include <vector>

class QSocketNotifier;

namespace kith::server {

class EpollDispatcher final : public QAbstractEventDispatcher
{
    Q_OBJECT
public:
    explicit EpollDispatcher(QObject *parent = nullptr);
    ~EpollDispatcher() override;

    // False when the kernel refused epoll or eventfd; Qt's dispatcher is the
    // fallback then.
    [[nodiscard]] bool isValid() const { return m_epollFd >= 0 && m_wakeFd >= 0; }

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType,
                       QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    [[nodiscard]] QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;
    void interrupt() override;

private:
    using Clock = std::chrono::steady_clock;

    struct Watched
    {
        QSocketNotifier *read = nullptr;
        QSocketNotifier *write = nullptr;
        QSocketNotifier *exception = nullptr;
        quint32 armed = 0; // the epoll event mask the kernel holds for this fd
    };
    struct Timer
    {
        QObject *object = nullptr;
        qint64 intervalMs = 0;
        Qt::TimerType type = Qt::CoarseTimer;
        Clock::time_point due;
        bool active = false; // its handler is running: no nested firing
    };

    void rearm(int fd, Watched &watched);
    void dispatchSocket(int fd, quint32 events);
    int activateTimers();
    void scheduleTimer(int timerId, Timer &timer, Clock::time_point from);
    [[nodiscard]] int waitTimeoutMs() const;
    void drainWakeUps();

    int m_epollFd = -1;
    int m_wakeFd = -1;
    std::atomic<bool> m_wakeUpPending{false};
    std::atomic<bool> m_interrupted{false};
    std::unordered_map<int, Watched> m_sockets;
    std::unordered_map<int, Timer> m_timers;
    std::set<std::pair<Clock::time_point, int>> m_timerQueue;
    std::unordered_map<QObject *, std::vector<int>> m_timersOf;
};

} // namespace kith::server
