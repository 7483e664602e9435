#include "kith/client/outbox.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/logging.h"
#include "kith/content.h"
#include "kith/protocol.h"

namespace kith::client {

namespace {
// Errors that resending the same request cannot fix.
bool isPermanent(v1::ErrorCode code)
{
    switch (code) {
    case v1::INVALID_ARGUMENT:
    case v1::NOT_FOUND:
    case v1::PERMISSION_DENIED:
    case v1::TOO_LARGE:
        return true;
    default:
        return false;
    }
}
} // namespace

Outbox::Outbox(Connection *connection, LocalStore *store, QObject *parent)
    : QObject(parent)
    , m_connection(connection)
    , m_store(store)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Outbox::flush);
    connect(m_connection, &Connection::onlineChanged, this, [this](bool online) {
        if (!online)
            m_inFlight.clear(); // their handlers fail; they are resent on reconnect
    });
    connect(m_store, &LocalStore::storageErrorChanged, this, [this] {
        if (m_store->storageError().isEmpty())
            flush();
    });
}

Result<QString> Outbox::enqueue(const QString &conversationId, const v1::Content &content)
{
    auto entry = m_store->enqueue(conversationId, content);
    if (!entry)
        return entry.error();
    qCDebug(lcOutbox) << "queued" << entry->clientMsgId << "for" << conversationId;
    sendHead(conversationId);
    return entry->clientMsgId;
}

Status Outbox::retry(const QString &clientMsgId)
{
    const auto entry = m_store->outboxEntry(clientMsgId);
    if (!entry)
        return makeError(v1::NOT_FOUND, QStringLiteral("No such outgoing message"));
    if (auto done = m_store->setOutboxStatus(clientMsgId, OutboxStatus::Pending); !done)
        return done;
    sendHead(entry->conversationId);
    return Done{};
}

Status Outbox::discard(const QString &clientMsgId)
{
    auto done = m_store->removeOutboxEntry(clientMsgId);
    checkIdle();
    return done;
}

bool Outbox::isIdle() const
{
    return !m_store->hasPendingOutbox();
}

void Outbox::flush()
{
    for (const QString &id : m_store->conversationsWithPendingOutbox())
        sendHead(id);
    checkIdle();
}

void Outbox::sendHead(const QString &conversationId)
{
    // With the disk full, an ack could not be stored: the same entry would
    // go out again and again.
    if (!m_connection->isOnline() || m_inFlight.contains(conversationId) ||
        !m_store->storageError().isEmpty())
        return;
    // The head alone: reading the whole queue for each send made a long
    // queue (kith-cli send --stdin) quadratic.
    const std::optional<OutboxEntry> head = m_store->outboxHead(conversationId);
    if (!head) {
        checkIdle();
        return;
    }
    m_inFlight.insert(conversationId);
    (void)m_store->noteOutboxAttempt(head->clientMsgId);
    v1::Envelope env;
    auto *send = env.mutable_send();
    send->set_conversation_id(toStd(conversationId));
    send->set_client_msg_id(toStd(head->clientMsgId));
    *send->mutable_content() = head->content;
    const QString clientMsgId = head->clientMsgId;
    m_connection->request(env, [this, conversationId, clientMsgId](Result<v1::Envelope> answer) {
        onAnswer(conversationId, clientMsgId, std::move(answer));
    });
}

void Outbox::onAnswer(const QString &conversationId, const QString &clientMsgId,
                      Result<v1::Envelope> answer)
{
    m_inFlight.remove(conversationId);
    if (answer && answer->body_case() == v1::Envelope::kSendAck) {
        qCDebug(lcOutbox) << "acked" << clientMsgId << "seq" << answer->send_ack().seq()
                          << (answer->send_ack().duplicate() ? "(duplicate)" : "");
        if (auto done = m_store->acknowledge(clientMsgId, answer->send_ack()); !done) {
            // The entry stays pending; resending it later gets the same ack
            // (the server keeps the first). Not at once: the store said why
            // it cannot write, and says when it can again.
            qCWarning(lcOutbox) << "cannot store the ack of" << clientMsgId << done.error().message;
            if (m_store->storageError().isEmpty() && m_connection->isOnline())
                m_retryTimer.start(kRetryDelayMs);
            return;
        }
        sendHead(conversationId);
        return;
    }
    const Error error =
        answer ? makeError(v1::INTERNAL, QStringLiteral("Unexpected answer")) : answer.error();
    if (isPermanent(error.code)) {
        qCInfo(lcOutbox) << "refused" << clientMsgId << error.message;
        // A refused edit, delete or reaction has no bubble to retry from: it goes.
        const auto entry = m_store->outboxEntry(clientMsgId);
        if (entry && isOperation(entry->content))
            (void)m_store->removeOutboxEntry(clientMsgId);
        else
            (void)m_store->setOutboxStatus(clientMsgId, OutboxStatus::Failed, error.message);
        emit sendFailed(conversationId, clientMsgId, error.message);
        sendHead(conversationId);
        return;
    }
    // Transient: keep it pending and at the head; try again shortly (or on reconnect).
    qCDebug(lcOutbox) << "will resend" << clientMsgId << error.message;
    if (m_connection->isOnline())
        m_retryTimer.start(std::max<int>(kRetryDelayMs, int(error.retryAfterMs)));
}

void Outbox::checkIdle()
{
    if (m_inFlight.isEmpty() && isIdle())
        emit idle();
}

} // namespace kith::client
