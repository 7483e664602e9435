#include "transfer_queue.h"

#include "connection.h"
#include "kith/protocol.h"
#include "logging.h"
#include "outbox.h"

#include "kith/content.h"

#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QSet>

#include <algorithm>

namespace kith::client {

namespace {
TransferQueue::ImageInspector &imageInspector()
{
    static TransferQueue::ImageInspector inspector;
    return inspector;
}
} // namespace

void TransferQueue::setImageInspector(ImageInspector inspector)
{
    imageInspector() = std::move(inspector);
}

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
                                       const QString &caption, std::optional<quint32> voiceNoteMs)
{
    const QFileInfo info(path);
    if (!info.isFile() || !info.isReadable())
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("Cannot read %1").arg(path));
    TransferEntry entry;
    entry.kind = TransferKind::Upload;
    entry.conversationId = conversationId;
    entry.path = info.absoluteFilePath();
    entry.file.set_caption(toStd(caption));
    entry.file.set_name(toStd(info.fileName()));
    entry.file.set_size(quint64(info.size()));
    if (voiceNoteMs) {
        entry.file.set_voice_note(true);
        entry.file.set_duration_ms(*voiceNoteMs);
    }
    QSize size;
    QByteArray thumbnail;
    if (imageInspector() && imageInspector()(entry.path, size, thumbnail) && !size.isEmpty()) {
        entry.file.set_width(quint32(size.width()));
        entry.file.set_height(quint32(size.height()));
        if (thumbnail.size() <= kMaxThumbnailBytes)
            entry.file.set_thumbnail(thumbnail.toStdString());
    }
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

QString TransferQueue::cachedPath(const v1::FileRef &file) const
{
    if (m_cacheDir.isEmpty() || !isValidFileId(file.file_id()))
        return {};
    return QDir(m_cacheDir)
        .filePath(toQString(file.file_id()) + QLatin1Char('/') +
                  safeLocalFileName(toQString(file.name())));
}

void TransferQueue::markUsed(const QString &path)
{
    QFile file(path);
    // Only when it has not been marked for a while: showing is not writing.
    const QDateTime now = QDateTime::currentDateTime();
    if (QFileInfo(path).lastModified().secsTo(now) > 3600 && file.open(QIODevice::ReadWrite))
        (void)file.setFileTime(now, QFileDevice::FileModificationTime);
}

void TransferQueue::trimCache()
{
    if (m_cacheDir.isEmpty() || m_cacheLimit <= 0)
        return;
    QSet<QString> busy; // fetches under way or waiting: their ".part" and their name
    if (m_store->isOpen())
        for (const TransferEntry &entry : m_store->transfers())
            if (entry.kind == TransferKind::Download)
                busy << entry.path << entry.path + QStringLiteral(".part");
    QList<QFileInfo> files;
    qint64 total = 0;
    QDirIterator it(m_cacheDir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QFileInfo info(it.next());
        total += info.size();
        if (!busy.contains(info.absoluteFilePath()))
            files << info;
    }
    if (total <= m_cacheLimit)
        return;
    std::sort(files.begin(), files.end(), [](const QFileInfo &a, const QFileInfo &b) {
        return a.lastModified() < b.lastModified();
    });
    for (const QFileInfo &info : std::as_const(files)) {
        if (total <= m_cacheLimit)
            break;
        if (QFile::remove(info.absoluteFilePath())) {
            total -= info.size();
            QDir().rmdir(info.absolutePath()); // the file's folder, once empty
        }
    }
    qCInfo(lcClient) << "file cache trimmed to" << total << "bytes";
}

std::optional<TransferEntry> TransferQueue::downloadTo(const QString &path) const
{
    if (path.isEmpty() || !m_store->isOpen())
        return std::nullopt;
    for (const TransferEntry &entry : m_store->transfers())
        if (entry.kind == TransferKind::Download && entry.path == path)
            return entry;
    return std::nullopt;
}

std::pair<qint64, qint64> TransferQueue::progressOf(qint64 id) const
{
    const auto running = m_running.find(id);
    if (running == m_running.end())
        return {0, 0};
    return {(*running)->bytesDone(), (*running)->bytesTotal()};
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
    if (!m_started)
        trimCache();
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
    const v1::FileRef known = entry.file;
    const QString source = entry.path;
    transfer->upload(entry.path, [this, id, known, source](Result<v1::FileRef> file) {
        if (!file)
            return onDone(id, &file.error());
        v1::Content content;
        v1::FileRef &sent = *content.mutable_file();
        sent = *file;
        sent.set_caption(known.caption());
        if (known.width() > 0 && known.height() > 0) {
            sent.set_width(known.width());
            sent.set_height(known.height());
            sent.set_thumbnail(known.thumbnail());
        }
        sent.set_duration_ms(known.duration_ms());
        sent.set_voice_note(known.voice_note());
        // The sender keeps a copy where a download would go, so its own
        // message shows the file without fetching it back.
        if (const QString kept = cachedPath(sent);
            !kept.isEmpty() && qint64(sent.size()) <= kKeepSentBytes && !QFile::exists(kept)) {
            // Through a temporary name: a copy cut short never looks whole.
            const QString part = kept + QStringLiteral(".part");
            QDir().mkpath(QFileInfo(kept).absolutePath());
            QFile::remove(part);
            if (QFile::copy(source, part) && !QFile::rename(part, kept))
                QFile::remove(part);
        }
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
        trimCache(); // a download, or the sender's copy: the cache grew
        emit finished(id, clientMsgId);
    }
    startNext();
}

} // namespace kith::client
