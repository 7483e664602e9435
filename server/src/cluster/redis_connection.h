#pragma once
// RedisConnection: one connection to Redis on hiredis's asynchronous API,
// driven by the thread's event loop through two QSocketNotifiers (no thread of
// its own, nothing blocks). Commands are pipelined in the order they are given
// and each reply comes back to its callback in that order. A connection in
// subscribe mode hands every message to messageReceived. Owned by the
// RedisPushRouter (one for commands and publishing, one for subscribing).

#include "redis_address.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QTimer>

#include <functional>

struct redisAsyncContext;
struct redisReply;

namespace kith::server::cluster {

class RedisConnection : public QObject
{
    Q_OBJECT
public:
    // The reply, or nullptr when the connection was lost before it came.
    using ReplyHandler = std::function<void(const redisReply *reply)>;

    explicit RedisConnection(QString name, QObject *parent = nullptr);
    ~RedisConnection() override;
    RedisConnection(const RedisConnection &) = delete;
    RedisConnection &operator=(const RedisConnection &) = delete;

    // Starts connecting; connected() or disconnected() follows. AUTH and
    // SELECT go first when the address has them.
    void open(const RedisAddress &address, int connectTimeoutMs);
    // Drops the connection now: replies still due are dropped (their handlers
    // are not called) and disconnected() is not emitted for it.
    void close();
    [[nodiscard]] bool isConnected() const { return m_context != nullptr && m_connected; }

    // Queues a command; false (and `handler` is not called) when not connected.
    bool command(const QList<QByteArray> &args, ReplyHandler handler = {});
    // Subscribes to `channels`; their messages come as messageReceived, the
    // confirmation of each as subscribedTo.
    bool subscribe(const QList<QByteArray> &channels);

    // Commands sent whose replies have not come yet, and the bytes of them
    // hiredis has not written to the socket yet: what a slow Redis costs us.
    [[nodiscard]] qint64 pendingReplies() const { return m_pendingReplies; }
    [[nodiscard]] qint64 unsentBytes() const;

signals:
    void connected();
    void disconnected(const QString &why);
    void subscribedTo(const QByteArray &channel);
    void messageReceived(const QByteArray &channel, const QByteArray &payload);

private:
    struct Hooks;
    static void onConnect(const redisAsyncContext *context, int status);
    static void onDisconnect(const redisAsyncContext *context, int status);
    static void onReply(redisAsyncContext *context, void *reply, void *handler);
    static void onSubscription(redisAsyncContext *context, void *reply, void *self);
    void lost(const QString &why);

    const QString m_name;
    redisAsyncContext *m_context = nullptr;
    bool m_connected = false;
    qint64 m_pendingReplies = 0;
    QTimer m_connectTimer;
};

} // namespace kith::server::cluster
