// 100,000 messages in one conversation: the message model pages through all
// of them, back to the first and forward to the newest, while its in-memory
// window stays within MessageListModel::kMaxWindowRows rows and holds
// consecutive seqs. Counts only: how fast it goes is kith-bench's business.
#include "kith/client/kith_client.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/protocol.h"

#include <QAbstractItemModelTester>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;

namespace {
constexpr quint64 kTotal = 100'000;
const QString kDirect = QStringLiteral("d:1:2");
constexpr qint64 kStartMs = 1'700'000'000'000;

// The seqs of the window, checked to be consecutive; empty when they are not.
QList<quint64> consecutiveSeqs(const MessageListModel &model)
{
    QList<quint64> result;
    for (int r = 0; r < model.rowCount(); ++r) {
        const auto seq = model.index(r).data(MessageListModel::SeqRole).toULongLong();
        if (!result.isEmpty() && seq != result.last() + 1)
            return {};
        result << seq;
    }
    return result;
}
} // namespace

class TestClientLarge : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void hundredThousandMessagesPageWithinABoundedWindow()
    {
        const QString path = m_dir.filePath(QStringLiteral("large.sqlite"));
        {
            LocalStore seed;
            QVERIFY(seed.open(path));
            QVERIFY(
                seed.setValue(QString::fromLatin1(LocalStore::kKeyUserId), QStringLiteral("1")));
            QList<v1::Message> messages;
            messages.reserve(qsizetype(kTotal));
            for (quint64 seq = 1; seq <= kTotal; ++seq) {
                v1::Message m;
                m.set_conversation_id(toStd(kDirect));
                m.set_seq(seq);
                m.set_server_id(seq);
                m.set_sender_user_id(seq % 2 + 1);
                m.set_server_time_ms(kStartMs + qint64(seq) * 1000);
                m.mutable_content()->mutable_text()->set_body(
                    toStd(QStringLiteral("message %1").arg(seq)));
                messages << m;
            }
            // One call: one transaction.
            QVERIFY(seed.storeMessages(kDirect, messages, {1, kTotal}));
        }

        KithClient client;
        client.setDataDirectory(m_dir.path());
        client.setStorePathOverride(path);
        // No stored session: the cache opens and stays offline.
        QVERIFY(client.openAccount(QUrl(QStringLiteral("ws://127.0.0.1:9/")),
                                   QStringLiteral("reader")));
        MessageListModel model(&client, kDirect);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(consecutiveSeqs(model).last(), kTotal);

        // Back to the first message, a page at a time.
        int pages = 0;
        while (model.canFetchOlder()) {
            const quint64 oldest = consecutiveSeqs(model).value(0);
            model.fetchOlder();
            QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
            const auto window = consecutiveSeqs(model);
            QVERIFY(!window.isEmpty());
            QCOMPARE(window.first(), oldest > quint64(MessageListModel::kPageRows)
                                         ? oldest - MessageListModel::kPageRows
                                         : 1u);
            QVERIFY(++pages <= int(kTotal) / MessageListModel::kPageRows);
        }
        QCOMPARE(consecutiveSeqs(model).first(), 1u);
        QCOMPARE(model.rowCount(), MessageListModel::kMaxWindowRows);
        QVERIFY(!model.atLatest());

        // Forward again to the newest.
        pages = 0;
        while (!model.atLatest()) {
            const quint64 newest = consecutiveSeqs(model).last();
            model.fetchNewer();
            QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
            const auto window = consecutiveSeqs(model);
            QVERIFY(!window.isEmpty());
            QCOMPARE(window.last(), std::min(newest + MessageListModel::kPageRows, kTotal));
            QVERIFY(++pages <= int(kTotal) / MessageListModel::kPageRows);
        }
        const auto window = consecutiveSeqs(model);
        QCOMPARE(window.last(), kTotal);
        QCOMPARE(window.size(), MessageListModel::kMaxWindowRows);

        // A seq from the middle of the history, far outside the window.
        model.loadAround(qint64(kTotal / 2));
        QVERIFY(model.rowOfSeq(qint64(kTotal / 2)) >= 0);
        QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
    }
};

QTEST_GUILESS_MAIN(TestClientLarge)
#include "tst_client_large.moc"
