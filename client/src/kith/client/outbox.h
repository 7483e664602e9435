#pragma once
// Outbox: sends what LocalStore's outbox table holds — oldest first, one in
// flight per conversation so order is kept, each with the client message id it
// got when it was written, retried until the server acks it. Permanent refusals
// mark the entry failed (the UI offers retry or discard). While the store
// cannot write (a full disk) nothing is sent: an ack that cannot be stored
// leaves its entry pending, to be sent again once writes work. Owned by KithClient.

#include "kith/result.h"
#include "kith/v1/envelope.pb.h"

#include <QObject>
#include <QSet>
#include <QTimer>

namespace kith::client {

class Connection;
class LocalStore;

class Outbox : public QObject
{
    Q_OBJECT
public:
    // A transient failure (timeout, RATE_LIMITED without a hint, INTERNAL) is
    // retried after this long while the connection stays up.
    static constexpr int kRetryDelayMs = 2'000;

    Outbox(Connection *connection, LocalStore *store, QObject *parent = nullptr);

    // Writes the message to the outbox (pending) and sends it when it can.
    [[nodiscard]] Result<QString> enqueue(const QString &conversationId,
                                          const v1::Content &content);
    [[nodiscard]] Status retry(const QString &clientMsgId);
    [[nodiscard]] Status discard(const QString &clientMsgId);
    // No pending entry is left (failed ones do not count).
    [[nodiscard]] bool isIdle() const;
    // A send is on the wire.
    [[nodiscard]] bool isSending() const { return !m_inFlight.isEmpty(); }
    // Sends whatever is pending (the facade calls this once the session is up).
    void flush();

signals:
    void idle();
    void sendFailed(const QString &conversationId, const QString &clientMsgId,
                    const QString &error);

private:
    void sendHead(const QString &conversationId);
    void onAnswer(const QString &conversationId, const QString &clientMsgId,
                  Result<v1::Envelope> answer);
    void checkIdle();

    Connection *m_connection;
    LocalStore *m_store;
    QSet<QString> m_inFlight; // conversations with a send on the wire
    QTimer m_retryTimer;
};

} // namespace kith::client
