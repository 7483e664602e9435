#include "session.h"

#include "bulk_lane.h"
#include "file_service.h"
#include "group_service.h"
#include "kith/compression.h"
#include "kith/protocol.h"
#include "logging.h"
#include "message_service.h"
#include "metrics.h"
#include "user_service.h"

#include <QCoreApplication>
#include <QRandomGenerator>
#include <QTimer>
#include <QTimerEvent>

#include <algorithm>
#include <climits>

namespace kith::server {

namespace {
// How long a closing peer has to finish the close handshake.
constexpr int kCloseGraceMs = 5000;
// A bulk request from a connection whose socket cannot stop reading, past
// the jobs in flight, waits at least this long.
constexpr quint32 kBulkBusyRetryMs = 100;
// How long a connection refused for its rate is not read: the wait it was
// told, within these (a client whose next request is allowed sooner still
// waits a little; one told to wait long is read again within a second, to
// see its other requests and its close).
constexpr quint32 kMinRateHoldMs = 20;
constexpr quint32 kMaxRateHoldMs = 1000;

bool isServerOnly(v1::Envelope::BodyCase body)
{
    switch (body) {
    case v1::Envelope::kError:
    case v1::Envelope::kOk:
    case v1::Envelope::kHelloOk:
    case v1::Envelope::kAuthOk:
    case v1::Envelope::kDeviceList:
    case v1::Envelope::kUserList:
    case v1::Envelope::kUserProfile:
    case v1::Envelope::kPresence:
    case v1::Envelope::kProfile:
    case v1::Envelope::kSendAck:
    case v1::Envelope::kMessage:
    case v1::Envelope::kPullResponse:
    case v1::Envelope::kSyncResponse:
    case v1::Envelope::kRead:
    case v1::Envelope::kTypingPush:
    case v1::Envelope::kConversation:
    case v1::Envelope::kConversationRemoved:
    case v1::Envelope::kMemberList:
    case v1::Envelope::kCompressed:
    case v1::Envelope::kUploadTicket:
    case v1::Envelope::kChatState:
    case v1::Envelope::kChatStatePush:
    case v1::Envelope::kChatStateSyncResponse:
        return true;
    default:
        return false;
    }
}
// The frame for `envelope`: compressed when the client asked for deflate and
// it is a history page or a sync answer, the only answers that grow with the
// data (acks, pushes and errors are small and latency-bound). Touches no
// session state, so the bulk lane calls it too.
BulkAnswer encodeForWire(const v1::Envelope &envelope, bool deflate)
{
    BulkAnswer answer;
    answer.frame = encodeEnvelope(envelope);
    const bool bulky = envelope.body_case() == v1::Envelope::kPullResponse ||
                       envelope.body_case() == v1::Envelope::kSyncResponse;
    if (!deflate || !bulky)
        return answer;
    QByteArray compressed = compressEncodedEnvelope(answer.frame, envelope.request_id());
    if (compressed.isEmpty())
        return answer;
    answer.rawBytes = quint64(answer.frame.size());
    answer.frame = std::move(compressed);
    answer.compressed = true;
    return answer;
}
} // namespace

Session::Session(WireSocket *socket, const ServiceSet &services, const SessionLimits &limits,
                 quint64 connectionId, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_services(services)
    , m_limits(limits)
    , m_connectionId(connectionId)
    , m_remoteAddress(socket->peerAddress().toString())
    , m_pingBucket(limits.pingRate, limits.pingBurst)
{
    socket->setParent(this);
    m_services.metrics.connectionOpened();
    m_caller.connection = {m_services.router.node(), m_connectionId};

    socket->setReceiver(this);

    const qint64 now = monotonicMs();
    m_authDeadline = now + m_limits.authTimeoutMs;

    // Half the idle time without a frame: ping; the other half: give up.
    m_idleDeadline = now + idleHalf();
    armTimer(now);

    qCDebug(lcSession) << "connection" << m_connectionId << "from" << m_remoteAddress;
}

Session::~Session()
{
    // The socket is a child, deleted after this; it must not call back.
    if (m_socket)
        m_socket->setReceiver(nullptr);
    if (m_attached)
        m_services.router.detach(this);
    m_services.bulk.forget(this);
    m_services.metrics.connectionClosed();
}

void Session::wireOutputPressure(bool high)
{
    // A backed-up connection gets no more bulk answers until it drains.
    m_services.bulk.setPaused(this, high);
}

void Session::wireMessageTooLarge()
{
    const qint64 limit = m_state == State::Ready ? kMaxFrameBytes : kMaxPreAuthFrameBytes;
    fail(0, v1::TOO_LARGE,
         QStringLiteral("Frame is larger than %1 bytes%2")
             .arg(limit)
             .arg(m_state == State::Ready ? QString() : QStringLiteral(" (before authentication)")),
         QWebSocketProtocol::CloseCodeTooMuchData);
}

void Session::wireOutputOverflowed()
{
    m_services.metrics.slowConsumerDropped();
    qCInfo(lcSession) << "connection" << m_connectionId << "from" << m_remoteAddress
                      << "does not read its answers; dropped";
}

void Session::deliver(const QByteArray &frame)
{
    // The socket's output budget drops a connection that does not read.
    if (!m_socket || m_state == State::Closing)
        return;
    m_socket->sendBinaryMessage(frame);
}

void Session::terminate(v1::ErrorCode code, const QString &message)
{
    fail(0, code, message, QWebSocketProtocol::CloseCodePolicyViolated);
}

void Session::closeForShutdown()
{
    close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("Server stopping"));
}

void Session::onBinaryMessage(const QByteArray &frame)
{
    if (m_state == State::Closing)
        return;
    m_services.metrics.framesReceived();
    noteActivity();
    // The socket refuses larger ones on their header; this is for a socket
    // that cannot (Qt's, between its own limit and ours).
    const qint64 limit = m_state == State::Ready ? kMaxFrameBytes : kMaxPreAuthFrameBytes;
    if (frame.size() > limit)
        return fail(0, v1::TOO_LARGE, QStringLiteral("Frame is larger than %1 bytes").arg(limit),
                    QWebSocketProtocol::CloseCodeTooMuchData);
    std::optional<v1::Envelope> request = decodeEnvelope(frame);
    if (!request)
        return fail(0, v1::BAD_FRAME, QStringLiteral("Not a Kith protocol frame"),
                    QWebSocketProtocol::CloseCodeProtocolError);
    if (request->body_case() == v1::Envelope::BODY_NOT_SET)
        return fail(request->request_id(), v1::UNKNOWN_TYPE,
                    QStringLiteral("Unknown or missing frame type"),
                    QWebSocketProtocol::CloseCodeProtocolError);
    qCDebug(lcSession) << "connection" << m_connectionId << "<-" << bodyName(request->body_case())
                       << request->request_id();
    // Like every other server-only body past hello: refused, and the session
    // goes on. The server never inflates what a client sends.
    if (request->body_case() == v1::Envelope::kCompressed && m_state != State::AwaitHello)
        return sendError(
            request->request_id(),
            makeError(v1::INVALID_ARGUMENT,
                      QStringLiteral("Compressed frames are only sent by the server")));

    switch (m_state) {
    case State::AwaitHello:
        return handleHello(*request);
    case State::AwaitAuth:
    case State::Authenticating:
        return handleUnauthenticated(*request);
    case State::Ready:
        return handleReady(*request);
    case State::Closing:
        return;
    }
}

void Session::onTextMessage()
{
    if (m_state == State::Closing)
        return;
    fail(0, v1::BAD_FRAME, QStringLiteral("Text frames are not part of the protocol"),
         QWebSocketProtocol::CloseCodeDatatypeNotSupported);
}

void Session::onDisconnected()
{
    m_state = State::Closing;
    m_timer.stop();
    if (m_attached) {
        m_attached = false;
        m_services.router.detach(this);
    }
    qCDebug(lcSession) << "connection" << m_connectionId << "closed";
    emit finished(this);
    deleteLater();
}

void Session::onAuthTimeout()
{
    if (m_state == State::Ready || m_state == State::Closing)
        return;
    fail(0, v1::AUTH_TIMEOUT,
         QStringLiteral("Not authenticated within %1 ms").arg(m_limits.authTimeoutMs),
         QWebSocketProtocol::CloseCodePolicyViolated);
}

void Session::onIdleTimeout()
{
    if (m_state == State::Closing)
        return;
    if (m_pingOutstanding)
        return fail(0, v1::IDLE_TIMEOUT,
                    QStringLiteral("Nothing received for %1 ms").arg(m_limits.idleTimeoutMs),
                    QWebSocketProtocol::CloseCodeGoingAway);
    m_pingOutstanding = true;
    v1::Envelope ping;
    ping.mutable_ping()->set_nonce(QRandomGenerator::global()->generate64());
    send(ping);
    m_idleDeadline = monotonicMs() + idleHalf();
}

void Session::timerEvent(QTimerEvent *event)
{
    if (event->timerId() == m_timer.timerId())
        return onDeadline();
    if (event->timerId() == m_rateHold.timerId()) {
        m_rateHold.stop();
        return applyHold();
    }
    QObject::timerEvent(event);
}

void Session::onDeadline()
{
    m_timer.stop();
    if (m_state == State::Closing)
        return;
    const qint64 now = monotonicMs();
    if (m_authDeadline != 0 && now >= m_authDeadline)
        return onAuthTimeout();
    if (now >= m_idleDeadline) {
        onIdleTimeout();
        if (m_state == State::Closing)
            return;
    }
    armTimer(now);
}

void Session::armTimer(qint64 now)
{
    const qint64 next = m_authDeadline != 0 ? qMin(m_authDeadline, m_idleDeadline) : m_idleDeadline;
    m_timer.start(int(std::clamp<qint64>(next - now, 1, INT_MAX)), this);
}

void Session::handleHello(const v1::Envelope &request)
{
    if (request.body_case() != v1::Envelope::kHello)
        return fail(request.request_id(), v1::HELLO_REQUIRED,
                    QStringLiteral("The first frame must be hello"),
                    QWebSocketProtocol::CloseCodePolicyViolated);
    const v1::Hello &hello = request.hello();
    if (hello.protocol_major() != kProtocolMajor)
        return fail(request.request_id(), v1::UNSUPPORTED_VERSION,
                    QStringLiteral("This server speaks protocol %1, not %2")
                        .arg(kProtocolMajor)
                        .arg(hello.protocol_major()),
                    QWebSocketProtocol::CloseCodePolicyViolated);
    if (m_refusing)
        return fail(request.request_id(), v1::SHUTTING_DOWN,
                    QStringLiteral("The server is stopping; reconnect later"),
                    QWebSocketProtocol::CloseCodeGoingAway);
    v1::Envelope answer;
    answer.set_request_id(request.request_id());
    auto *ok = answer.mutable_hello_ok();
    ok->set_protocol_major(kProtocolMajor);
    ok->set_protocol_minor(kProtocolMinor);
    ok->set_server_name("kithd");
    ok->set_server_version(toStd(QCoreApplication::applicationVersion()));
    ok->set_registration_open(m_services.auth.registrationOpen());
    ok->set_max_frame_bytes(quint32(kMaxFrameBytes));
    ok->set_max_text_bytes(quint32(kMaxTextBytes));
    ok->set_max_pull_limit(kMaxPullLimit);
    ok->set_auth_timeout_ms(quint32(m_limits.authTimeoutMs));
    ok->set_idle_timeout_ms(quint32(m_limits.idleTimeoutMs));
    // Features the client listed and this server has; anything else is ignored.
    for (const std::string &feature : hello.features()) {
        if (feature == kDeflateFeature && !m_deflate) {
            m_deflate = true;
            ok->add_features(kDeflateFeature);
        }
    }
    m_state = State::AwaitAuth;
    qCDebug(lcSession) << "connection" << m_connectionId << "hello from"
                       << toQString(hello.client_name()) << toQString(hello.client_version());
    send(answer);
}

bool Session::answerKeepAlive(const v1::Envelope &request)
{
    if (request.body_case() == v1::Envelope::kPing) {
        // Any frame keeps the connection alive; past the budget a ping only does that.
        if (m_pingBucket.take(monotonicMs()) != 0)
            return true;
        v1::Envelope pong;
        pong.set_request_id(request.request_id());
        pong.mutable_pong()->set_nonce(request.ping().nonce());
        send(pong);
        return true;
    }
    // A pong needs no answer; receiving it already restarted the idle timer.
    return request.body_case() == v1::Envelope::kPong;
}

void Session::handleUnauthenticated(const v1::Envelope &request)
{
    const quint32 rid = request.request_id();
    const auto body = request.body_case();
    if (answerKeepAlive(request))
        return;
    if (m_refusing)
        return sendError(rid, makeError(v1::SHUTTING_DOWN,
                                        QStringLiteral("The server is stopping; reconnect later")));
    const bool isAuth = body == v1::Envelope::kRegister || body == v1::Envelope::kLogin ||
                        body == v1::Envelope::kResume;
    if (!isAuth) {
        if (body == v1::Envelope::kHello || isServerOnly(body))
            return sendError(rid, makeError(v1::INVALID_ARGUMENT,
                                            QStringLiteral("Not a request at this point")));
        return sendError(rid, makeError(v1::NOT_AUTHENTICATED,
                                        QStringLiteral("Log in, register or resume first")));
    }
    if (m_state == State::Authenticating)
        return sendError(rid, makeError(v1::INVALID_ARGUMENT,
                                        QStringLiteral("An authentication is already running")));

    m_state = State::Authenticating;
    auto done = [this, rid](Result<AuthGrant> result) { onAuthResult(rid, std::move(result)); };
    switch (body) {
    case v1::Envelope::kRegister:
        m_services.auth.registerUser(request.register_(), m_remoteAddress, this, done);
        break;
    case v1::Envelope::kLogin:
        m_services.auth.login(request.login(), m_remoteAddress, this, done);
        break;
    default:
        done(m_services.auth.resume(request.resume(), m_remoteAddress));
        break;
    }
}

void Session::onAuthResult(quint32 requestId, Result<AuthGrant> result)
{
    if (m_state == State::Closing)
        return;
    if (!result) {
        m_state = State::AwaitAuth;
        return sendError(requestId, result.error());
    }
    // Checked again here: logins of one account may have raced past the service's check.
    if (const int max = m_services.auth.maxSessionsPerUser();
        max > 0 && m_services.router.connectionCount(result->userId) >= max) {
        m_state = State::AwaitAuth;
        return sendError(requestId,
                         makeError(v1::TOO_MANY_SESSIONS,
                                   QStringLiteral("This account has %1 connections open, the "
                                                  "most allowed; close one first")
                                       .arg(max)));
    }
    m_state = State::Ready;
    m_authDeadline = 0; // the timer, when it fires, re-arms for the idle deadline only
    if (m_socket)
        m_socket->setMaxMessageBytes(kMaxFrameBytes);
    emit authenticated(this);
    m_caller.userId = result->userId;
    m_caller.deviceId = result->deviceId;
    v1::Envelope answer;
    answer.set_request_id(requestId);
    *answer.mutable_auth_ok() = result->answer;
    send(answer);
    // Attached after the answer so pushes reach a client that knows who it is.
    m_attached = true;
    m_services.router.attach(this, m_caller.userId, m_caller.deviceId);
    qCDebug(lcSession) << "connection" << m_connectionId << "is user" << m_caller.userId << "device"
                       << m_caller.deviceId;
}

void Session::handleReady(v1::Envelope &request)
{
    const quint32 rid = request.request_id();
    const auto body = request.body_case();
    if (answerKeepAlive(request))
        return;
    if (m_refusing) {
        if (body != v1::Envelope::kTyping || rid != 0)
            sendError(rid, makeError(v1::SHUTTING_DOWN,
                                     QStringLiteral("The server is stopping; reconnect later")));
        return;
    }
    if (const std::optional<RequestKind> kind = RequestBudgets::kindOf(body);
        kind && m_services.budgets) {
        if (const quint32 wait = m_services.budgets->take(m_caller.userId, *kind, monotonicMs())) {
            // Typing is fire and forget: with request_id 0 not even this comes back.
            if (body != v1::Envelope::kTyping || rid != 0)
                sendError(rid, makeError(v1::RATE_LIMITED,
                                         QStringLiteral("Too many %1 requests; slow down")
                                             .arg(QLatin1String(bodyName(body))),
                                         wait));
            holdForRate(wait);
            return;
        }
    }

    switch (body) {
    case v1::Envelope::kSend:
        m_services.bulk.noteInteractive();
        return m_services.messages.send(caller(), std::move(*request.mutable_send()), this,
                                        [this, rid](Result<v1::SendAck> result) {
                                            answer(rid, result, &v1::Envelope::mutable_send_ack);
                                        });
    case v1::Envelope::kPull:
        return answerBulk<v1::PullResponse>(
            rid,
            [messages = &m_services.messages, who = caller(), pull = request.pull()] {
                return messages->pull(who, pull);
            },
            &v1::Envelope::mutable_pull_response);
    case v1::Envelope::kSync:
        return answerBulk<v1::SyncResponse>(
            rid,
            [messages = &m_services.messages, who = caller(), sync = request.sync()] {
                return messages->sync(who, sync);
            },
            &v1::Envelope::mutable_sync_response);
    case v1::Envelope::kMarkRead:
        return m_services.messages.markRead(caller(), request.mark_read(), this,
                                            [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kSetChatState:
        return m_services.messages.setChatState(
            caller(), request.set_chat_state(), this, [this, rid](Result<v1::ChatState> result) {
                answer(rid, result, &v1::Envelope::mutable_chat_state);
            });
    case v1::Envelope::kBlockUser:
        return m_services.messages.blockUser(
            caller(), request.block_user(), this, [this, rid](Result<v1::ChatState> result) {
                answer(rid, result, &v1::Envelope::mutable_chat_state);
            });
    case v1::Envelope::kChatStateSync:
        // On the bulk lane, as sync: a read may wait for the store's next
        // sync of its log, which the session loop must not.
        return answerBulk<v1::ChatStateSyncResponse>(
            rid,
            [messages = &m_services.messages, who = caller(), sync = request.chat_state_sync()] {
                return messages->chatStateSync(who, sync);
            },
            &v1::Envelope::mutable_chat_state_sync_response);
    case v1::Envelope::kTyping: {
        const Status status = m_services.messages.typing(caller(), request.typing());
        // Typing is fire and forget: with request_id 0 not even an error comes back.
        if (rid != 0)
            answerOk(rid, status);
        return;
    }
    case v1::Envelope::kCreateGroup:
        return m_services.groups.createGroup(caller(), request.create_group(), this,
                                             [this, rid](Result<v1::ConversationState> result) {
                                                 if (!result)
                                                     return sendError(rid, result.error());
                                                 v1::Envelope answer;
                                                 answer.set_request_id(rid);
                                                 *answer.mutable_conversation()->mutable_state() =
                                                     *result;
                                                 send(answer);
                                             });
    case v1::Envelope::kAddMembers:
        return m_services.groups.addMembers(caller(), request.add_members(), this,
                                            [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kRemoveMember:
        return m_services.groups.removeMember(
            caller(), request.remove_member(), this,
            [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kLeaveGroup:
        return m_services.groups.leaveGroup(caller(), request.leave_group(), this,
                                            [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kRenameGroup:
        return m_services.groups.renameGroup(caller(), request.rename_group(), this,
                                             [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kSetGroupAvatar:
        return m_services.groups.setGroupAvatar(
            caller(), request.set_group_avatar(), this,
            [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kListMembers:
        return answer(rid, m_services.groups.listMembers(caller(), request.list_members()),
                      &v1::Envelope::mutable_member_list);
    case v1::Envelope::kSearchUsers:
        return answer(rid, m_services.users.search(caller(), request.search_users()),
                      &v1::Envelope::mutable_user_list);
    case v1::Envelope::kGetProfile:
        return answer(rid, m_services.users.profile(caller(), request.get_profile()),
                      &v1::Envelope::mutable_user_profile);
    case v1::Envelope::kSetDisplayName:
        return m_services.users.setDisplayName(caller(), request.set_display_name(), this,
                                               [this, rid](Result<v1::UserProfile> result) {
                                                   answer(rid, result,
                                                          &v1::Envelope::mutable_user_profile);
                                               });
    case v1::Envelope::kSetAvatar:
        return m_services.users.setAvatar(
            caller(), request.set_avatar(), this, [this, rid](Result<v1::UserProfile> result) {
                answer(rid, result, &v1::Envelope::mutable_user_profile);
            });
    case v1::Envelope::kListDevices:
        return answer(rid, m_services.auth.listDevices(caller()),
                      &v1::Envelope::mutable_device_list);
    case v1::Envelope::kRevokeDevice:
        return m_services.auth.revokeDevice(caller(), request.revoke_device(), this,
                                            [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kLogout:
        return m_services.auth.logout(caller(), this, [this, rid](Status status) {
            answerOk(rid, status);
            if (status)
                close(QWebSocketProtocol::CloseCodeNormal, QStringLiteral("Logged out"));
        });
    case v1::Envelope::kCreateUpload:
        return m_services.files.createUpload(
            caller(), request.create_upload(), this, [this, rid](Result<v1::UploadTicket> result) {
                answer(rid, result, &v1::Envelope::mutable_upload_ticket);
            });
    case v1::Envelope::kCancelUpload:
        return m_services.files.cancelUpload(caller(), request.cancel_upload(), this,
                                             [this, rid](Status status) { answerOk(rid, status); });
    case v1::Envelope::kHello:
    case v1::Envelope::kRegister:
    case v1::Envelope::kLogin:
    case v1::Envelope::kResume:
        return sendError(rid,
                         makeError(v1::INVALID_ARGUMENT,
                                   QStringLiteral("This connection is already authenticated")));
    default:
        return sendError(rid, makeError(v1::INVALID_ARGUMENT, QStringLiteral("Not a request")));
    }
}

void Session::send(const v1::Envelope &envelope)
{
    if (!m_socket || m_state == State::Closing)
        return;
    m_socket->sendBinaryMessage(frameFor(envelope));
}

QByteArray Session::frameFor(const v1::Envelope &envelope)
{
    BulkAnswer answer = encodeForWire(envelope, m_deflate);
    if (answer.compressed)
        m_services.metrics.frameCompressed(answer.rawBytes, quint64(answer.frame.size()));
    return std::move(answer.frame);
}

template<class T>
void Session::answerBulk(quint32 requestId, std::function<Result<T>()> build,
                         T *(v1::Envelope::*field)())
{
    // Only a socket that cannot stop reading gets here with the jobs in flight full.
    if (m_bulkHeld)
        return sendError(requestId,
                         makeError(v1::RATE_LIMITED,
                                   QStringLiteral("Too many history and sync requests at once"),
                                   kBulkBusyRetryMs));
    const bool deflate = m_deflate;
    // The answer leaves from the lane's thread when the connection allows it,
    // so pages never wait in (or hold up) the loop that carries sends.
    std::shared_ptr<DirectWriter> direct = m_socket ? m_socket->directWriter() : nullptr;
    const int pending = m_services.bulk.post(
        this,
        [requestId, build = std::move(build), field, deflate, direct = std::move(direct),
         metrics = &m_services.metrics] {
            const Result<T> result = build();
            if (!result) {
                const Error &error = result.error();
                BulkAnswer answer = encodeForWire(
                    errorEnvelope(requestId, error.code, error.message, error.retryAfterMs), false);
                answer.errorCode = error.code;
                if (direct) {
                    direct->holdForOwner(); // later pages must not overtake it
                    answer.heldForOwner = true;
                }
                return answer;
            }
            v1::Envelope envelope;
            envelope.set_request_id(requestId);
            *(envelope.*field)() = *result;
            BulkAnswer answer = encodeForWire(envelope, deflate);
            // Counted here, before the client can see the answer.
            if (answer.compressed)
                metrics->frameCompressed(answer.rawBytes, quint64(answer.frame.size()));
            if (direct) {
                const DirectWriter::Outcome outcome = direct->trySend(answer.frame, &answer.rest);
                answer.sentDirect = outcome != DirectWriter::Outcome::NotSent;
                answer.heldForOwner = !answer.sentDirect;
            }
            return answer;
        },
        [this](BulkAnswer answer) { sendBulk(answer); });
    noteBulkPending(pending);
}

void Session::noteBulkPending(int pending)
{
    if (pending < m_limits.bulkJobsInFlight || m_bulkHeld)
        return;
    m_bulkHeld = true;
    applyHold();
    m_services.bulk.whenBelow(this, m_limits.bulkJobsInFlight, [this] {
        m_bulkHeld = false;
        applyHold();
    });
}

void Session::holdForRate(quint32 waitMs)
{
    if (!m_socket || !m_socket->canHoldReading() || m_rateHold.isActive())
        return;
    m_rateHold.start(int(std::clamp<quint32>(waitMs, kMinRateHoldMs, kMaxRateHoldMs)),
                     Qt::PreciseTimer, this);
    applyHold();
}

void Session::applyHold()
{
    if (m_socket)
        m_socket->holdReading(m_bulkHeld || m_rateHold.isActive());
}

void Session::sendBulk(const BulkAnswer &answer)
{
    if (answer.errorCode != 0)
        m_services.metrics.errorSent(v1::ErrorCode(answer.errorCode));
    if (!m_socket)
        return;
    if (answer.sentDirect) {
        // A tail must follow, even on a closing session: the frame is begun.
        if (!answer.rest.isEmpty())
            m_socket->finishDirect(answer.rest);
        return;
    }
    if (m_state != State::Closing)
        m_socket->sendBinaryMessage(answer.frame);
    if (answer.heldForOwner) {
        if (const std::shared_ptr<DirectWriter> direct = m_socket->directWriter())
            direct->sentByOwner();
    }
}

void Session::sendError(quint32 requestId, const Error &error)
{
    m_services.metrics.errorSent(error.code);
    qCDebug(lcSession) << "connection" << m_connectionId << "error" << errorCodeName(error.code)
                       << error.message;
    send(errorEnvelope(requestId, error.code, error.message, error.retryAfterMs));
}

void Session::answerOk(quint32 requestId, const Status &status)
{
    if (!status)
        return sendError(requestId, status.error());
    v1::Envelope answer;
    answer.set_request_id(requestId);
    answer.mutable_ok();
    send(answer);
}

template<class T>
void Session::answer(quint32 requestId, const Result<T> &result, T *(v1::Envelope::*field)())
{
    if (!result)
        return sendError(requestId, result.error());
    v1::Envelope answer;
    answer.set_request_id(requestId);
    *(answer.*field)() = *result;
    send(answer);
}

void Session::fail(quint32 requestId, v1::ErrorCode code, const QString &message,
                   QWebSocketProtocol::CloseCode closeCode)
{
    if (m_state == State::Closing)
        return;
    qCInfo(lcSession) << "closing connection" << m_connectionId << "from" << m_remoteAddress
                      << errorCodeName(code) << message;
    sendError(requestId, makeError(code, message));
    close(closeCode, message);
}

void Session::close(QWebSocketProtocol::CloseCode closeCode, const QString &reason)
{
    if (m_state == State::Closing)
        return;
    m_state = State::Closing;
    m_timer.stop();
    if (m_attached) {
        // Gone for pushes and presence now, not when the close handshake ends.
        m_attached = false;
        m_services.router.detach(this);
    }
    if (!m_socket)
        return;
    // A close reason must fit a control frame (123 bytes); ours are ASCII.
    m_socket->close(closeCode, reason.left(120));
    // A peer that never answers the close handshake is cut off.
    QTimer::singleShot(kCloseGraceMs, this, [this] {
        if (m_socket)
            m_socket->abort();
    });
}

void Session::noteActivity()
{
    m_pingOutstanding = false;
    m_idleDeadline = monotonicMs() + idleHalf();
}

} // namespace kith::server
