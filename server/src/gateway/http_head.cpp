#include "http_head.h"

namespace kith::server::http {

namespace {

Error bad(const char *why)
{
    return makeError(v1::INVALID_ARGUMENT, QString::fromLatin1(why));
}

// RFC 9110 token characters (method and header names).
bool isToken(QByteArrayView text)
{
    if (text.isEmpty())
        return false;
    for (char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
        if (!ok)
            return false;
    }
    return true;
}

bool hasControl(QByteArrayView text)
{
    for (char c : text)
        if ((uchar(c) < 0x20 && c != '\t') || uchar(c) == 0x7f)
            return true;
    return false;
}

} // namespace

QByteArray RequestHead::header(QByteArrayView name) const
{
    QByteArray value;
    for (const auto &[key, text] : headers) {
        if (QByteArrayView(key).compare(name, Qt::CaseInsensitive) != 0)
            continue;
        if (value.isNull())
            value = text;
        else
            value += ", " + text;
    }
    return value;
}

bool RequestHead::keepAlive() const
{
    const QByteArray connection = header("connection").toLower();
    if (connection.contains("close"))
        return false;
    return !http10 || connection.contains("keep-alive");
}

bool isTransferRequest(QByteArrayView head)
{
    const qsizetype lineEnd = head.indexOf("\r\n");
    const QByteArrayView line = lineEnd < 0 ? head : head.first(lineEnd);
    const qsizetype space = line.indexOf(' ');
    if (space <= 0)
        return false;
    return line.sliced(space + 1).startsWith("/v1/");
}

Result<RequestHead> parseRequestHead(QByteArrayView head)
{
    if (head.size() > kMaxHeadBytes)
        return bad("request head too large");
    qsizetype lineEnd = head.indexOf("\r\n");
    const QByteArrayView requestLine = lineEnd < 0 ? head : head.first(lineEnd);
    const qsizetype first = requestLine.indexOf(' ');
    const qsizetype second = first < 0 ? -1 : requestLine.indexOf(' ', first + 1);
    if (first <= 0 || second <= first + 1 || requestLine.indexOf(' ', second + 1) >= 0)
        return bad("malformed request line");
    RequestHead request;
    request.method = requestLine.first(first).toByteArray();
    request.target = requestLine.sliced(first + 1, second - first - 1).toByteArray();
    const QByteArrayView version = requestLine.sliced(second + 1);
    if (!isToken(request.method) || hasControl(request.target))
        return bad("malformed request line");
    if (version == "HTTP/1.0")
        request.http10 = true;
    else if (version != "HTTP/1.1")
        return bad("not HTTP/1.1");
    while (lineEnd >= 0) {
        head = head.sliced(lineEnd + 2);
        lineEnd = head.indexOf("\r\n");
        const QByteArrayView line = lineEnd < 0 ? head : head.first(lineEnd);
        if (line.isEmpty())
            return bad("malformed header line");
        // Obsolete line folding is refused (RFC 9112 section 5.2).
        if (line.front() == ' ' || line.front() == '\t')
            return bad("folded header line");
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || !isToken(line.first(colon)))
            return bad("malformed header line");
        const QByteArrayView value = line.sliced(colon + 1).trimmed();
        if (hasControl(value))
            return bad("control character in a header");
        if (request.headers.size() == kMaxHeaders)
            return bad("too many headers");
        request.headers.append({line.first(colon).toByteArray(), value.toByteArray()});
    }
    return request;
}

std::optional<qint64> parseLength(QByteArrayView text)
{
    if (text.isEmpty() || text.size() > 18)
        return std::nullopt;
    qint64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

ByteRange parseRange(const QByteArray &header, qint64 size)
{
    ByteRange whole;
    if (header.isNull())
        return whole;
    const QByteArray value = header.trimmed();
    if (!value.startsWith("bytes="))
        return whole;
    const QByteArrayView spec = QByteArrayView(value).sliced(6).trimmed();
    if (spec.contains(','))
        return whole; // several ranges: the whole file is a valid answer
    const qsizetype dash = spec.indexOf('-');
    if (dash < 0)
        return whole;
    const QByteArrayView from = spec.first(dash).trimmed();
    const QByteArrayView to = spec.sliced(dash + 1).trimmed();
    ByteRange range;
    range.kind = ByteRange::Kind::Part;
    if (from.isEmpty()) {
        // The last N bytes.
        const auto suffix = parseLength(to);
        if (!suffix)
            return whole;
        if (*suffix == 0 || size == 0)
            return {ByteRange::Kind::Unsatisfiable, 0, -1};
        range.first = std::max<qint64>(0, size - *suffix);
        range.last = size - 1;
        return range;
    }
    const auto start = parseLength(from);
    if (!start)
        return whole;
    if (to.isEmpty()) {
        range.first = *start;
        range.last = size - 1;
    } else {
        const auto end = parseLength(to);
        if (!end || *end < *start)
            return whole;
        range.first = *start;
        range.last = std::min(*end, size - 1);
    }
    if (range.first >= size)
        return {ByteRange::Kind::Unsatisfiable, 0, -1};
    return range;
}

const char *reasonPhrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

QByteArray responseHead(int status, const QList<std::pair<QByteArray, QByteArray>> &headers)
{
    QByteArray head =
        "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";
    for (const auto &[name, value] : headers)
        head += name + ": " + value + "\r\n";
    head += "\r\n";
    return head;
}

} // namespace kith::server::http
