import QtQuick
import QtTest
import Kith.Chat

// A message's look in each send state, and the actions a failed one offers.
Item {
    id: root
    width: 640
    height: 400

    Component {
        id: delegateComponent
        MessageDelegate {
            width: root.width
            text: "See you at ten"
            senderName: "Ann Lee"
            senderKey: "17"
            timeMs: new Date(2026, 10, 24, 9, 41).getTime()
        }
    }

    TestCase {
        name: "MessageDelegate"
        when: windowShown

        function make(props) {
            const item = createTemporaryObject(delegateComponent, root, props);
            verify(item);
            return item;
        }

        function glyph(item) {
            return findChild(item, "statusGlyph");
        }

        function test_pending() {
            const item = make({ own: true, status: "pending" });
            verify(glyph(item).visible);
            compare(glyph(item).text, "◷");
            verify(!findChild(item, "failedRow").visible);
        }

        function test_sent() {
            const item = make({ own: true, status: "sent" });
            compare(glyph(item).text, "✓");
            verify(!findChild(item, "failedRow").visible);
        }

        function test_read() {
            const item = make({ own: true, status: "read" });
            compare(glyph(item).text, "✓✓");
        }

        function test_failedOffersRetryAndDiscard() {
            const item = make({ own: true, status: "failed" });
            compare(glyph(item).text, "!");
            const row = findChild(item, "failedRow");
            verify(row.visible);
            const retry = createTemporaryObject(spyComponent, root, { target: item, signalName: "retryRequested" });
            const discard = createTemporaryObject(spyComponent, root, { target: item, signalName: "discardRequested" });
            mouseClick(findChild(item, "retryLink"));
            compare(retry.count, 1);
            compare(discard.count, 0);
            mouseClick(findChild(item, "discardLink"));
            compare(discard.count, 1);
        }

        function test_ownIsRightOthersLeft() {
            const own = make({ own: true, status: "sent" });
            const bubble = findChild(own, "bubble");
            compare(bubble.x + bubble.width, own.width);
            const other = make({ own: false });
            verify(findChild(other, "bubble").x < 1);
            verify(!glyph(other).visible);
        }

        function test_bubbleStaysWithinMaxWidth() {
            const item = make({ own: false, text: "word ".repeat(200) });
            verify(findChild(item, "bubble").width <= item.maxBubbleWidth + 1);
        }

        function test_groupShowsSenderOncePerRun() {
            const first = make({ isGroup: true, startsRun: true });
            verify(findChild(first, "senderName").visible);
            const next = make({ isGroup: true, startsRun: false });
            verify(!findChild(next, "senderName").visible);
            const direct = make({ isGroup: false, startsRun: true });
            verify(!findChild(direct, "senderName").visible);
        }

        function test_daySeparatorAndUnreadLine() {
            const item = make({ showDay: true, dayLabel: "Yesterday", showUnreadLine: true });
            const pill = findChild(item, "dayPill");
            verify(pill.visible);
            compare(pill.text, "Yesterday");
            verify(findChild(item, "unreadLine").visible);
            const plain = make({});
            verify(!findChild(plain, "dayPill").visible);
            verify(!findChild(plain, "unreadLine").visible);
        }

        function test_systemEventIsALine() {
            const item = make({ isSystem: true, text: "Ann added Bob" });
            verify(findChild(item, "systemLine").visible);
            verify(!findChild(item, "bubble").visible);
        }

        function test_quote() {
            const item = make({ replyText: "lunch?" });
            verify(findChild(item, "quote").visible);
            verify(!findChild(make({}), "quote").visible);
        }
    }

    Component {
        id: spyComponent
        SignalSpy {}
    }
}
