#pragma once
// SingleInstance: one running app per user session. The first instance
// listens on a local socket; a later one finds it, asks it to show its window
// and then exits. Owned by main().

#include <QLocalServer>
#include <QObject>
#include <QString>

namespace kith::app {

class SingleInstance : public QObject
{
    Q_OBJECT
public:
    // key names the instance group; the default is per user.
    explicit SingleInstance(const QString &key = defaultKey(), QObject *parent = nullptr);

    // True when another instance runs and was asked to show itself: the caller
    // exits. Otherwise this one starts listening and becomes that instance.
    [[nodiscard]] bool notifyRunningInstance();
    [[nodiscard]] bool isListening() const { return m_server.isListening(); }

    [[nodiscard]] static QString defaultKey();

signals:
    // A second launch wants the window shown.
    void activationRequested();

private:
    void onNewConnection();

    QString m_key;
    QLocalServer m_server;
};

} // namespace kith::app
