// The HTTP/1.1 that file transfers speak: request heads (what is refused),
// the Range header of a download (including past the end and the last N
// bytes), lengths, and which first requests are transfers at all.

#include "http_head.h"

#include <QTest>

using namespace kith;
using namespace kith::server::http;

class TestHttpHead : public QObject
{
    Q_OBJECT

private slots:
    void parsesAHead()
    {
        const auto head = parseRequestHead("PUT /v1/uploads/abc HTTP/1.1\r\n"
                                           "Host: x\r\n"
                                           "content-length: 12\r\n"
                                           "Upload-Offset:  7 ");
        QVERIFY(head.ok());
        QCOMPARE(head->method, "PUT");
        QCOMPARE(head->target, "/v1/uploads/abc");
        QCOMPARE(head->header("Content-Length"), "12");
        QCOMPARE(head->header("upload-offset"), "7");
        QVERIFY(head->header("range").isNull());
        QVERIFY(head->keepAlive());
        const auto old = parseRequestHead("GET /v1/files/a HTTP/1.0");
        QVERIFY(old.ok());
        QVERIFY(!old->keepAlive());
        const auto closing = parseRequestHead("GET /v1/files/a HTTP/1.1\r\nConnection: close");
        QVERIFY(!closing->keepAlive());
    }

    void refusesBadHeads()
    {
        for (const QByteArray &bad : {
                 QByteArray("GET /v1/files/a"),                        // no version
                 QByteArray("GET /v1/files/a HTTP/2.0"),               // another version
                 QByteArray("GET  /v1/files/a HTTP/1.1"),              // two spaces
                 QByteArray("G(T /v1/files/a HTTP/1.1"),               // not a token
                 QByteArray("GET /v1/files/a HTTP/1.1\r\n folded: x"), // line folding
                 QByteArray("GET /v1/files/a HTTP/1.1\r\nno colon"),   // no colon
                 QByteArray("GET /v1/files/a HTTP/1.1\r\nX: a\x01z"),  // a control char
                 QByteArray("GET /v1/files/\x7f HTTP/1.1"),            // in the target too
                 QByteArray("GET /v1/files/a HTTP/1.1\r\n\r\nX: y"),   // an empty line
             })
            QVERIFY2(!parseRequestHead(bad).ok(), bad.constData());
        QByteArray many = "GET /v1/files/a HTTP/1.1";
        for (int i = 0; i <= kMaxHeaders; ++i)
            many += "\r\nX-" + QByteArray::number(i) + ": y";
        QVERIFY(!parseRequestHead(many).ok());
        QVERIFY(!parseRequestHead(QByteArray(kMaxHeadBytes + 1, 'a')).ok());
    }

    void lengths()
    {
        QCOMPARE(parseLength("0"), 0);
        QCOMPARE(parseLength("1048576"), 1048576);
        QVERIFY(!parseLength(""));
        QVERIFY(!parseLength("-1"));
        QVERIFY(!parseLength("+1"));
        QVERIFY(!parseLength(" 1"));
        QVERIFY(!parseLength("1e3"));
        QVERIFY(!parseLength("9999999999999999999")); // past 2^62
    }

    void ranges()
    {
        using Kind = ByteRange::Kind;
        QCOMPARE(parseRange({}, 100).kind, Kind::Whole);
        const ByteRange from = parseRange("bytes=10-", 100);
        QCOMPARE(from.kind, Kind::Part);
        QCOMPARE(from.first, 10);
        QCOMPARE(from.last, 99);
        const ByteRange span = parseRange("bytes=10-19", 100);
        QCOMPARE(span.first, 10);
        QCOMPARE(span.last, 19);
        // An end past the file is cut to it.
        QCOMPARE(parseRange("bytes=90-500", 100).last, 99);
        const ByteRange tail = parseRange("bytes=-30", 100);
        QCOMPARE(tail.first, 70);
        QCOMPARE(tail.last, 99);
        QCOMPARE(parseRange("bytes=-300", 100).first, 0);
        // Past the end, or nothing of an empty file.
        QCOMPARE(parseRange("bytes=100-", 100).kind, Kind::Unsatisfiable);
        QCOMPARE(parseRange("bytes=5000-6000", 100).kind, Kind::Unsatisfiable);
        QCOMPARE(parseRange("bytes=0-", 0).kind, Kind::Unsatisfiable);
        QCOMPARE(parseRange("bytes=-0", 100).kind, Kind::Unsatisfiable);
        // What this server ignores: the whole file is a valid answer.
        QCOMPARE(parseRange("bytes=0-1,5-6", 100).kind, Kind::Whole);
        QCOMPARE(parseRange("items=0-1", 100).kind, Kind::Whole);
        QCOMPARE(parseRange("bytes=9-3", 100).kind, Kind::Whole);
        QCOMPARE(parseRange("bytes=x-3", 100).kind, Kind::Whole);
    }

    void transfersAreTheV1Paths()
    {
        QVERIFY(isTransferRequest("GET /v1/files/abc HTTP/1.1\r\n"));
        QVERIFY(isTransferRequest("PUT /v1/uploads/abc HTTP/1.1"));
        QVERIFY(!isTransferRequest("GET / HTTP/1.1\r\nUpgrade: websocket\r\n"));
        QVERIFY(!isTransferRequest("GET /v2/files HTTP/1.1\r\n"));
        QVERIFY(!isTransferRequest("GET\r\n/v1/ HTTP/1.1"));
    }

    void responseHeads()
    {
        QCOMPARE(responseHead(206, {{"Content-Length", "5"}}),
                 "HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\n");
        QCOMPARE(QByteArray(reasonPhrase(416)), "Range Not Satisfiable");
    }
};

QTEST_GUILESS_MAIN(TestHttpHead)
#include "tst_http_head.moc"
