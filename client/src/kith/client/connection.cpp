#include "kith/client/connection.h"

#include "kith/client/logging.h"
#include "kith/compression.h"
#include "kith/fingerprint.h"
#include "kith/protocol.h"

#include <QDateTime>
#include <QNetworkInformation>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslError>
#include <QWebSocket>

#include <algorithm>

namespace kith::client {

namespace {
// Longest frame accepted from the server: a pull page of up to 200 messages.
constexpr quint64 kMaxIncomingMessageBytes = 64 * 1024 * 1024;
// Time to open the socket and finish hello; a server that takes longer is treated as down.
constexpr int kConnectTimeoutMs = 15'000;
// How often the timeouts, the ping and the watchdog are checked.
constexpr int kTickMs = 1'000;
// The clock check period, and how far wall time may drift from monotonic time
// across one period before it counts as a wake-up or a clock jump.
constexpr int kClockCheckMs = 5'000;
constexpr qint64 kClockJumpMs = 10'000;

bool isPermanentAuthError(v1::ErrorCode code)
{
    switch (code) {
    case v1::AUTH_FAILED:
    case v1::TOKEN_INVALID:
    case v1::NAME_TAKEN:
    case v1::REGISTRATION_CLOSED:
    case v1::ACCOUNT_DISABLED:
    case v1::INVALID_ARGUMENT:
        return true;
    default:
        return false;
    }
}

QString describe(const v1::Error &error)
{
    const QString message = toQString(error.message());
    return message.isEmpty() ? QString::fromLatin1(errorCodeName(error.code())) : message;
}
} // namespace

Connection::Connection(QObject *parent)
    : QObject(parent)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Connection::openSocket);
    m_countdownTimer.setInterval(1'000);
    connect(&m_countdownTimer, &QTimer::timeout, this,
            [this] { emit nextRetryInChanged(nextRetryIn()); });
    m_tickTimer.setInterval(kTickMs);
    connect(&m_tickTimer, &QTimer::timeout, this, &Connection::checkTimers);
    m_clockTimer.setInterval(kClockCheckMs);
    connect(&m_clockTimer, &QTimer::timeout, this, &Connection::checkClock);

    // Reachability is optional: without a backend we simply keep backing off.
    if (QNetworkInformation::instance() || QNetworkInformation::loadDefaultBackend()) {
        connect(QNetworkInformation::instance(), &QNetworkInformation::reachabilityChanged, this,
                [this](QNetworkInformation::Reachability reachability) {
                    qCInfo(lcConnection) << "network reachability" << reachability;
                    if (reachability == QNetworkInformation::Reachability::Online ||
                        reachability == QNetworkInformation::Reachability::Site) {
                        m_failedAttempts = 0;
                        if (m_state == State::WaitingToRetry)
                            retryNow();
                    }
                });
    }
}

Connection::~Connection()
{
    m_running = false;
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
}

void Connection::setPingInterval(int ms, int pongTimeoutMs)
{
    m_pingIntervalMs = ms;
    m_pongTimeoutMs = pongTimeoutMs;
}

int Connection::nextRetryIn() const
{
    if (m_state != State::WaitingToRetry)
        return 0;
    return int((m_retryDeadline.remainingTime() + 999) / 1000);
}

void Connection::start(const Credentials &credentials)
{
    m_credentials = credentials;
    m_offeredFingerprint.clear();
    m_pinChanged = false;
    m_running = true;
    m_failedAttempts = 0;
    m_monotonic.start();
    m_wallAtCheck = QDateTime::currentMSecsSinceEpoch();
    m_clockTimer.start();
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket.reset();
        failAllPending(QStringLiteral("Connection restarted"));
    }
    openSocket();
}

void Connection::stop()
{
    m_running = false;
    m_retryTimer.stop();
    m_countdownTimer.stop();
    m_tickTimer.stop();
    m_clockTimer.stop();
    if (m_socket) {
        m_socket->disconnect(this);
        if (m_state == State::Online)
            m_socket->close();
        else
            m_socket->abort();
        m_socket.release()->deleteLater();
    }
    failAllPending(QStringLiteral("Disconnected"));
    setState(State::Idle);
}

void Connection::retryNow()
{
    if (!m_running || m_state != State::WaitingToRetry)
        return;
    m_retryTimer.stop();
    openSocket();
}

void Connection::openSocket()
{
    if (!m_running)
        return;
    m_countdownTimer.stop();
    m_socket = std::make_unique<QWebSocket>(QString(), QWebSocketProtocol::VersionLatest);
    m_socket->setMaxAllowedIncomingMessageSize(kMaxIncomingMessageBytes);
    m_socket->setMaxAllowedIncomingFrameSize(kMaxIncomingMessageBytes);
    connect(m_socket.get(), &QWebSocket::connected, this, &Connection::onConnected);
    connect(m_socket.get(), &QWebSocket::disconnected, this, &Connection::onDisconnected);
    connect(m_socket.get(), &QWebSocket::binaryMessageReceived, this, &Connection::onBinaryMessage);
    connect(m_socket.get(), &QWebSocket::sslErrors, this, &Connection::onSslErrors);
    connect(m_socket.get(), qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
            [this](QAbstractSocket::SocketError) {
                if (m_socket)
                    setLastError(QStringLiteral("Server not reachable at %1: %2")
                                     .arg(m_url.toString(), m_socket->errorString()));
            });
    setState(State::Connecting);
    m_connectDeadline.setRemainingTime(kConnectTimeoutMs);
    m_tickTimer.start();
    qCDebug(lcConnection) << "connecting to" << m_url;
    m_socket->open(m_url);
}

void Connection::onSslErrors(const QList<QSslError> &errors)
{
    if (!m_socket)
        return;
    QSslCertificate certificate = m_socket->sslConfiguration().peerCertificate();
    if (certificate.isNull() && !errors.isEmpty())
        certificate = errors.constFirst().certificate();
    if (certificate.isNull())
        return; // no certificate to pin: the handshake fails and is retried
    const QByteArray fingerprint = certificateFingerprint(certificate.toDer());
    if (!m_pinnedFingerprint.isEmpty() && fingerprint == m_pinnedFingerprint) {
        // The key this account trusted before: its name and dates do not
        // matter, the key is the server's identity.
        m_socket->ignoreSslErrors();
        return;
    }
    qCInfo(lcConnection) << "certificate of" << m_url << "not trusted:" << errors;
    // Left unignored, the handshake fails; the socket is let go once this
    // signal has returned.
    m_socket->disconnect(this);
    QMetaObject::invokeMethod(
        this,
        [this, fingerprint, socket = m_socket.get()] {
            // Unless the connection was stopped or restarted meanwhile.
            if (m_socket.get() == socket)
                requireTrust(fingerprint);
        },
        Qt::QueuedConnection);
}

void Connection::requireTrust(const QByteArray &fingerprint)
{
    if (!m_running)
        return;
    m_running = false;
    m_retryTimer.stop();
    m_countdownTimer.stop();
    m_tickTimer.stop();
    if (m_socket) {
        m_socket->abort();
        m_socket.release()->deleteLater();
    }
    failAllPending(QStringLiteral("The server's certificate is not trusted yet"));
    m_offeredFingerprint = fingerprint;
    m_pinChanged = !m_pinnedFingerprint.isEmpty();
    setLastError(m_pinChanged
                     ? QStringLiteral("The server's key changed: it now shows fingerprint %1, "
                                      "not the one trusted before. Not connecting: this can "
                                      "be someone in between. Accept the new key only if "
                                      "your admin says the server got a new one.")
                           .arg(fingerprintDisplay(fingerprint))
                     : QStringLiteral("The server's certificate is its own (self-signed), "
                                      "with fingerprint %1: compare this with what your "
                                      "admin printed before trusting it.")
                           .arg(fingerprintDisplay(fingerprint)));
    setState(State::TrustRequired);
    emit trustRequired(fingerprint, m_pinChanged);
}

bool Connection::trust(const QByteArray &sha256)
{
    if (m_state == State::TrustRequired && sha256 != m_offeredFingerprint)
        return false;
    m_pinnedFingerprint = sha256;
    if (m_state != State::TrustRequired)
        return true;
    m_offeredFingerprint.clear();
    m_pinChanged = false;
    m_running = true;
    m_failedAttempts = 0;
    openSocket();
    return true;
}

void Connection::onConnected()
{
    m_effectivePingMs = m_pingIntervalMs;
    m_sinceReceive.start();
    m_pingInFlight = false;
    sendHello();
}

void Connection::sendHello()
{
    v1::Envelope env;
    auto *hello = env.mutable_hello();
    hello->set_protocol_major(kProtocolMajor);
    hello->set_protocol_minor(kProtocolMinor);
    hello->set_client_name(toStd(m_clientName));
    hello->set_client_version("0.1.0");
    // Pull pages and sync answers come compressed; decodeServerFrame unwraps them.
    hello->add_features(kDeflateFeature);
    const quint32 id = m_nextRequestId++;
    env.set_request_id(id);
    m_pending.insert(id, {[this](Result<v1::Envelope> answer) {
                              if (!answer) {
                                  dropSocket(answer.error().message);
                                  return;
                              }
                              if (answer->body_case() != v1::Envelope::kHelloOk) {
                                  dropSocket(QStringLiteral("Unexpected answer to hello"));
                                  return;
                              }
                              m_helloOk = answer->hello_ok();
                              // Speak well within the server's idle timeout.
                              m_effectivePingMs = m_pingIntervalMs;
                              if (m_helloOk.idle_timeout_ms() > 0)
                                  m_effectivePingMs = std::min<int>(
                                      m_pingIntervalMs, int(m_helloOk.idle_timeout_ms() / 3));
                              sendAuth();
                          },
                          QDeadlineTimer(kConnectTimeoutMs)});
    sendFrame(env);
}

void Connection::sendAuth()
{
    setState(State::Authenticating);
    v1::Envelope env;
    switch (m_credentials.mode) {
    case Credentials::Mode::Login: {
        auto *login = env.mutable_login();
        login->set_username(toStd(m_credentials.username));
        login->set_password(toStd(m_credentials.password));
        login->set_device_name(toStd(m_credentials.deviceName));
        break;
    }
    case Credentials::Mode::Register: {
        auto *reg = env.mutable_register_();
        reg->set_username(toStd(m_credentials.username));
        reg->set_password(toStd(m_credentials.password));
        reg->set_display_name(toStd(m_credentials.username));
        reg->set_device_name(toStd(m_credentials.deviceName));
        break;
    }
    case Credentials::Mode::Resume:
        env.mutable_resume()->set_token(toStd(m_credentials.token));
        break;
    }
    const quint32 id = m_nextRequestId++;
    env.set_request_id(id);
    m_pending.insert(id, {[this](Result<v1::Envelope> answer) {
                              if (!answer) {
                                  const Error &e = answer.error();
                                  // A registration refused for now goes back to
                                  // the person at the form, with the reason.
                                  const bool refusedRegistration =
                                      e.code == v1::RATE_LIMITED &&
                                      m_credentials.mode == Credentials::Mode::Register;
                                  if (isPermanentAuthError(e.code) || refusedRegistration) {
                                      m_running = false;
                                      setLastError(e.message);
                                      if (m_socket) {
                                          m_socket->disconnect(this);
                                          m_socket->close();
                                          m_socket.release()->deleteLater();
                                      }
                                      m_tickTimer.stop();
                                      failAllPending(e.message);
                                      setState(State::AuthRequired);
                                      emit authRejected(e);
                                      return;
                                  }
                                  dropSocket(e.message);
                                  if (e.code == v1::RATE_LIMITED)
                                      scheduleRetry(int(e.retryAfterMs));
                                  return;
                              }
                              if (answer->body_case() != v1::Envelope::kAuthOk) {
                                  dropSocket(QStringLiteral("Unexpected answer to authentication"));
                                  return;
                              }
                              becomeOnline(answer->auth_ok());
                          },
                          QDeadlineTimer(kDefaultRequestTimeoutMs)});
    sendFrame(env);
}

void Connection::becomeOnline(const v1::AuthOk &authOk)
{
    if (m_credentials.mode != Credentials::Mode::Resume && !authOk.token().empty()) {
        // From now on every reconnect resumes; the password is not kept.
        m_credentials.mode = Credentials::Mode::Resume;
        m_credentials.token = toQString(authOk.token());
        m_credentials.password.clear();
    }
    m_failedAttempts = 0;
    setLastError({});
    setState(State::Online);
    qCInfo(lcConnection) << "online as user" << authOk.user().id() << "device"
                         << authOk.device_id();
    emit authenticated(authOk);
}

void Connection::onDisconnected()
{
    QString reason = m_socket ? m_socket->closeReason() : QString();
    if (m_socket && m_state == State::Connecting)
        reason = QStringLiteral("Server not reachable at %1: %2")
                     .arg(m_url.toString(), m_socket->errorString());
    qCInfo(lcConnection) << "disconnected" << reason;
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket.release()->deleteLater();
    }
    failAllPending(QStringLiteral("Connection lost"));
    if (m_state == State::Connecting || (m_state == State::Online && m_lastError.isEmpty()))
        setLastError(reason.isEmpty() ? QStringLiteral("Connection lost") : reason);
    if (m_running && m_state != State::AuthRequired)
        scheduleRetry();
}

void Connection::dropSocket(const QString &reason)
{
    qCInfo(lcConnection) << "dropping connection:" << reason;
    setLastError(reason);
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket.release()->deleteLater();
    }
    failAllPending(reason);
    if (m_running)
        scheduleRetry();
}

void Connection::scheduleRetry(int minimumDelayMs)
{
    m_tickTimer.stop();
    if (!m_running)
        return;
    const int exponent = std::min(m_failedAttempts, 6); // 2^6 s > the 60 s cap
    ++m_failedAttempts;
    const int ceiling = std::min(kMaxRetryDelayMs, kMinRetryDelayMs << exponent);
    // "Equal jitter": half the delay fixed, half random.
    int delay = ceiling / 2 + int(QRandomGenerator::global()->bounded(ceiling / 2 + 1));
    delay = std::max(delay, minimumDelayMs);
    m_retryDeadline.setRemainingTime(delay);
    m_retryTimer.start(delay);
    m_countdownTimer.start();
    setState(State::WaitingToRetry);
    emit nextRetryInChanged(nextRetryIn());
    qCInfo(lcConnection) << "retrying in" << delay << "ms";
}

void Connection::failAllPending(const QString &reason)
{
    auto pending = std::exchange(m_pending, {});
    for (auto it = pending.begin(); it != pending.end(); ++it)
        if (it->handler)
            it->handler(makeError(v1::ERROR_UNSPECIFIED, reason));
}

void Connection::onBinaryMessage(const QByteArray &bytes)
{
    m_sinceReceive.start();
    m_pingInFlight = false;
    // A Compressed frame is unwrapped here, before anything else sees it; one
    // that does not unwrap is as bad as any other undecodable frame.
    auto decoded = decodeServerFrame(bytes);
    if (!decoded) {
        qCWarning(lcConnection) << "undecodable frame:" << decoded.error().message;
        dropSocket(QStringLiteral("The server sent a frame that is not a Kith envelope"));
        return;
    }
    const v1::Envelope &env = *decoded;
    switch (env.body_case()) {
    case v1::Envelope::kPing: {
        v1::Envelope pong;
        pong.set_request_id(env.request_id());
        pong.mutable_pong()->set_nonce(env.ping().nonce());
        sendFrame(pong);
        return;
    }
    default:
        break;
    }
    if (env.request_id() != 0) {
        handleAnswer(env);
        return;
    }
    if (env.body_case() == v1::Envelope::kError) {
        const auto &error = env.error();
        qCInfo(lcConnection) << "server error:" << errorCodeName(error.code()) << describe(error);
        setLastError(describe(error));
        if (error.code() == v1::TOKEN_INVALID || error.code() == v1::ACCOUNT_DISABLED) {
            m_running = false;
            if (m_socket) {
                m_socket->disconnect(this);
                m_socket->close();
                m_socket.release()->deleteLater();
            }
            m_tickTimer.stop();
            failAllPending(describe(error));
            setState(State::AuthRequired);
            emit authRejected(makeError(error.code(), describe(error)));
        }
        return;
    }
    emit pushReceived(env);
}

void Connection::handleAnswer(const v1::Envelope &env)
{
    const auto it = m_pending.find(env.request_id());
    if (it == m_pending.end())
        return; // a late answer to a request that already timed out
    ReplyHandler handler = std::move(it->handler);
    m_pending.erase(it);
    if (!handler)
        return;
    if (env.body_case() == v1::Envelope::kError) {
        const auto &e = env.error();
        handler(makeError(e.code(), describe(e), e.retry_after_ms()));
        return;
    }
    handler(env);
}

quint32 Connection::request(v1::Envelope envelope, ReplyHandler handler, int timeoutMs)
{
    if (m_state != State::Online) {
        if (handler)
            handler(makeError(v1::ERROR_UNSPECIFIED, QStringLiteral("Not connected")));
        return 0;
    }
    const quint32 id = m_nextRequestId++;
    if (m_nextRequestId == 0)
        m_nextRequestId = 1;
    envelope.set_request_id(id);
    m_pending.insert(id, {std::move(handler), QDeadlineTimer(timeoutMs)});
    sendFrame(envelope);
    return id;
}

bool Connection::sendOneWay(const v1::Envelope &envelope)
{
    if (m_state != State::Online)
        return false;
    return sendFrame(envelope);
}

bool Connection::sendFrame(const v1::Envelope &envelope)
{
    if (!m_socket)
        return false;
    return m_socket->sendBinaryMessage(encodeEnvelope(envelope)) > 0;
}

void Connection::checkTimers()
{
    if (m_state == State::Connecting && m_connectDeadline.hasExpired()) {
        dropSocket(QStringLiteral("Server not reachable at %1: timed out").arg(m_url.toString()));
        return;
    }
    QList<quint32> expired;
    for (auto it = m_pending.cbegin(); it != m_pending.cend(); ++it)
        if (it.value().deadline.hasExpired())
            expired << it.key();
    for (quint32 id : expired) {
        auto pending = m_pending.take(id);
        if (pending.handler)
            pending.handler(makeError(v1::ERROR_UNSPECIFIED, QStringLiteral("Request timed out")));
    }
    if (m_state != State::Online && m_state != State::Authenticating)
        return;
    const qint64 silent = m_sinceReceive.elapsed();
    if (silent > m_effectivePingMs + m_pongTimeoutMs) {
        dropSocket(QStringLiteral("The server stopped answering"));
        return;
    }
    if (silent > m_effectivePingMs && !m_pingInFlight) {
        m_pingInFlight = true;
        v1::Envelope ping;
        ping.mutable_ping()->set_nonce(QRandomGenerator::global()->generate64());
        // The pong refreshes m_sinceReceive; the watchdog above judges the silence.
        const quint32 id = m_nextRequestId++;
        ping.set_request_id(id);
        m_pending.insert(id, {ReplyHandler(), QDeadlineTimer(m_pongTimeoutMs)});
        sendFrame(ping);
    }
}

void Connection::checkClock()
{
    const qint64 monotonic = m_monotonic.restart();
    const qint64 wall = QDateTime::currentMSecsSinceEpoch();
    const qint64 wallDelta = wall - m_wallAtCheck;
    m_wallAtCheck = wall;
    if (qAbs(wallDelta - monotonic) < kClockJumpMs)
        return;
    // Suspended (the monotonic clock stood still) or the clock was set: the
    // socket may be dead and the backoff is stale.
    qCInfo(lcConnection) << "clock jump of" << (wallDelta - monotonic) << "ms: checking connection";
    m_failedAttempts = 0;
    if (m_state == State::WaitingToRetry) {
        retryNow();
    } else if (m_state == State::Online) {
        m_sinceReceive = QElapsedTimer();
        m_sinceReceive.start();
        m_pingInFlight = false;
        v1::Envelope ping;
        ping.mutable_ping()->set_nonce(QRandomGenerator::global()->generate64());
        request(
            ping,
            [this](Result<v1::Envelope> answer) {
                if (!answer && m_state == State::Online)
                    dropSocket(QStringLiteral("No answer after wake-up"));
            },
            m_pongTimeoutMs);
    }
}

void Connection::setState(State state)
{
    if (m_state == state)
        return;
    const bool wasOnline = isOnline();
    m_state = state;
    emit stateChanged(state);
    if (wasOnline != isOnline())
        emit onlineChanged(isOnline());
    if (state != State::WaitingToRetry)
        emit nextRetryInChanged(0);
}

void Connection::setLastError(const QString &error)
{
    if (m_lastError == error)
        return;
    m_lastError = error;
    emit lastErrorChanged(error);
}

} // namespace kith::client
