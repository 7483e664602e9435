#pragma once
// One file-transfer connection on the transfer thread: reads HTTP requests
// one after another (keep-alive), authenticates each with its bearer token,
// and serves it: an upload's bytes go to its part as they arrive (hashed on
// the way), a download leaves from its blob by sendfile. Owned by the
// TransferHub; deletes itself when its connection ends.

#include "http_head.h"
#include "transfer_server.h"

#include <QBasicTimer>
#include <QObject>

#include <memory>

namespace kith::server {

class TransferConnection : public QObject
{
    Q_OBJECT
public:
    // Takes the stream; `received` holds the bytes read before the hand-over.
    TransferConnection(TransferHub &hub, TransferStream *stream, QByteArray received);
    ~TransferConnection() override;

    // The server is stopping: an idle connection closes now, a busy one after
    // its request.
    void stop();

private:
    enum class State {
        Head,      // reading a request head
        Body,      // reading an upload's bytes
        Finishing, // the upload is being verified and stored
        Sending,   // a download's bytes are going out
        Draining,  // the last answer is going out; then Lingering
        Lingering, // the last answer is out; reading what the peer still sends, then closing
        Closed,
    };

    void onReadable();
    void onWritable();
    void timerEvent(QTimerEvent *event) override;

    void readHead();
    void handleRequest(const http::RequestHead &head);
    void handlePut(const http::RequestHead &head, const Principal &who, const QString &id);
    void handleUploadHead(const Principal &who, const QString &id);
    void handleGet(const http::RequestHead &head, const Principal &who, const QString &id,
                   bool bodyToo);
    void readBody();
    void bodyDone();
    void onFinished(Result<FileRecord> result);
    void sendMore();

    // A complete answer without a body to come; `closeAfter` ends the
    // connection once it is out (a body we will not read may follow).
    void answer(int status, QList<std::pair<QByteArray, QByteArray>> headers,
                bool closeAfter = false);
    void answerError(const Error &error, QList<std::pair<QByteArray, QByteArray>> headers = {},
                     bool closeAfter = false);
    void queue(const QByteArray &bytes);
    // Writes what is queued; true when all of it is out.
    bool flush();
    void requestDone();
    void linger();
    void finish();
    void touch();
    void armTimer(int ms);

    TransferHub &m_hub;
    TransferStream *m_stream;
    State m_state = State::Head;
    QByteArray m_in;  // unread request bytes (a head, or body bytes read with it)
    QByteArray m_out; // head bytes not yet written
    bool m_closeAfter = false;
    bool m_stopRequested = false;
    QBasicTimer m_timer;
    qint64 m_lingerLeft = 0;

    // The request under way.
    bool m_keepAlive = true;
    Principal m_who;
    // An upload's.
    FileRecord m_upload;
    std::unique_ptr<BlobStore::PartWriter> m_part;
    LanedHash m_hash; // of the part's bytes so far; none: read back at the end
    qint64 m_bodyLeft = 0;
    QByteArray m_buffer;
    // A download's.
    std::unique_ptr<BlobStore::BlobReader> m_blob;
    qint64 m_sendAt = 0;
    qint64 m_sendEnd = 0;
    bool m_downloading = false; // counted in the user's downloads
};

} // namespace kith::server
