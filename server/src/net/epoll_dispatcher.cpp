#include "epoll_dispatcher.h"

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QTimerEvent>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace kith::server {

namespace {
// Events taken from the kernel per wake-up; more simply wait for the next pass.
constexpr int kMaxEventsPerWait = 512;

quint32 maskOf(const QSocketNotifier *read, const QSocketNotifier *write,
               const QSocketNotifier *exception)
{
    return (read ? quint32(EPOLLIN) : 0u) | (write ? quint32(EPOLLOUT) : 0u) |
           (exception ? quint32(EPOLLPRI) : 0u);
}
} // namespace

EpollDispatcher::EpollDispatcher(QObject *parent)
    : QAbstractEventDispatcher(parent)
    , m_epollFd(epoll_create1(EPOLL_CLOEXEC))
    , m_wakeFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    if (!isValid())
        return;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = m_wakeFd;
    if (epoll_ctl(m_epollFd, EPOLL_CTL_ADD, m_wakeFd, &event) != 0) {
        ::close(m_wakeFd);
        m_wakeFd = -1;
    }
}

EpollDispatcher::~EpollDispatcher()
{
    if (m_wakeFd >= 0)
        ::close(m_wakeFd);
    if (m_epollFd >= 0)
        ::close(m_epollFd);
}

bool EpollDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    m_interrupted.store(false, std::memory_order_relaxed);
    emit awake();
    QCoreApplication::sendPostedEvents();

    const bool canWait = flags.testFlag(QEventLoop::WaitForMoreEvents) &&
                         !m_interrupted.load(std::memory_order_relaxed);
    if (canWait)
        emit aboutToBlock();

    epoll_event events[kMaxEventsPerWait];
    int ready = epoll_wait(m_epollFd, events, kMaxEventsPerWait, canWait ? waitTimeoutMs() : 0);
    if (ready < 0)
        ready = 0; // EINTR: a signal; go round again

    int dispatched = 0;
    const bool sockets = !flags.testFlag(QEventLoop::ExcludeSocketNotifiers);
    for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == m_wakeFd) {
            drainWakeUps();
            continue;
        }
        // Level-triggered: a socket skipped now is reported again next pass.
        if (sockets) {
            dispatchSocket(fd, events[i].events);
            ++dispatched;
        }
    }
    if (!flags.testFlag(QEventLoop::X11ExcludeTimers))
        dispatched += activateTimers();
    return dispatched > 0;
}

void EpollDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    const int fd = int(notifier->socket());
    Watched &watched = m_sockets[fd];
    QSocketNotifier **slot = nullptr;
    switch (notifier->type()) {
    case QSocketNotifier::Read:
        slot = &watched.read;
        break;
    case QSocketNotifier::Write:
        slot = &watched.write;
        break;
    case QSocketNotifier::Exception:
        slot = &watched.exception;
        break;
    }
    // A second notifier of one type on one fd is a caller bug (Qt warns the
    // same); the newest one wins, since the old one may outlive its fd.
    if (*slot && *slot != notifier)
        qWarning("EpollDispatcher: replacing a socket notifier of fd %d", fd);
    *slot = notifier;
    rearm(fd, watched);
}

void EpollDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    const int fd = int(notifier->socket());
    const auto it = m_sockets.find(fd);
    if (it == m_sockets.end())
        return;
    Watched &watched = it->second;
    for (QSocketNotifier **slot : {&watched.read, &watched.write, &watched.exception}) {
        if (*slot == notifier)
            *slot = nullptr;
    }
    rearm(fd, watched);
}

void EpollDispatcher::rearm(int fd, Watched &watched)
{
    const quint32 wanted = maskOf(watched.read, watched.write, watched.exception);
    if (wanted == watched.armed) {
        if (wanted == 0)
            m_sockets.erase(fd);
        return;
    }
    epoll_event event{};
    event.events = wanted;
    event.data.fd = fd;
    if (wanted == 0) {
        // Fails harmlessly when the fd was already closed (the kernel dropped it).
        epoll_ctl(m_epollFd, EPOLL_CTL_DEL, fd, &event);
        m_sockets.erase(fd);
        return;
    }
    int op = watched.armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int rc = epoll_ctl(m_epollFd, op, fd, &event);
    // The kernel's view differs from ours when an fd was closed and its number
    // reused without the notifiers going first: take the other operation.
    if (rc != 0 && errno == EEXIST)
        rc = epoll_ctl(m_epollFd, EPOLL_CTL_MOD, fd, &event);
    else if (rc != 0 && errno == ENOENT)
        rc = epoll_ctl(m_epollFd, EPOLL_CTL_ADD, fd, &event);
    if (rc != 0) {
        qWarning("EpollDispatcher: cannot watch fd %d: %s", fd, strerror(errno));
        watched.armed = 0;
        return;
    }
    watched.armed = wanted;
}

void EpollDispatcher::dispatchSocket(int fd, quint32 events)
{
    // A handler may unregister notifiers, close the fd or add sockets (which
    // rehashes the map): look the fd up again before each delivery.
    const auto notify = [this, fd](QSocketNotifier *Watched::*slot) {
        const auto it = m_sockets.find(fd);
        if (it == m_sockets.end())
            return;
        if (QSocketNotifier *notifier = it->second.*slot) {
            QEvent event(QEvent::SockAct);
            QCoreApplication::sendEvent(notifier, &event);
        }
    };
    // Hang-ups and errors go to reading and writing alike: whichever is armed
    // finds out from the failing call, as with poll().
    constexpr quint32 kBroken = EPOLLHUP | EPOLLERR;
    if (events & (EPOLLIN | EPOLLRDHUP | kBroken))
        notify(&Watched::read);
    if (events & (EPOLLOUT | kBroken))
        notify(&Watched::write);
    if (events & EPOLLPRI)
        notify(&Watched::exception);
}

void EpollDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType,
                                    QObject *object)
{
    Timer &timer = m_timers[timerId];
    if (timer.object)
        unregisterTimer(timerId); // Qt never reuses a live id; be safe anyway
    Timer &fresh = m_timers[timerId];
    fresh.object = object;
    fresh.intervalMs = qMax<qint64>(0, interval);
    fresh.type = timerType;
    fresh.active = false;
    fresh.due = Clock::now();
    scheduleTimer(timerId, fresh, fresh.due);
    m_timersOf[object].push_back(timerId);
}

void EpollDispatcher::scheduleTimer(int timerId, Timer &timer, Clock::time_point from)
{
    qint64 interval = timer.intervalMs;
    if (timer.type == Qt::VeryCoarseTimer)
        interval = (interval + 500) / 1000 * 1000; // whole seconds, as Qt does
    Clock::time_point due = from + std::chrono::milliseconds(interval);
    const Clock::time_point now = Clock::now();
    if (due < now) // late (a busy loop or a suspended machine): skip the missed shots
        due = now + std::chrono::milliseconds(interval);
    timer.due = due;
    m_timerQueue.emplace(due, timerId);
}

bool EpollDispatcher::unregisterTimer(int timerId)
{
    const auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return false;
    m_timerQueue.erase({it->second.due, timerId});
    const auto owner = m_timersOf.find(it->second.object);
    if (owner != m_timersOf.end()) {
        std::erase(owner->second, timerId);
        if (owner->second.empty())
            m_timersOf.erase(owner);
    }
    m_timers.erase(it);
    return true;
}

bool EpollDispatcher::unregisterTimers(QObject *object)
{
    const auto owner = m_timersOf.find(object);
    if (owner == m_timersOf.end())
        return false;
    const std::vector<int> ids = std::move(owner->second);
    m_timersOf.erase(owner);
    for (int id : ids) {
        const auto it = m_timers.find(id);
        if (it == m_timers.end())
            continue;
        m_timerQueue.erase({it->second.due, id});
        m_timers.erase(it);
    }
    return true;
}

QList<QAbstractEventDispatcher::TimerInfo> EpollDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> infos;
    const auto owner = m_timersOf.find(object);
    if (owner == m_timersOf.end())
        return infos;
    for (int id : owner->second) {
        const Timer &timer = m_timers.at(id);
        infos.append(TimerInfo(id, int(qMin<qint64>(timer.intervalMs, INT_MAX)), timer.type));
    }
    return infos;
}

int EpollDispatcher::remainingTime(int timerId)
{
    const auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return -1;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(it->second.due - Clock::now());
    return int(std::clamp<qint64>(left.count(), 0, INT_MAX));
}

int EpollDispatcher::activateTimers()
{
    if (m_timerQueue.empty())
        return 0;
    const Clock::time_point now = Clock::now();
    // Only the timers due now: one started or rescheduled by a handler waits
    // for the next pass, so a zero-interval timer cannot starve the sockets.
    std::vector<int> due;
    for (auto it = m_timerQueue.begin(); it != m_timerQueue.end() && it->first <= now; ++it)
        due.push_back(it->second);
    int fired = 0;
    for (int id : due) {
        auto it = m_timers.find(id);
        if (it == m_timers.end() || it->second.active || it->second.due > now)
            continue;
        Timer &timer = it->second;
        QObject *object = timer.object;
        // Next shot first, so a nested event loop in the handler sees it pending.
        m_timerQueue.erase({timer.due, id});
        scheduleTimer(id, timer, timer.due);
        timer.active = true;
        QTimerEvent event(id);
        QCoreApplication::sendEvent(object, &event);
        ++fired;
        it = m_timers.find(id); // the handler may have stopped or restarted it
        if (it != m_timers.end())
            it->second.active = false;
    }
    return fired;
}

int EpollDispatcher::waitTimeoutMs() const
{
    if (m_timerQueue.empty())
        return -1;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        m_timerQueue.begin()->first - Clock::now());
    // Round up: waking a millisecond early would spin until the timer is due.
    return int(std::clamp<qint64>(left.count() + 1, 0, INT_MAX));
}

void EpollDispatcher::wakeUp()
{
    if (m_wakeUpPending.exchange(true, std::memory_order_acq_rel))
        return; // already on its way
    const quint64 one = 1;
    [[maybe_unused]] const ssize_t written = ::write(m_wakeFd, &one, sizeof one);
}

void EpollDispatcher::interrupt()
{
    m_interrupted.store(true, std::memory_order_relaxed);
    wakeUp();
}

void EpollDispatcher::drainWakeUps()
{
    // Read first, then clear. The other order loses a wake-up: one written
    // between the clear and the read is consumed while the flag says pending,
    // and no wake-up is ever written again. This way a racing wake-up only
    // finds the flag still set, and its event was posted before the clear, so
    // the sendPostedEvents() that starts the next pass delivers it.
    quint64 count = 0;
    [[maybe_unused]] const ssize_t got = ::read(m_wakeFd, &count, sizeof count);
    m_wakeUpPending.store(false, std::memory_order_release);
}

} // namespace kith::server
