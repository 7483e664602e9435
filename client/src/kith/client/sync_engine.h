#pragma once
// SyncEngine: keeps LocalStore equal to the server. On every (re)connect it
// sends the cursors it holds and applies the answer, page by page (the server
// answers a bounded page of conversations and where to go on); it pulls every missing
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
#include <string>
#include <vector>

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
    // Fetches the chat state changes after the version the store holds.
    void syncChatState();
    // One row of this user's chat state (a push, or the answer to a change
    // made here): stored, and the held version moves on when nothing was
    // skipped; a row past a gap fetches the changes in between.
    void applyChatState(const v1::ChatState &state);

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
    // Asks for the page of conversations after `after` (empty: the first).
    void requestSyncPage(const std::string &after);
    void applySyncPage(const v1::SyncResponse &response);
    // The last page is in: every conversation's missing ranges are pulled.
    void finishSync();
    void onPush(const v1::Envelope &envelope);
    void pumpPulls();
    void pullNext(const QString &conversationId);
    void onPullAnswer(const QString &conversationId, quint64 fromSeq, Result<v1::Envelope> answer);
    void requestChatState(int generation);
    void checkDone();
    void setSyncing(bool syncing);

    Connection *m_connection;
    LocalStore *m_store;
    bool m_syncing = false;
    bool m_synced = false;
    bool m_awaitingSyncAnswer = false;
    // The cursors of the sync under way, in the server's (byte) order of ids.
    std::vector<v1::ConversationCursor> m_syncCursors;
    int m_syncGeneration = 0;        // a new sync makes the answers to an older one stale
    int m_retriesPending = 0;        // requests to be sent again after RATE_LIMITED
    bool m_chatStatePending = false; // a chat state request is on the wire
    bool m_chatStateAgain = false;   // ... and another is wanted after it
    QList<QString> m_fillQueue;
    QSet<QString> m_queued;
    QSet<QString> m_pulling;
    QSet<quint64> m_resolving;
    std::function<bool(const v1::Envelope &)> m_pushFilter;
};

} // namespace kith::client
