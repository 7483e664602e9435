#include "transfer_queue.h"

#include "connection.h"
#include "kith/protocol.h"
#include "logging.h"
#include "outbox.h"

#include <QFileInfo>

namespace kith::client {

TransferQueue::TransferQueue(Connection *connection, LocalStore *store, Outbox *outbox,
                             std::function<QString()> token, QObject *parent)
    : QObject(parent)
    , m_connection(connection)
    , m_store(store)
    , m_outbox(outbox)
    , m_token(std::move(token))
{}

TransferQueue::~TransferQueue()
{
    stop();
}

Result<qint64> TransferQueue::sendFile(const QString &conversationId, const QString &path,
                                       const QString &caption)
{
    const QFileInfo info(path);
    if (!info.isFile() || !info.isReadable())
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Cannot read %1").arg(path));
    TransferEntry entry;
    entry.kind = TransferKind::Upload;
    entry.conversationId = conversationId;
    entry.path = info.absoluteFilePath();
    entry.file.set_caption(toStd(caption));
    Result<qint64> id = m_store->addTransfer(entry);
    if (id)
        startNext();
    return id;
}

Result<qint64> TransferQueue::download(const v1::FileRef &file, const QString &path)
{
    TransferEntry entry;
    entry.kind = TransferKind::Download;
    entry.path = QFileInfo(path).absoluteFilePath();
    entry.file = file;
    Result<qint64> id = m_store->addTransfer(entry);
    if (id)
        startNext();
    return id;
}

Status TransferQueue::pause(qint64 id)
{
    if (auto running = m_running.take(id))
        running->cancel();
    Status status = m_store->setTransferState(id, TransferState::Paused);
    startNext();
    return status;
}

Status TransferQueue::resume(qint64 id)
{
    Status status = m_store->setTransferState(id, TransferState::Queued);
    startNext();
    return status;
}

Status TransferQueue::cancel(qint64 id)
{
    if (auto running = m_running.take(id))
        running->cancel();
    Status status = m_store->removeTransfer(id);
    startNext();
    return status;
}

void TransferQueue::start()
{
    m_started = true;
    startNext();
}

void TransferQueue::stop()
{
    m_started = false;
    const auto running = std::exchange(m_running, {});
    for (const auto &transfer : running)
        transfer->cancel();
}

void TransferQueue::startNext()
{
    if (!m_started || !m_store->isOpen())
        return;
    for (const TransferEntry &entry : m_store->transfers()) {
        if (m_running.size() >= kRunningAtOnce)
            return;
        if (entry.state == TransferState::Queued && !m_running.contains(entry.id))
            run(entry);
    }
}

void TransferQueue::run(const TransferEntry &entry)
{
    auto transfer = std::make_shared<FileTransfer>(m_connection, m_token());
    m_running.insert(entry.id, transfer);
    const qint64 id = entry.id;
    connect(transfer.get(), &FileTransfer::progress, this,
            [this, id](qint64 done, qint64 total) { emit progress(id, done, total); });
    if (entry.kind == TransferKind::Download) {
        transfer->download(entry.file, entry.path, [this, id](Status status) {
            onDone(id, status ? nullptr : &status.error());
        });
        return;
    }
    const std::string caption = entry.file.caption();
    transfer->upload(entry.path, [this, id, caption](Result<v1::FileRef> file) {
        if (!file)
            return onDone(id, &file.error());
        v1::Content content;
        *content.mutable_file() = *file;
        content.mutable_file()->set_caption(caption);
        const Result<OutboxEntry> queued = m_store->finishUploadTransfer(id, content);
        if (!queued)
            return onDone(id, &queued.error());
        m_outbox->flush();
        onDone(id, nullptr, queued->clientMsgId);
    });
}

void TransferQueue::onDone(qint64 id, const Error *error, const QString &clientMsgId)
{
    // The FileTransfer is still on the stack (this is its callback): it goes
    // once the event loop is back.
    if (std::shared_ptr<FileTransfer> transfer = m_running.take(id))
        QMetaObject::invokeMethod(
            this, [transfer] {}, Qt::QueuedConnection);
    if (error && error->code == v1::UNAVAILABLE && !m_connection->isOnline()) {
        // Offline: it stays queued and starts again with the next login.
        qCInfo(lcClient).noquote() << "transfer" << id << "waits for the server:" << error->message;
        return;
    }
    if (error) {
        qCInfo(lcClient).noquote() << "transfer" << id << "failed:" << error->message;
        (void)m_store->setTransferState(id, TransferState::Failed, error->message);
        emit failed(id, error->message);
    } else {
        if (m_store->transfer(id))
            (void)m_store->removeTransfer(id);
        emit finished(id, clientMsgId);
    }
    startNext();
}

} // namespace kith::client
