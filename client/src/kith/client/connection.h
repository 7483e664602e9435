#pragma once
// Connection: the one owner of the client's WebSocket to kithd and of the
// reconnect policy — hello, authentication (login, register, or resume with a
// stored token), request/response correlation with per-request timeouts,
// app-level ping with a receive watchdog, and exponential backoff with jitter
// that resets when the network returns or the machine wakes. Owned by KithClient.

#include "kith/result.h"
#include "kith/v1/envelope.pb.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include <functional>
#include <memory>

class QSslError;
class QWebSocket;

namespace kith::client {

class Connection : public QObject
{
    Q_OBJECT
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(bool online READ isOnline NOTIFY onlineChanged)
    Q_PROPERTY(int nextRetryIn READ nextRetryIn NOTIFY nextRetryInChanged)
    Q_PROPERTY(QString lastError READ lastError NOTIFY lastErrorChanged)
public:
    enum class State {
        Idle,           // not started, or stopped
        Connecting,     // opening the socket and saying hello
        Authenticating, // hello done, waiting for auth_ok
        Online,
        WaitingToRetry, // nextRetryIn seconds until the next attempt
        AuthRequired,   // the credentials or the token were refused: log in again
        // The server's certificate is not one the system trusts and not the
        // one pinned for it (none yet, or it changed): nothing is sent until
        // the user trusts its fingerprint (trust()) or gives up (stop()).
        TrustRequired,
    };
    Q_ENUM(State)

    struct Credentials
    {
        enum class Mode { Login, Register, Resume };
        Mode mode = Mode::Resume;
        QString username;
        QString password;
        QString token;
        QString deviceName;
    };

    using ReplyHandler = std::function<void(Result<v1::Envelope>)>;

    // A request the server answers promptly; pulls of 200 messages included.
    static constexpr int kDefaultRequestTimeoutMs = 20'000;
    // Backoff: 1 s doubling to a 60 s cap, each delay jittered so that many
    // clients cut off together do not come back together.
    static constexpr int kMinRetryDelayMs = 1'000;
    static constexpr int kMaxRetryDelayMs = 60'000;

    explicit Connection(QObject *parent = nullptr);
    ~Connection() override;

    void setServerUrl(const QUrl &url) { m_url = url; }
    [[nodiscard]] QUrl serverUrl() const { return m_url; }
    // Ping when nothing was received for this long; a socket silent for
    // interval + pong timeout is dropped (default 20 s + 15 s: dead in < 1 min).
    void setPingInterval(int ms, int pongTimeoutMs);
    void setClientName(const QString &name) { m_clientName = name; }
    // Trust on first use: the SHA-256 of the certificate this server showed
    // before (empty: none pinned). A certificate the system trusts (a real
    // CA's) is taken as usual; any other must match this pin.
    void setPinnedFingerprint(const QByteArray &sha256) { m_pinnedFingerprint = sha256; }
    [[nodiscard]] QByteArray pinnedFingerprint() const { return m_pinnedFingerprint; }
    // In TrustRequired: the fingerprint the server showed, and whether it
    // replaces a pinned one (the key changed) rather than being the first.
    [[nodiscard]] QByteArray offeredFingerprint() const { return m_offeredFingerprint; }
    [[nodiscard]] bool pinChanged() const { return m_pinChanged; }
    // Pins this fingerprint and, in TrustRequired, connects again with the
    // same credentials. Only the fingerprint that was offered is taken: what
    // the user compared is what gets trusted. False when it differs.
    [[nodiscard]] bool trust(const QByteArray &sha256);

    // Connects and authenticates, then keeps the connection up until stop().
    void start(const Credentials &credentials);
    void stop();
    // Skip the wait and try now (also what a network-up or wake-up does).
    void retryNow();

    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] bool isOnline() const { return m_state == State::Online; }
    [[nodiscard]] int nextRetryIn() const;
    [[nodiscard]] QString lastError() const { return m_lastError; }
    [[nodiscard]] const v1::HelloOk &helloOk() const { return m_helloOk; }

    // Sends a request with a fresh request id; handler gets the answer, or an
    // error when it fails, times out or the connection drops first.
    quint32 request(v1::Envelope envelope, ReplyHandler handler,
                    int timeoutMs = kDefaultRequestTimeoutMs);
    // Sends a frame that expects no answer (typing with request_id 0).
    bool sendOneWay(const v1::Envelope &envelope);

signals:
    void stateChanged(kith::client::Connection::State state);
    void onlineChanged(bool online);
    void nextRetryInChanged(int seconds);
    void lastErrorChanged(const QString &error);
    // After every successful authentication (the token is empty on resume).
    void authenticated(const kith::v1::AuthOk &authOk);
    // The server refused the credentials or the token; no more retries.
    void authRejected(const kith::Error &error);
    // Pushes: every frame with request_id 0 that is not an error or a ping.
    void pushReceived(const kith::v1::Envelope &envelope);
    // Entered TrustRequired: see offeredFingerprint() and pinChanged().
    void trustRequired(const QByteArray &fingerprint, bool changed);

private:
    struct Pending
    {
        ReplyHandler handler;
        QDeadlineTimer deadline;
    };

    void openSocket();
    void onConnected();
    void onDisconnected();
    void onBinaryMessage(const QByteArray &bytes);
    void onSslErrors(const QList<QSslError> &errors);
    void requireTrust(const QByteArray &fingerprint);
    void handleAnswer(const v1::Envelope &envelope);
    void sendHello();
    void sendAuth();
    void becomeOnline(const v1::AuthOk &authOk);
    void dropSocket(const QString &reason);
    void scheduleRetry(int minimumDelayMs = 0);
    void failAllPending(const QString &reason);
    void checkTimers();
    void checkClock();
    void setState(State state);
    void setLastError(const QString &error);
    bool sendFrame(const v1::Envelope &envelope);

    QUrl m_url;
    QString m_clientName = QStringLiteral("libkithclient");
    Credentials m_credentials;
    std::unique_ptr<QWebSocket> m_socket;
    State m_state = State::Idle;
    QString m_lastError;
    v1::HelloOk m_helloOk;
    bool m_running = false;
    QByteArray m_pinnedFingerprint;
    QByteArray m_offeredFingerprint;
    bool m_pinChanged = false;

    quint32 m_nextRequestId = 1;
    QHash<quint32, Pending> m_pending;

    int m_failedAttempts = 0;
    QTimer m_retryTimer;
    QDeadlineTimer m_retryDeadline;
    QTimer m_countdownTimer; // ticks nextRetryIn for the UI

    QTimer m_tickTimer; // request timeouts, ping and watchdog
    QElapsedTimer m_sinceReceive;
    QDeadlineTimer m_connectDeadline;
    bool m_pingInFlight = false;
    int m_pingIntervalMs = 20'000;
    int m_effectivePingMs = 20'000; // lowered to a third of the server's idle timeout
    int m_pongTimeoutMs = 15'000;

    QTimer m_clockTimer; // wall clock vs monotonic: detects suspend/resume and clock jumps
    QElapsedTimer m_monotonic;
    qint64 m_wallAtCheck = 0;
};

} // namespace kith::client
