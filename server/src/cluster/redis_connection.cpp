#include "redis_connection.h"

#include "bus_logging.h"

#include <QSocketNotifier>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <vector>

namespace kith::server::cluster {

// What hiredis's event hooks drive: a read and a write notifier on the
// context's socket. It outlives the context by a little (deleteLater), since
// hiredis may free the context from inside one of its handlers while the
// other is already due in this pass of the loop; `context` is cleared then.
struct RedisConnection::Hooks : QObject
{
    redisAsyncContext *context = nullptr;
    QSocketNotifier *read = nullptr;
    QSocketNotifier *write = nullptr;

    explicit Hooks(redisAsyncContext *ac)
        : context(ac)
    {
        const qintptr fd = ac->c.fd;
        read = new QSocketNotifier(fd, QSocketNotifier::Read, this);
        write = new QSocketNotifier(fd, QSocketNotifier::Write, this);
        read->setEnabled(false);
        write->setEnabled(false);
        QObject::connect(read, &QSocketNotifier::activated, this, [this] {
            if (context)
                redisAsyncHandleRead(context);
        });
        QObject::connect(write, &QSocketNotifier::activated, this, [this] {
            if (context)
                redisAsyncHandleWrite(context);
        });
        ac->ev.data = this;
        ac->ev.addRead = [](void *hooks) { static_cast<Hooks *>(hooks)->read->setEnabled(true); };
        ac->ev.delRead = [](void *hooks) { static_cast<Hooks *>(hooks)->read->setEnabled(false); };
        ac->ev.addWrite = [](void *hooks) { static_cast<Hooks *>(hooks)->write->setEnabled(true); };
        ac->ev.delWrite = [](void *hooks) {
            static_cast<Hooks *>(hooks)->write->setEnabled(false);
        };
        ac->ev.cleanup = [](void *data) {
            auto *hooks = static_cast<Hooks *>(data);
            hooks->context = nullptr;
            hooks->read->setEnabled(false);
            hooks->write->setEnabled(false);
            hooks->deleteLater();
        };
    }
};

namespace {
struct PendingReply
{
    RedisConnection::ReplyHandler handler;
    qint64 *pending;
};

void send(redisAsyncContext *context, const QList<QByteArray> &args, redisCallbackFn *callback,
          void *privdata)
{
    std::vector<const char *> argv;
    std::vector<size_t> lengths;
    argv.reserve(size_t(args.size()));
    lengths.reserve(size_t(args.size()));
    for (const QByteArray &arg : args) {
        argv.push_back(arg.constData());
        lengths.push_back(size_t(arg.size()));
    }
    redisAsyncCommandArgv(context, callback, privdata, int(argv.size()), argv.data(),
                          lengths.data());
}
} // namespace

RedisConnection::RedisConnection(QString name, QObject *parent)
    : QObject(parent)
    , m_name(std::move(name))
{
    m_connectTimer.setSingleShot(true);
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        if (m_context && !m_connected)
            lost(QStringLiteral("no connection within the timeout"));
    });
}

RedisConnection::~RedisConnection()
{
    close();
}

void RedisConnection::open(const RedisAddress &address, int connectTimeoutMs)
{
    close();
    redisAsyncContext *context =
        redisAsyncConnect(address.host.toUtf8().constData(), int(address.port));
    if (!context) {
        QMetaObject::invokeMethod(
            this, [this] { emit disconnected(QStringLiteral("out of memory")); },
            Qt::QueuedConnection);
        return;
    }
    if (context->err) {
        const QString why = QString::fromUtf8(context->errstr);
        redisAsyncFree(context);
        QMetaObject::invokeMethod(
            this, [this, why] { emit disconnected(why); }, Qt::QueuedConnection);
        return;
    }
    context->data = this;
    new Hooks(context);
    m_context = context;
    m_connected = false;
    m_pendingReplies = 0;
    redisAsyncSetConnectCallback(context, &RedisConnection::onConnect);
    redisAsyncSetDisconnectCallback(context, &RedisConnection::onDisconnect);
    // Written once the socket connects, before anything else.
    const auto refused = [this](const char *what) {
        return [this, what](const redisReply *reply) {
            if (reply && reply->type == REDIS_REPLY_ERROR)
                lost(QStringLiteral("%1 refused: %2")
                         .arg(QLatin1String(what), QString::fromUtf8(reply->str)));
        };
    };
    if (!address.password.isEmpty()) {
        QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
        if (!address.user.isEmpty())
            auth << address.user;
        auth << address.password;
        send(context, auth, &RedisConnection::onReply,
             new PendingReply{refused("AUTH"), &m_pendingReplies});
        ++m_pendingReplies;
    }
    if (address.database != 0) {
        send(context, {QByteArrayLiteral("SELECT"), QByteArray::number(address.database)},
             &RedisConnection::onReply, new PendingReply{refused("SELECT"), &m_pendingReplies});
        ++m_pendingReplies;
    }
    m_connectTimer.start(connectTimeoutMs);
}

void RedisConnection::close()
{
    m_connectTimer.stop();
    redisAsyncContext *context = m_context;
    if (!context)
        return;
    m_context = nullptr;
    m_connected = false;
    // A close we asked for: the replies still due are dropped unheard, and
    // no disconnected() follows.
    for (redisCallback *due = context->replies.head; due; due = due->next) {
        if (due->fn == &RedisConnection::onReply && due->privdata)
            static_cast<PendingReply *>(due->privdata)->handler = {};
    }
    context->data = nullptr;
    redisAsyncFree(context);
}

void RedisConnection::lost(const QString &why)
{
    close();
    qCInfo(lcBus).noquote() << m_name << "connection lost:" << why;
    emit disconnected(why);
}

bool RedisConnection::command(const QList<QByteArray> &args, ReplyHandler handler)
{
    if (!isConnected())
        return false;
    ++m_pendingReplies;
    send(m_context, args, &RedisConnection::onReply,
         new PendingReply{std::move(handler), &m_pendingReplies});
    return true;
}

bool RedisConnection::subscribe(const QList<QByteArray> &channels)
{
    if (!isConnected())
        return false;
    QList<QByteArray> args{QByteArrayLiteral("SUBSCRIBE")};
    args += channels;
    // The context keeps calling back with `this` for every message; close()
    // clears context->data first, so the calls at the end find no one.
    send(m_context, args, &RedisConnection::onSubscription, nullptr);
    return true;
}

qint64 RedisConnection::unsentBytes() const
{
    if (!m_context || !m_context->c.obuf)
        return 0;
    return qint64(sdslen(m_context->c.obuf));
}

void RedisConnection::onConnect(const redisAsyncContext *context, int status)
{
    auto *self = static_cast<RedisConnection *>(context->data);
    if (!self)
        return;
    self->m_connectTimer.stop();
    if (status != REDIS_OK) {
        // hiredis frees the context after this returns.
        self->m_context = nullptr;
        self->m_connected = false;
        const QString why = QString::fromUtf8(context->errstr);
        qCInfo(lcBus).noquote() << self->m_name << "cannot connect:" << why;
        emit self->disconnected(why);
        return;
    }
    self->m_connected = true;
    emit self->connected();
}

void RedisConnection::onDisconnect(const redisAsyncContext *context, int status)
{
    Q_UNUSED(status)
    auto *self = static_cast<RedisConnection *>(context->data);
    if (!self)
        return;
    // hiredis frees the context after this returns.
    self->m_context = nullptr;
    self->m_connected = false;
    const QString why =
        context->err ? QString::fromUtf8(context->errstr) : QStringLiteral("closed by the server");
    qCInfo(lcBus).noquote() << self->m_name << "connection lost:" << why;
    emit self->disconnected(why);
}

void RedisConnection::onReply(redisAsyncContext *context, void *reply, void *privdata)
{
    Q_UNUSED(context)
    std::unique_ptr<PendingReply> pending(static_cast<PendingReply *>(privdata));
    --*pending->pending;
    if (pending->handler)
        pending->handler(static_cast<const redisReply *>(reply));
}

void RedisConnection::onSubscription(redisAsyncContext *context, void *reply, void *privdata)
{
    Q_UNUSED(privdata)
    auto *self = static_cast<RedisConnection *>(context->data);
    const auto *r = static_cast<const redisReply *>(reply);
    if (!self || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return;
    const redisReply *kind = r->element[0];
    const redisReply *channel = r->element[1];
    const redisReply *payload = r->element[2];
    if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING)
        return;
    const QByteArray channelName(channel->str, qsizetype(channel->len));
    const QByteArrayView kindName(kind->str, qsizetype(kind->len));
    if (kindName == "message") {
        if (payload->type == REDIS_REPLY_STRING)
            emit self->messageReceived(channelName,
                                       QByteArray(payload->str, qsizetype(payload->len)));
    } else if (kindName == "subscribe") {
        emit self->subscribedTo(channelName);
    }
}

} // namespace kith::server::cluster
