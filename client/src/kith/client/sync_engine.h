#pragma once
// SyncEngine: keeps LocalStore equal to the server. On every (re)connect it
// sends the cursors it holds and applies the answer; it pulls every missing
// seq range of every conversation in pages of at most kMaxPullLimit, detects
// gaps in pushed seqs and pulls them, applies read/typing/presence/membership
// pushes, and pages older history on demand. Owned by KithClient.

#include "kith/result.h"
#include "kith/v1/envelope.pb.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>

#include <functional>

namespace kith::client {

class Connection;
class LocalStore;

class SyncEngine : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool syncing READ isSyncing NOTIFY syncingChanged)
public:
    // Pulls on the wire at once: enough to fill the pipe on a LAN without
    // queueing interactive traffic behind bulk history.
    static constexpr int kMaxConcurrentPulls = 4;

    SyncEngine(Connection *connection, LocalStore *store, QObject *parent = nullptr);

    // True from connect until the sync answer is applied and no range is missing.
    [[nodiscard]] bool isSyncing() const { return m_syncing; }
    // Completed at least one full sync since the last connect.
    [[nodiscard]] bool hasSynced() const { return m_synced; }

    // Makes sure the messages just below beforeSeq are on disk (scroll-back):
    // pulls one page backward when they are not.
    void requestOlder(const QString &conversationId, quint64 beforeSeq);
    // Schedules pulls of whatever the store says is missing in a conversation.
    void fillGaps(const QString &conversationId);
    // Fetches the member list of a group into the store.
    void refreshMembers(const QString &conversationId);
    // Fetches the profiles of users the store does not know yet.
    void resolveUsers(const QList<quint64> &userIds);

    // Test hook: a push for which the filter returns false is dropped unseen,
    // as if the network had lost it.
    void setPushFilterForTesting(std::function<bool(const v1::Envelope &)> filter)
    {
        m_pushFilter = std::move(filter);
    }

signals:
    void syncingChanged(bool syncing);
    // The store matches the server as of the last sync answer.
    void synced();
    // A message from someone else arrived as a push (for notifications and tail).
    void messageArrived(const QString &conversationId, quint64 seq);
    void typingChanged(const QString &conversationId, quint64 userId, bool typing);
    void presenceChanged(quint64 userId, bool online);
    void syncFailed(const QString &error);

private:
    void startSync();
    void applySync(const v1::SyncResponse &response);
    void onPush(const v1::Envelope &envelope);
    void pumpPulls();
    void pullNext(const QString &conversationId);
    void onPullAnswer(const QString &conversationId, quint64 fromSeq, Result<v1::Envelope> answer);
    void checkDone();
    void setSyncing(bool syncing);

    Connection *m_connection;
    LocalStore *m_store;
    bool m_syncing = false;
    bool m_synced = false;
    bool m_awaitingSyncAnswer = false;
    QList<QString> m_fillQueue;
    QSet<QString> m_queued;
    QSet<QString> m_pulling;
    QSet<quint64> m_resolving;
    std::function<bool(const v1::Envelope &)> m_pushFilter;
};

} // namespace kith::client
