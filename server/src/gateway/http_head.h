#pragma once
// The HTTP/1.1 that file transfers speak on kithd's port: reading a request
// head, the Range header of a download, and writing a response head. Only
// what the transfers need; anything else is refused. Pure functions, so the
// parsing is tested on its own.

#include "kith/result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>

#include <optional>
#include <utility>

namespace kith::server::http {

// A request head is a few hundred bytes; anything near this is not one.
constexpr qsizetype kMaxHeadBytes = 8 * 1024;
// Header lines in one head, at most.
constexpr int kMaxHeaders = 64;

struct RequestHead
{
    QByteArray method;   // "GET", "HEAD", "PUT"
    QByteArray target;   // "/v1/files/<id>"
    bool http10 = false; // HTTP/1.0: no keep-alive unless asked
    QList<std::pair<QByteArray, QByteArray>> headers;

    // The value of a header (case-insensitive name; several are joined with
    // ", "), or a null array when there is none.
    [[nodiscard]] QByteArray header(QByteArrayView name) const;
    [[nodiscard]] bool has(QByteArrayView name) const { return !header(name).isNull(); }
    // Whether the connection stays open after the answer.
    [[nodiscard]] bool keepAlive() const;
};

// Whether the first line of `head` asks for one of kithd's HTTP paths (under
// /v1/) rather than the WebSocket upgrade. Looks at the request line only.
[[nodiscard]] bool isTransferRequest(QByteArrayView head);

// The head without its final blank line; an error (INVALID_ARGUMENT) says what is wrong.
[[nodiscard]] Result<RequestHead> parseRequestHead(QByteArrayView head);

// A non-negative decimal without sign or spaces (Content-Length, Upload-Offset);
// nullopt for anything else, or past 2^62.
[[nodiscard]] std::optional<qint64> parseLength(QByteArrayView text);

// What a Range header asks of a file of `size` bytes.
struct ByteRange
{
    enum class Kind {
        Whole,         // no Range, or one this server ignores (several ranges, other units)
        Part,          // [first, last]
        Unsatisfiable, // starts past the end: 416
    };
    Kind kind = Kind::Whole;
    qint64 first = 0;
    qint64 last = -1;
};
[[nodiscard]] ByteRange parseRange(const QByteArray &header, qint64 size);

// "HTTP/1.1 <status> <reason>\r\n" and the given header lines, then the blank line.
[[nodiscard]] QByteArray responseHead(int status,
                                      const QList<std::pair<QByteArray, QByteArray>> &headers);
[[nodiscard]] const char *reasonPhrase(int status);

} // namespace kith::server::http
