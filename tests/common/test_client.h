#pragma once
// TestClient: a small synchronous-style Kith protocol client over a real
// QWebSocket, for tests. Requests wait in a nested event loop for the answer
// with their request id; everything else the server sends (pushes, errors with
// request id 0, answers nobody waits for) is queued for waitForPush. Server
// pings are answered automatically. Frames are kept exactly as they came: a
// Compressed one (see setHelloFeatures) is the test's to unwrap. Owned by the test.

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <QWebSocket>

#include <functional>
#include <optional>

#include "kith/v1/envelope.pb.h"

namespace kith::test {

// Long enough for Argon2id on a busy two-core machine; a test that waits this
// long has failed anyway.
constexpr int kDefaultTimeoutMs = 20000;

// One line saying what an answer was, for test failure messages.
[[nodiscard]] QByteArray describe(const std::optional<v1::Envelope> &answer);
// A fresh client message id.
[[nodiscard]] QString newClientMsgId();

class TestClient : public QObject
{
    Q_OBJECT

public:
    using Predicate = std::function<bool(const v1::Envelope &)>;

    explicit TestClient(QObject *parent = nullptr);
    ~TestClient() override;

    // TLS settings for wss (e.g. the test's own CA); before connectTo.
    void setSslConfiguration(const QSslConfiguration &configuration);
    // The certificate the server presented over wss (null for ws).
    [[nodiscard]] QSslCertificate peerCertificate() const;
    // Opens the WebSocket; false when it is not connected within the timeout.
    [[nodiscard]] bool connectTo(const QUrl &url, int timeoutMs = kDefaultTimeoutMs);
    void close();
    [[nodiscard]] bool isConnected() const;
    // Waits until the server (or the network) closed the connection.
    [[nodiscard]] bool waitForDisconnected(int timeoutMs = kDefaultTimeoutMs);
    // The close code of the last closed connection (1005 when none was given).
    [[nodiscard]] int closeCode() const;

    // Optional features listed in every later Hello (e.g. "deflate"); none by default.
    void setHelloFeatures(const QStringList &features) { m_helloFeatures = features; }
    // The answer to a Hello with the given protocol major (hello_ok or error).
    std::optional<v1::Envelope> hello(quint32 protocolMajor = 1);
    // Auth requests; on auth_ok the client remembers user id, device id and token.
    std::optional<v1::Envelope> registerUser(const QString &username, const QString &password,
                                             const QString &displayName = {},
                                             const QString &deviceName = QStringLiteral("test"));
    std::optional<v1::Envelope> login(const QString &username, const QString &password,
                                      const QString &deviceName = QStringLiteral("test"));
    std::optional<v1::Envelope> resume(const QString &token);

    // Connect + hello + register / login / resume in one go; false on any failure.
    [[nodiscard]] bool connectAndRegister(const QUrl &url, const QString &username,
                                          const QString &password = QStringLiteral("password123"));
    [[nodiscard]] bool connectAndLogin(const QUrl &url, const QString &username,
                                       const QString &password = QStringLiteral("password123"),
                                       const QString &deviceName = QStringLiteral("test"));
    [[nodiscard]] bool connectAndResume(const QUrl &url, const QString &token);

    [[nodiscard]] quint64 userId() const { return m_userId; }
    [[nodiscard]] quint64 deviceId() const { return m_deviceId; }
    [[nodiscard]] QString token() const { return m_token; }

    // Sends a request with a fresh request id and waits for its answer; nullopt
    // on timeout or when the connection closed first.
    std::optional<v1::Envelope> request(v1::Envelope envelope, int timeoutMs = kDefaultTimeoutMs);
    // Sends a request with a fresh request id without waiting; returns the id.
    // The answer is kept for takeAnswer/waitForAnswer and announced by answered().
    quint32 post(v1::Envelope envelope);
    std::optional<v1::Envelope> waitForAnswer(quint32 requestId, int timeoutMs = kDefaultTimeoutMs);
    std::optional<v1::Envelope> takeAnswer(quint32 requestId);
    // How many bytes the answer to a request had on the wire; 0 before it came.
    [[nodiscard]] qsizetype answerFrameBytes(quint32 requestId) const
    {
        return m_answerFrameBytes.value(requestId);
    }

    // The first queued frame matching the predicate (removed from the queue),
    // waiting for it when none is queued yet.
    std::optional<v1::Envelope> waitForPush(const Predicate &predicate,
                                            int timeoutMs = kDefaultTimeoutMs);
    [[nodiscard]] const QList<v1::Envelope> &pushes() const { return m_pushes; }
    void clearPushes() { m_pushes.clear(); }
    // The messages of one conversation among the queued pushes, in arrival order.
    [[nodiscard]] QList<v1::Message> messagePushes(const QString &conversationId) const;
    // Binary frames from the server that were not an Envelope (a server bug).
    [[nodiscard]] int undecodableFrames() const { return m_undecodableFrames; }

    // Bad input: bytes and text exactly as given.
    void sendRaw(const QByteArray &bytes);
    void sendText(const QString &text);
    // An envelope exactly as given (its request id too), without waiting.
    void sendEnvelope(const v1::Envelope &envelope);

    // A text message; the answer is send_ack or error.
    std::optional<v1::Envelope> send(const QString &conversationId, const QString &text,
                                     const QString &clientMsgId, int timeoutMs = kDefaultTimeoutMs);
    [[nodiscard]] static v1::Envelope sendRequest(const QString &conversationId,
                                                  const QString &text, const QString &clientMsgId);
    // A forward pull of up to `limit` messages from fromSeq, without a request id.
    [[nodiscard]] static v1::Envelope pullRequest(const QString &conversationId, quint64 fromSeq,
                                                  quint32 limit = 200);
    // The history from fromSeq on, paging forward 200 at a time; nullopt on any error.
    std::optional<QList<v1::Message>> pullAll(const QString &conversationId, quint64 fromSeq = 1);
    // The answer to a pull of one page (pull_response or error).
    std::optional<v1::Envelope> pull(const QString &conversationId, quint64 fromSeq,
                                     quint32 limit = 200);
    std::optional<v1::Envelope> sync(const QList<v1::ConversationCursor> &held = {});

    // Runs the event loop until the condition holds or the timeout passes.
    static bool waitUntil(const std::function<bool()> &condition,
                          int timeoutMs = kDefaultTimeoutMs);

signals:
    void answered(quint32 requestId);
    void frameReceived();

private:
    void onBinaryMessage(const QByteArray &bytes);
    void rememberAuth(const std::optional<v1::Envelope> &answer);
    // Whether the answer is auth_ok; when not and `what` is given, says why in the log.
    [[nodiscard]] bool authOk(const std::optional<v1::Envelope> &answer,
                              const char *what = nullptr) const;

    QWebSocket m_socket;
    quint32 m_nextRequestId = 0;
    QSet<quint32> m_outstanding; // posted requests without an answer yet
    QHash<quint32, v1::Envelope> m_answers;
    QHash<quint32, qsizetype> m_answerFrameBytes;
    QStringList m_helloFeatures;
    QList<v1::Envelope> m_pushes;
    int m_undecodableFrames = 0;
    quint64 m_userId = 0;
    quint64 m_deviceId = 0;
    QString m_token;
};

} // namespace kith::test
