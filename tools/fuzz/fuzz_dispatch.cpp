// Fuzz target: the protocol dispatch of a Session, with everything behind it
// real (services, a SQLite store in a temporary folder, the bulk lane, the
// router). The input is a script of Envelopes, each a valid protobuf message
// whose fields the custom mutator below changes one at a time (a body
// switched for another, an id pointed at something that exists or not, seqs
// and limits at their edges, long and broken strings), so the fuzzer spends
// its time past the decoder, in the services. Unless the script begins with
// hello or an auth request itself, it runs on a connection that said hello
// and resumed a real user's token. Finds: crashes, sanitizer reports, and
// answers that are not a decodable Envelope.

#include "bulk_lane.h"
#include "credentials.h"
#include "fs_blob_store.h"
#include "kith/compression.h"
#include "kith/protocol.h"
#include "local_push_router.h"
#include "metrics.h"
#include "request_budgets.h"
#include "services.h"
#include "session.h"
#include "sqlite_store.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QLoggingCategory>
#include <QTemporaryDir>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace kith;
using namespace kith::server;
namespace pb = google::protobuf;

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

namespace {

// A connection with no network: what the session sends is checked to be an
// Envelope and dropped.
class FakeSocket final : public WireSocket
{
public:
    void setMaxMessageBytes(qint64 bytes) override { m_maxMessageBytes = bytes; }
    void sendBinaryMessage(const QByteArray &message) override
    {
        if (!decodeEnvelope(message))
            __builtin_trap(); // the server sent something that is not the protocol
    }
    [[nodiscard]] qint64 bytesToWrite() const override { return 0; }
    void close(QWebSocketProtocol::CloseCode, const QString &) override { abort(); }
    void abort() override
    {
        if (m_closed)
            return;
        m_closed = true;
        QMetaObject::invokeMethod(
            this, [this] { emit disconnected(); }, Qt::QueuedConnection);
    }
    [[nodiscard]] QHostAddress peerAddress() const override { return QHostAddress::LocalHost; }

    void receive(const QByteArray &frame)
    {
        if (m_closed)
            return;
        if (frame.size() > m_maxMessageBytes) {
            emit messageTooLarge();
            return abort();
        }
        emit binaryMessageReceived(frame);
    }

private:
    qint64 m_maxMessageBytes = kMaxPreAuthFrameBytes;
    bool m_closed = false;
};

// How long the harness waits for the store (a commit) before it gives up.
constexpr int kSettleMs = 60'000;

// Runs the event loop until `done` holds (kSettleMs at most).
bool settle(const std::function<bool()> &done)
{
    // A deadline, not a count of turns: on a busy machine a commit (an
    // fsync) can outlast thousands of quick turns of the loop.
    const QDeadlineTimer deadline(kSettleMs);
    while (!done() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
    return done();
}

template<class T, class Start> std::optional<T> await(Start start)
{
    QObject context;
    std::optional<Result<T>> outcome;
    start(&context, [&outcome](Result<T> result) { outcome.emplace(std::move(result)); });
    settle([&outcome] { return outcome.has_value(); });
    if (!outcome || !*outcome)
        return std::nullopt;
    return **outcome;
}

// Strings the mutator puts in string fields: ids that exist, ids that do
// not, and edge cases.
std::vector<std::string> g_strings = {
    "",
    "x",
    "g:",
    "g:0",
    "g:1",
    "d:0:0",
    "d:1:1",
    "d:2:1",
    "g:99999999999999999999",
    "g:-1",
    "d:1:18446744073709551615",
    "\xc3\x28",
    "\xed\xa0\x80",
    std::string(300, 'a'),
    std::string(1, '\0'),
    "deflate",
    "alice",
    "bob",
};

// The server and its data; remade now and then so the store stays small.
struct World
{
    QTemporaryDir dir;
    std::unique_ptr<SqliteStore> store;
    Metrics metrics;
    std::unique_ptr<LocalPushRouter> router;
    std::unique_ptr<FsBlobStore> blobs;
    std::unique_ptr<Services> services;
    std::unique_ptr<BulkLane> lane;
    std::unique_ptr<RequestBudgets> budgets;
    std::string token;
    quint64 nextConnection = 1;
    int inputs = 0;

    bool build()
    {
        SqliteStore::Options options;
        options.synchronous = SqliteStore::Synchronous::Normal;
        store =
            std::make_unique<SqliteStore>(dir.filePath(QStringLiteral("kith.sqlite3")), options);
        if (!store->open())
            return false;
        router = std::make_unique<LocalPushRouter>(&metrics);
        ServicesOptions wiring;
        wiring.argon2 = {8, 1}; // libsodium's least: hashes must not be what the time goes on
        wiring.auth.authRate = 0;
        wiring.auth.registrationsPerHour = 0;
        wiring.auth.hashesInFlight = 4;
        blobs = std::make_unique<FsBlobStore>(dir.filePath(QStringLiteral("files")));
        if (!blobs->open())
            return false;
        services = std::make_unique<Services>(*store, *blobs, *router, wiring);
        lane = std::make_unique<BulkLane>();
        RequestBudgetOptions unlimited;
        unlimited.send = unlimited.read = unlimited.write = unlimited.groupChange =
            unlimited.typing = {0, 1};
        budgets = std::make_unique<RequestBudgets>(unlimited);

        const auto alice = await<UserRecord>([&](QObject *context, auto done) {
            store->createUser(QStringLiteral("alice"), QStringLiteral("Alice"),
                              *hashPassword("alice's password", {8, 1}), context, done);
        });
        const auto bob = await<UserRecord>([&](QObject *context, auto done) {
            store->createUser(QStringLiteral("bob"), QStringLiteral("Bob"),
                              *hashPassword("bob's password", {8, 1}), context, done);
        });
        if (!alice || !bob)
            return false;
        token = newDeviceToken().toStdString();
        const auto device = await<DeviceRecord>([&](QObject *context, auto done) {
            store->createDevice(alice->id, QStringLiteral("fuzz"),
                                hashDeviceToken(QByteArray::fromStdString(token)), context, done);
        });
        const auto group = await<GroupChange>([&](QObject *context, auto done) {
            store->createGroup(alice->id, QStringLiteral("fuzz"), {bob->id}, context, done);
        });
        if (!device || !group)
            return false;
        g_strings.push_back(group->state.id());
        g_strings.push_back("d:" + std::to_string(alice->id) + ":" + std::to_string(bob->id));
        return true;
    }

    void tearDown()
    {
        if (lane)
            lane->drain();
        QCoreApplication::processEvents();
        lane.reset();
        services.reset();
        router.reset();
        if (store)
            store->close();
        QCoreApplication::processEvents();
        store.reset();
    }

    [[nodiscard]] ServiceSet set()
    {
        return ServiceSet{services->auth,
                          services->messages,
                          services->groups,
                          services->users,
                          services->files,
                          *router,
                          *lane,
                          metrics,
                          budgets.get()};
    }
};

std::unique_ptr<World> g_world;

// ---- the script: Envelopes, each with a two-byte length before it ----------

constexpr size_t kMaxScript = 24;

std::vector<v1::Envelope> parseScript(const uint8_t *data, size_t size)
{
    std::vector<v1::Envelope> script;
    size_t at = 0;
    while (at + 2 <= size && script.size() < kMaxScript) {
        const size_t length = size_t(data[at]) << 8 | data[at + 1];
        at += 2;
        if (at + length > size)
            break;
        v1::Envelope envelope;
        if (envelope.ParseFromArray(data + at, int(length)))
            script.push_back(std::move(envelope));
        at += length;
    }
    return script;
}

std::string writeScript(const std::vector<v1::Envelope> &script)
{
    std::string out;
    for (const v1::Envelope &envelope : script) {
        const std::string bytes = envelope.SerializeAsString();
        if (bytes.size() > 0xFFFF)
            continue;
        out.push_back(char(bytes.size() >> 8));
        out.push_back(char(bytes.size() & 0xFF));
        out += bytes;
    }
    return out;
}

// ---- the structured mutator ---------------------------------------------------

uint64_t pickNumber(std::mt19937_64 &rng)
{
    static const uint64_t edges[] = {0,
                                     1,
                                     2,
                                     3,
                                     50,
                                     199,
                                     200,
                                     201,
                                     500,
                                     1000,
                                     uint64_t(std::numeric_limits<int64_t>::max()),
                                     uint64_t(std::numeric_limits<int64_t>::max()) + 1,
                                     std::numeric_limits<uint64_t>::max(),
                                     std::numeric_limits<uint32_t>::max()};
    if (rng() % 3 == 0)
        return rng() % 64;
    if (rng() % 4 == 0)
        return rng();
    return edges[rng() % std::size(edges)];
}

std::string pickString(std::mt19937_64 &rng)
{
    std::string s = g_strings[rng() % g_strings.size()];
    if (rng() % 5 == 0)
        s += std::to_string(rng() % 100);
    if (rng() % 11 == 0)
        s = std::string(size_t(rng() % 70'000), char('a' + rng() % 26));
    return s;
}

void mutateMessage(pb::Message &message, std::mt19937_64 &rng, int depth);

// Sets one field of `message` to something new.
void mutateField(pb::Message &message, const pb::FieldDescriptor *field, std::mt19937_64 &rng,
                 int depth)
{
    const pb::Reflection *r = message.GetReflection();
    if (field->is_repeated()) {
        if (r->FieldSize(message, field) > 0 && rng() % 3 == 0)
            return r->RemoveLast(&message, field);
        switch (field->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_UINT64:
            return r->AddUInt64(&message, field, pickNumber(rng));
        case pb::FieldDescriptor::CPPTYPE_STRING:
            return r->AddString(&message, field, pickString(rng));
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
            if (depth < 4)
                mutateMessage(*r->AddMessage(&message, field), rng, depth + 1);
            return;
        default:
            return;
        }
    }
    switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
        return r->SetInt32(&message, field, int32_t(pickNumber(rng)));
    case pb::FieldDescriptor::CPPTYPE_INT64:
        return r->SetInt64(&message, field, int64_t(pickNumber(rng)));
    case pb::FieldDescriptor::CPPTYPE_UINT32:
        return r->SetUInt32(&message, field, uint32_t(pickNumber(rng)));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
        return r->SetUInt64(&message, field, pickNumber(rng));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
        return r->SetBool(&message, field, !r->GetBool(message, field));
    case pb::FieldDescriptor::CPPTYPE_ENUM:
        return r->SetEnumValue(&message, field, int(rng() % 12) - 1);
    case pb::FieldDescriptor::CPPTYPE_STRING:
        return r->SetString(&message, field, pickString(rng));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        if (depth < 4)
            mutateMessage(*r->MutableMessage(&message, field), rng, depth + 1);
        return;
    default:
        return;
    }
}

void mutateMessage(pb::Message &message, std::mt19937_64 &rng, int depth)
{
    const pb::Descriptor *d = message.GetDescriptor();
    if (d->field_count() == 0)
        return;
    // An Envelope keeps its body more often than not: the body's own fields
    // are where the services look.
    if (d == v1::Envelope::descriptor()) {
        const pb::Reflection *r = message.GetReflection();
        const pb::OneofDescriptor *body = d->FindOneofByName("body");
        const pb::FieldDescriptor *current = r->GetOneofFieldDescriptor(message, body);
        if (current && rng() % 4 != 0) {
            if (rng() % 8 == 0)
                return mutateField(message, d->FindFieldByName("request_id"), rng, depth);
            return mutateMessage(*r->MutableMessage(&message, current), rng, depth + 1);
        }
        const pb::FieldDescriptor *next = body->field(int(rng() % uint64_t(body->field_count())));
        r->MutableMessage(&message, next); // switches the body, empty
        return mutateMessage(message, rng, depth);
    }
    mutateField(message, d->field(int(rng() % uint64_t(d->field_count()))), rng, depth);
}

v1::Envelope randomEnvelope(std::mt19937_64 &rng)
{
    v1::Envelope envelope;
    envelope.set_request_id(uint32_t(rng() % 8));
    const pb::OneofDescriptor *body = v1::Envelope::descriptor()->FindOneofByName("body");
    envelope.GetReflection()->MutableMessage(
        &envelope, body->field(int(rng() % uint64_t(body->field_count()))));
    for (int i = int(rng() % 4); i >= 0; --i)
        mutateMessage(envelope, rng, 0);
    return envelope;
}

bool isHandshake(const v1::Envelope &envelope)
{
    switch (envelope.body_case()) {
    case v1::Envelope::kHello:
    case v1::Envelope::kRegister:
    case v1::Envelope::kLogin:
    case v1::Envelope::kResume:
        return true;
    default:
        return false;
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    QLoggingCategory::setFilterRules(QStringLiteral("kith.*=false"));
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize,
                                          unsigned int seed)
{
    std::mt19937_64 rng(seed);
    std::vector<v1::Envelope> script = parseScript(data, size);
    const uint64_t op = rng() % 10;
    if (script.empty() || op == 0 || script.size() < 2) {
        script.insert(script.begin() + ptrdiff_t(rng() % (script.size() + 1)), randomEnvelope(rng));
    } else if (op == 1) {
        script.erase(script.begin() + ptrdiff_t(rng() % script.size()));
    } else if (op == 2) {
        script.push_back(script[rng() % script.size()]);
    } else if (op == 3) {
        // Now and then the bytes themselves: a field the schema would not make.
        v1::Envelope &target = script[rng() % script.size()];
        std::string bytes = target.SerializeAsString();
        const size_t used = bytes.size();
        bytes.resize(used + 32);
        const size_t length =
            LLVMFuzzerMutate(reinterpret_cast<uint8_t *>(bytes.data()), used, bytes.size());
        v1::Envelope parsed;
        if (parsed.ParseFromArray(bytes.data(), int(length)))
            target = std::move(parsed);
    } else {
        mutateMessage(script[rng() % script.size()], rng, 0);
    }
    while (script.size() > kMaxScript)
        script.pop_back();
    std::string out = writeScript(script);
    while (out.size() > maxSize && !script.empty()) {
        script.pop_back();
        out = writeScript(script);
    }
    std::memcpy(data, out.data(), std::min(out.size(), maxSize));
    return std::min(out.size(), maxSize);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_world || g_world->inputs >= 2000) {
        if (g_world)
            g_world->tearDown();
        g_world = std::make_unique<World>();
        if (!g_world->build())
            __builtin_trap(); // the harness itself failed
    }
    World &world = *g_world;
    ++world.inputs;
    const std::vector<v1::Envelope> script = parseScript(data, size);

    auto *socket = new FakeSocket;
    SessionLimits limits;
    auto *session = new Session(socket, world.set(), limits, world.nextConnection++);
    if (script.empty() || !isHandshake(script.front())) {
        v1::Envelope hello;
        hello.set_request_id(1);
        hello.mutable_hello()->set_protocol_major(kProtocolMajor);
        hello.mutable_hello()->add_features(kDeflateFeature);
        socket->receive(encodeEnvelope(hello));
        v1::Envelope resume;
        resume.set_request_id(2);
        resume.mutable_resume()->set_token(world.token);
        socket->receive(encodeEnvelope(resume));
    }
    const QPointer<Session> alive(session);
    for (const v1::Envelope &envelope : script) {
        if (!alive)
            break;
        socket->receive(encodeEnvelope(envelope));
        QCoreApplication::processEvents();
    }
    // The answers that took a thread (history, hashes, commits) come back.
    world.lane->drain();
    world.services->hasher.waitForIdle();
    QCoreApplication::processEvents();
    delete alive.data();
    QCoreApplication::processEvents();
    return 0;
}
