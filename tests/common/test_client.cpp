#include "test_client.h"

#include "kith/protocol.h"

#include <QCoreApplication>
#include <QTimer>
#include <QUuid>

namespace kith::test {

namespace {

// Bounds pullAll: 10000 pages of 200 is far beyond any test's history.
constexpr int kMaxPullPages = 10000;

} // namespace

QByteArray describe(const std::optional<v1::Envelope> &answer)
{
    if (!answer)
        return QByteArrayLiteral("no answer (timeout or connection closed)");
    return QByteArray::fromStdString(answer->ShortDebugString());
}

QString newClientMsgId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces);
}

TestClient::TestClient(QObject *parent)
    : QObject(parent)
{
    connect(&m_socket, &QWebSocket::binaryMessageReceived, this, &TestClient::onBinaryMessage);
    // The protocol has no text frames; one from the server is as wrong as garbage.
    connect(&m_socket, &QWebSocket::textMessageReceived, this, [this] {
        ++m_undecodableFrames;
        emit frameReceived();
    });
}

TestClient::~TestClient() = default;

QSslCertificate TestClient::peerCertificate() const
{
    return m_socket.sslConfiguration().peerCertificate();
}

void TestClient::setSslConfiguration(const QSslConfiguration &configuration)
{
    m_socket.setSslConfiguration(configuration);
}

bool TestClient::connectTo(const QUrl &url, int timeoutMs)
{
    m_outstanding.clear();
    m_answers.clear();
    m_answerFrameBytes.clear();
    m_socket.open(url);
    waitUntil(
        [this] {
            const auto state = m_socket.state();
            return state == QAbstractSocket::ConnectedState ||
                   state == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
    if (!isConnected()) {
        qWarning("TestClient: cannot connect to %s: %s", qPrintable(url.toString()),
                 qPrintable(m_socket.errorString()));
        m_socket.abort();
        return false;
    }
    return true;
}

void TestClient::close()
{
    m_socket.close();
    if (!waitForDisconnected(5000))
        m_socket.abort();
}

bool TestClient::isConnected() const
{
    return m_socket.state() == QAbstractSocket::ConnectedState;
}

bool TestClient::waitForDisconnected(int timeoutMs)
{
    return waitUntil([this] { return m_socket.state() == QAbstractSocket::UnconnectedState; },
                     timeoutMs);
}

int TestClient::closeCode() const
{
    return int(m_socket.closeCode());
}

std::optional<v1::Envelope> TestClient::hello(quint32 protocolMajor)
{
    v1::Envelope envelope;
    auto *hello = envelope.mutable_hello();
    hello->set_protocol_major(protocolMajor);
    hello->set_protocol_minor(kProtocolMinor);
    hello->set_client_name("kith-tests");
    hello->set_client_version("0");
    for (const QString &feature : std::as_const(m_helloFeatures))
        hello->add_features(toStd(feature));
    return request(std::move(envelope));
}

std::optional<v1::Envelope> TestClient::registerUser(const QString &username,
                                                     const QString &password,
                                                     const QString &displayName,
                                                     const QString &deviceName)
{
    v1::Envelope envelope;
    auto *reg = envelope.mutable_register_();
    reg->set_username(toStd(username));
    reg->set_password(toStd(password));
    reg->set_display_name(toStd(displayName.isEmpty() ? username : displayName));
    reg->set_device_name(toStd(deviceName));
    auto answer = request(std::move(envelope));
    rememberAuth(answer);
    return answer;
}

std::optional<v1::Envelope> TestClient::login(const QString &username, const QString &password,
                                              const QString &deviceName)
{
    v1::Envelope envelope;
    auto *login = envelope.mutable_login();
    login->set_username(toStd(username));
    login->set_password(toStd(password));
    login->set_device_name(toStd(deviceName));
    auto answer = request(std::move(envelope));
    rememberAuth(answer);
    return answer;
}

std::optional<v1::Envelope> TestClient::resume(const QString &token)
{
    v1::Envelope envelope;
    envelope.mutable_resume()->set_token(toStd(token));
    auto answer = request(std::move(envelope));
    rememberAuth(answer);
    return answer;
}

bool TestClient::connectAndRegister(const QUrl &url, const QString &username,
                                    const QString &password)
{
    if (!connectTo(url))
        return false;
    const auto helloAnswer = hello();
    if (!helloAnswer || !helloAnswer->has_hello_ok()) {
        qWarning("TestClient: hello answered %s", describe(helloAnswer).constData());
        return false;
    }
    return authOk(registerUser(username, password), "register");
}

bool TestClient::connectAndLogin(const QUrl &url, const QString &username, const QString &password,
                                 const QString &deviceName)
{
    if (!connectTo(url))
        return false;
    const auto helloAnswer = hello();
    if (!helloAnswer || !helloAnswer->has_hello_ok()) {
        qWarning("TestClient: hello answered %s", describe(helloAnswer).constData());
        return false;
    }
    return authOk(login(username, password, deviceName), "login");
}

bool TestClient::connectAndResume(const QUrl &url, const QString &token)
{
    if (!connectTo(url))
        return false;
    const auto helloAnswer = hello();
    if (!helloAnswer || !helloAnswer->has_hello_ok()) {
        qWarning("TestClient: hello answered %s", describe(helloAnswer).constData());
        return false;
    }
    return authOk(resume(token), "resume");
}

std::optional<v1::Envelope> TestClient::request(v1::Envelope envelope, int timeoutMs)
{
    return waitForAnswer(post(std::move(envelope)), timeoutMs);
}

quint32 TestClient::post(v1::Envelope envelope)
{
    if (++m_nextRequestId == 0)
        ++m_nextRequestId; // 0 marks pushes
    envelope.set_request_id(m_nextRequestId);
    m_outstanding.insert(m_nextRequestId);
    sendEnvelope(envelope);
    return m_nextRequestId;
}

std::optional<v1::Envelope> TestClient::waitForAnswer(quint32 requestId, int timeoutMs)
{
    waitUntil([this, requestId] { return m_answers.contains(requestId) || !isConnected(); },
              timeoutMs);
    return takeAnswer(requestId);
}

std::optional<v1::Envelope> TestClient::takeAnswer(quint32 requestId)
{
    const auto it = m_answers.find(requestId);
    if (it == m_answers.end())
        return std::nullopt;
    v1::Envelope answer = std::move(it.value());
    m_answers.erase(it);
    return answer;
}

std::optional<v1::Envelope> TestClient::waitForPush(const Predicate &predicate, int timeoutMs)
{
    std::optional<v1::Envelope> found;
    waitUntil(
        [&] {
            for (qsizetype i = 0; i < m_pushes.size(); ++i) {
                if (predicate(m_pushes.at(i))) {
                    found = m_pushes.takeAt(i);
                    return true;
                }
            }
            return false;
        },
        timeoutMs);
    return found;
}

QList<v1::Message> TestClient::messagePushes(const QString &conversationId) const
{
    const std::string id = toStd(conversationId);
    QList<v1::Message> messages;
    for (const auto &push : m_pushes) {
        if (push.has_message() && push.message().message().conversation_id() == id)
            messages.append(push.message().message());
    }
    return messages;
}

void TestClient::sendRaw(const QByteArray &bytes)
{
    m_socket.sendBinaryMessage(bytes);
}

void TestClient::sendText(const QString &text)
{
    m_socket.sendTextMessage(text);
}

void TestClient::sendEnvelope(const v1::Envelope &envelope)
{
    m_socket.sendBinaryMessage(encodeEnvelope(envelope));
}

v1::Envelope TestClient::sendRequest(const QString &conversationId, const QString &text,
                                     const QString &clientMsgId)
{
    v1::Envelope envelope;
    auto *send = envelope.mutable_send();
    send->set_conversation_id(toStd(conversationId));
    send->set_client_msg_id(toStd(clientMsgId));
    send->mutable_content()->mutable_text()->set_body(toStd(text));
    return envelope;
}

std::optional<v1::Envelope> TestClient::send(const QString &conversationId, const QString &text,
                                             const QString &clientMsgId, int timeoutMs)
{
    return request(sendRequest(conversationId, text, clientMsgId), timeoutMs);
}

v1::Envelope TestClient::pullRequest(const QString &conversationId, quint64 fromSeq, quint32 limit)
{
    v1::Envelope envelope;
    auto *pull = envelope.mutable_pull();
    pull->set_conversation_id(toStd(conversationId));
    pull->set_direction(v1::PullRequest::FORWARD);
    pull->set_from_seq(fromSeq);
    pull->set_limit(limit);
    return envelope;
}

std::optional<v1::Envelope> TestClient::pull(const QString &conversationId, quint64 fromSeq,
                                             quint32 limit)
{
    return request(pullRequest(conversationId, fromSeq, limit));
}

std::optional<QList<v1::Message>> TestClient::pullAll(const QString &conversationId,
                                                      quint64 fromSeq)
{
    QList<v1::Message> messages;
    quint64 from = fromSeq;
    for (int page = 0; page < kMaxPullPages; ++page) {
        const auto answer = pull(conversationId, from, kMaxPullLimit);
        if (!answer || !answer->has_pull_response())
            return std::nullopt;
        const auto &response = answer->pull_response();
        for (const auto &message : response.messages())
            messages.append(message);
        if (!response.has_more())
            return messages;
        if (response.messages().empty())
            return std::nullopt; // "more" but nothing given: it would never end
        from = response.messages().rbegin()->seq() + 1;
    }
    return std::nullopt;
}

std::optional<v1::Envelope> TestClient::sync(const QList<v1::ConversationCursor> &held)
{
    v1::Envelope envelope;
    auto *sync = envelope.mutable_sync();
    for (const auto &cursor : held)
        *sync->add_held() = cursor;
    return request(std::move(envelope));
}

bool TestClient::waitUntil(const std::function<bool()> &condition, int timeoutMs)
{
    if (condition())
        return true;
    // The timer only wakes the loop at the deadline; any socket activity wakes
    // it sooner and the condition is checked after every batch of events.
    QTimer deadline;
    deadline.setSingleShot(true);
    deadline.start(timeoutMs);
    while (deadline.isActive()) {
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
        if (condition())
            return true;
    }
    return condition();
}

void TestClient::onBinaryMessage(const QByteArray &bytes)
{
    auto envelope = decodeEnvelope(bytes);
    if (!envelope) {
        ++m_undecodableFrames;
        emit frameReceived();
        return;
    }
    if (envelope->has_ping()) {
        v1::Envelope pong;
        pong.set_request_id(envelope->request_id());
        pong.mutable_pong()->set_nonce(envelope->ping().nonce());
        sendEnvelope(pong);
        return;
    }
    const quint32 requestId = envelope->request_id();
    if (requestId != 0 && m_outstanding.remove(requestId)) {
        m_answers.insert(requestId, std::move(*envelope));
        m_answerFrameBytes.insert(requestId, bytes.size());
        emit answered(requestId);
    } else {
        m_pushes.append(std::move(*envelope));
    }
    emit frameReceived();
}

void TestClient::rememberAuth(const std::optional<v1::Envelope> &answer)
{
    if (!authOk(answer))
        return;
    const auto &ok = answer->auth_ok();
    m_userId = ok.user().id();
    m_deviceId = ok.device_id();
    if (!ok.token().empty())
        m_token = toQString(ok.token());
}

bool TestClient::authOk(const std::optional<v1::Envelope> &answer, const char *what) const
{
    if (answer && answer->has_auth_ok())
        return true;
    if (what)
        qWarning("TestClient: %s answered %s", what, describe(answer).constData());
    return false;
}

} // namespace kith::test
