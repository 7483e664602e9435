#pragma once
// What the kithd service tests share: a real SqliteStore in a temporary
// folder, the services built by Services (the Server's composition root) over
// a LocalPushRouter of connections that record what is pushed to them, and a
// helper to wait for a completion.

#include "fs_blob_store.h"
#include "kith/protocol.h"
#include "local_push_router.h"
#include "metrics.h"
#include "services.h"
#include "sqlite_store.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QTemporaryDir>

#include <memory>
#include <optional>

namespace kith::server::test {

// Generous: the box is shared, and Argon2 takes its time.
constexpr int kWaitMs = 30000;

// Runs `start(context, done)` and waits for `done` to be called.
template<class T, class Start> Result<T> await(Start start)
{
    QObject context;
    std::optional<Result<T>> outcome;
    start(&context, [&outcome](Result<T> result) { outcome.emplace(std::move(result)); });
    const QDeadlineTimer deadline(kWaitMs);
    while (!outcome && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
    if (!outcome)
        return makeError(v1::INTERNAL, QStringLiteral("test: no completion within the timeout"));
    return std::move(*outcome);
}

// Stands in for a Session: records pushes and terminations.
class RecordingConnection : public Connection
{
public:
    explicit RecordingConnection(quint64 id)
        : m_id(id)
    {}
    [[nodiscard]] quint64 connectionId() const override { return m_id; }
    void deliver(const QByteArray &frame) override
    {
        if (auto envelope = decodeEnvelope(frame))
            frames.append(*envelope);
    }
    void terminate(v1::ErrorCode code, const QString &) override { terminatedWith = code; }

    [[nodiscard]] QList<v1::Envelope> of(v1::Envelope::BodyCase body) const
    {
        QList<v1::Envelope> out;
        for (const v1::Envelope &envelope : frames)
            if (envelope.body_case() == body)
                out.append(envelope);
        return out;
    }

    QList<v1::Envelope> frames;
    std::optional<v1::ErrorCode> terminatedWith;

private:
    quint64 m_id;
};

class ServiceFixture
{
public:
    ServiceFixture(AuthPolicy policy, FileOptions fileOptions)
        : ServiceFixture(policy, MessagePolicy{}, fileOptions)
    {}
    // Presence changes are told at once unless a test gives a grace.
    explicit ServiceFixture(AuthPolicy policy = {}, MessagePolicy messagePolicy = {},
                            FileOptions fileOptions = {}, qint64 presenceGraceMs = 0)
    {
        SqliteStore::Options options;
        // Durability is the store's own tests' business; these test rules.
        options.synchronous = SqliteStore::Synchronous::Normal;
        store =
            std::make_unique<SqliteStore>(dir.filePath(QStringLiteral("kith.sqlite3")), options);
        opened = store->open().ok();
        blobs = std::make_unique<FsBlobStore>(dir.filePath(QStringLiteral("files")));
        opened = opened && blobs->open().ok();
        router = std::make_unique<LocalPushRouter>(&metrics);
        ServicesOptions wiring;
        wiring.auth = policy;
        wiring.messages = messagePolicy;
        wiring.files = fileOptions;
        wiring.presenceGraceMs = presenceGraceMs;
        services = std::make_unique<Services>(*store, *blobs, *router, wiring);
        auth = &services->auth;
        messages = &services->messages;
        groups = &services->groups;
        users = &services->users;
        presence = &services->presence;
        files = &services->files;
    }
    ~ServiceFixture()
    {
        services.reset();
        router.reset();
        store->close();
    }

    // A user straight in the store (no password that works: for non-auth tests).
    quint64 addUser(const QString &name)
    {
        const Result<UserRecord> user = await<UserRecord>([&](QObject *context, auto done) {
            store->createUser(name, name.toUpper(), QByteArray("not-a-hash"), context, done);
        });
        return user ? user->id : 0;
    }

    // A connection of `userId` on a device of its own, attached to the router.
    RecordingConnection *connect(quint64 userId, quint64 deviceId)
    {
        connections.push_back(std::make_unique<RecordingConnection>(nextConnectionId++));
        RecordingConnection *connection = connections.back().get();
        router->attach(connection, userId, deviceId);
        return connection;
    }

    [[nodiscard]] Caller callerFor(quint64 userId, const RecordingConnection *connection = nullptr,
                                   quint64 deviceId = 0) const
    {
        Caller caller;
        caller.userId = userId;
        caller.deviceId = deviceId;
        if (connection)
            caller.connection = router->refOf(*connection);
        return caller;
    }

    Result<v1::SendAck> sendText(const Caller &caller, const QString &conversationId,
                                 const std::string &clientMsgId, const std::string &text)
    {
        v1::SendMessageRequest request;
        request.set_conversation_id(toStd(conversationId));
        request.set_client_msg_id(clientMsgId);
        request.mutable_content()->mutable_text()->set_body(text);
        return await<v1::SendAck>(
            [&](QObject *context, auto done) { messages->send(caller, request, context, done); });
    }

    Result<v1::SendAck> sendContent(const Caller &caller, const QString &conversationId,
                                    const std::string &clientMsgId, const v1::Content &content)
    {
        v1::SendMessageRequest request;
        request.set_conversation_id(toStd(conversationId));
        request.set_client_msg_id(clientMsgId);
        *request.mutable_content() = content;
        return await<v1::SendAck>(
            [&](QObject *context, auto done) { messages->send(caller, request, context, done); });
    }

    QTemporaryDir dir;
    bool opened = false;
    Metrics metrics;
    std::unique_ptr<SqliteStore> store;
    std::unique_ptr<FsBlobStore> blobs;
    std::unique_ptr<LocalPushRouter> router;
    std::unique_ptr<Services> services;
    AuthService *auth = nullptr;
    MessageService *messages = nullptr;
    GroupService *groups = nullptr;
    UserService *users = nullptr;
    PresenceService *presence = nullptr;
    FileService *files = nullptr;
    std::vector<std::unique_ptr<RecordingConnection>> connections;
    quint64 nextConnectionId = 1;
};

} // namespace kith::server::test
