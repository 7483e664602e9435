#pragma once
// Turns SIGTERM and SIGINT into a Qt signal on the event loop (the handler only
// writes a byte to a socketpair; a QSocketNotifier reads it). One per process,
// owned by main().

#include <QObject>
#include <QSocketNotifier>

#include <memory>

namespace kith::server {

class SignalWatcher : public QObject
{
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

    [[nodiscard]] bool isValid() const { return m_notifier != nullptr; }

signals:
    void terminationRequested(int signalNumber);

private:
    std::unique_ptr<QSocketNotifier> m_notifier;
};

} // namespace kith::server
