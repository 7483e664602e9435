#pragma once
// One client connection: the protocol state machine (hello -> auth -> ready),
// frame limits, auth and idle timers, decoding requests, calling the services
// and encoding their answers. Owned by the Gateway; deletes itself after its
// socket closes.

#include "auth_service.h"
#include "caller.h"
#include "local_push_router.h"
#include "rate_limit.h"
#include "request_budgets.h"
#include "wire_socket.h"

#include <QBasicTimer>
#include <QObject>
#include <QPointer>

namespace kith::server {

class AuthService;
class BulkLane;
struct BulkAnswer;
class FileService;
class GroupService;
class MessageService;
class Metrics;
class PresenceService;
class UserService;

// What a session needs from the server: the services (owned by Services),
// the node's router, the bulk lane and the counters (owned by the Server),
// the request budgets (owned by the Gateway).
struct ServiceSet
{
    AuthService &auth;
    MessageService &messages;
    GroupService &groups;
    UserService &users;
    FileService &files;
    LocalPushRouter &router;
    BulkLane &bulk;
    Metrics &metrics;
    RequestBudgets *budgets = nullptr; // null: unlimited
};

struct SessionLimits
{
    int authTimeoutMs = 10000;
    int idleTimeoutMs = 90000;
    // Bulk requests (pull, sync) of one connection queued or running at once:
    // past it the connection's requests are not read until one is answered.
    int bulkJobsInFlight = 4;
    // Protocol pings answered per connection (a token bucket); more get no pong.
    double pingRate = 5;
    double pingBurst = 20;
};

class Session : public QObject, public Connection, private WireSocket::Receiver
{
    Q_OBJECT
public:
    // Takes ownership of `socket`, whose limits the Gateway already set.
    Session(WireSocket *socket, const ServiceSet &services, const SessionLimits &limits,
            quint64 connectionId, QObject *parent = nullptr);
    ~Session() override;

    [[nodiscard]] quint64 connectionId() const override { return m_connectionId; }
    void deliver(const QByteArray &frame) override;
    void terminate(v1::ErrorCode code, const QString &message) override;

    // The server is stopping: new requests get SHUTTING_DOWN from now on.
    void refuseNewRequests() { m_refusing = true; }
    // Closes with 1001 (going away); in-flight answers were already sent.
    void closeForShutdown();

signals:
    // The socket is gone; the session deletes itself right after.
    void finished(kith::server::Session *session);
    // Authentication succeeded (the per-address count of connections not
    // yet authenticated lets go of this one).
    void authenticated(kith::server::Session *session);

private:
    enum class State { AwaitHello, AwaitAuth, Authenticating, Ready, Closing };

    // WireSocket::Receiver: what the connection tells its owner.
    void wireBinaryMessage(const QByteArray &frame) override { onBinaryMessage(frame); }
    void wireTextMessage() override { onTextMessage(); }
    void wireDisconnected() override { onDisconnected(); }
    void wireOutputPressure(bool high) override;
    void wireMessageTooLarge() override;
    void wireOutputOverflowed() override;

    void onBinaryMessage(const QByteArray &frame);
    void onTextMessage();
    void onDisconnected();
    void timerEvent(QTimerEvent *event) override;
    void onDeadline();
    void onAuthTimeout();
    void onIdleTimeout();
    // One timer per session, for whichever deadline comes first.
    void armTimer(qint64 now);

    void handleHello(const v1::Envelope &request);
    // Answers a ping, swallows a pong; true when the frame was one of them.
    bool answerKeepAlive(const v1::Envelope &request);
    void handleUnauthenticated(const v1::Envelope &request);
    void handleReady(v1::Envelope &request);
    // A client refused for its rate is not read again before it may send:
    // what it sends meanwhile waits in TCP instead of costing the loop a
    // refusal each (a flood of thousands of requests a second from each of
    // many connections would otherwise hold everyone else's up).
    void holdForRate(quint32 waitMs);
    void applyHold();
    void onAuthResult(quint32 requestId, Result<AuthGrant> result);

    void send(const v1::Envelope &envelope);
    // Runs `build` (reads only) on the bulk lane, encodes and compresses its
    // answer there, and sends it from here when it comes back.
    template<class T>
    void answerBulk(quint32 requestId, std::function<Result<T>()> build,
                    T *(v1::Envelope::*field)());
    // Past the bulk jobs in flight: reading stops until one is answered.
    void noteBulkPending(int pending);
    void sendBulk(const BulkAnswer &answer);
    // The bytes that go on the wire for `envelope`: Compressed when the client
    // asked for deflate and it is a big enough history or sync answer.
    [[nodiscard]] QByteArray frameFor(const v1::Envelope &envelope);
    void sendError(quint32 requestId, const Error &error);
    void answerOk(quint32 requestId, const Status &status);
    template<class T>
    void answer(quint32 requestId, const Result<T> &result, T *(v1::Envelope::*field)());
    // Sends an error frame, then closes the socket with `closeCode`.
    void fail(quint32 requestId, v1::ErrorCode code, const QString &message,
              QWebSocketProtocol::CloseCode closeCode);
    void close(QWebSocketProtocol::CloseCode closeCode, const QString &reason);
    void noteActivity();
    [[nodiscard]] qint64 idleHalf() const { return qMax(1, m_limits.idleTimeoutMs / 2); }
    [[nodiscard]] Caller caller() const { return m_caller; }

    QPointer<WireSocket> m_socket;
    ServiceSet m_services;
    SessionLimits m_limits;
    quint64 m_connectionId;
    QString m_remoteAddress;
    State m_state = State::AwaitHello;
    bool m_refusing = false;
    bool m_pingOutstanding = false;
    bool m_attached = false;
    bool m_deflate = false; // the client listed "deflate" in its hello
    // Deadlines on monotonicMs(). A frame only moves m_idleDeadline; the timer
    // is re-armed when it fires, not per frame (no timer churn per message).
    QBasicTimer m_timer;
    qint64 m_authDeadline = 0; // 0 once authenticated
    qint64 m_idleDeadline = 0; // half the idle timeout after the last frame
    TokenBucket m_pingBucket;
    bool m_bulkHeld = false; // reading held for the bulk jobs in flight
    // Reading held after a refusal for the rate, until the wait it was told.
    QBasicTimer m_rateHold;
    Caller m_caller;
};

} // namespace kith::server
