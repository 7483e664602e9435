import QtQuick
import QtQuick.Controls.Basic
import QtTest
import Kith.Chat

// Scrolling a long chat as a reader does: the wheel, the scroll bar, the
// keys and a touch drag move away from the newest message and stay there,
// also while older pages load above and new messages arrive below; a short
// chat sits at the bottom above the composer.
Item {
    id: root
    width: 600
    height: 500

    // Rows like the message model's, oldest first; the page hooks are the
    // model's too (fetchOlder prepends a page, as the store does), and so is
    // its window: past `windowRows` an older page pushes the newest rows out
    // and fetchNewer brings them back, pushing the oldest out.
    ListModel {
        id: messages

        property int oldest: 1
        property int newest: 0 // the newest seq there is
        property int fetches: 0
        property int windowRows: 100000
        property bool atLatest: true

        function canFetchOlder() {
            return oldest > 1;
        }
        function fetchOlder() {
            const page = Math.min(50, oldest - 1);
            for (let i = 0; i < page; ++i)
                insert(0, root.row(oldest - 1 - i));
            oldest -= page;
            ++fetches;
            if (count > windowRows) {
                remove(windowRows, count - windowRows);
                atLatest = false;
            }
        }
        function canFetchNewer() {
            return !atLatest;
        }
        function fetchNewer() {
            const last = get(count - 1).seq;
            const page = Math.min(50, newest - last);
            for (let i = 1; i <= page; ++i)
                append(root.row(last + i));
            atLatest = last + page >= newest;
            if (count > windowRows) {
                const drop = count - windowRows;
                remove(0, drop);
                oldest += drop;
            }
        }
        function jumpToLatest() {
            root.fill(Math.max(1, newest - 49), newest);
        }
        function rowOfSeq(seq) {
            for (let i = 0; i < count; ++i)
                if (get(i).seq === seq)
                    return i;
            return -1;
        }
    }

    // Lines of different lengths, so rows differ in height like real ones
    // and the view's estimate of its content height keeps changing.
    function row(seq) {
        return {
            seq: seq,
            clientMsgId: "",
            senderId: seq % 3 === 0 ? 1 : 2,
            senderName: seq % 3 === 0 ? "ann" : "bob",
            isOwn: seq % 3 === 0,
            text: "#" + seq + " " + "words in a row ".repeat(1 + (seq * 7) % 23),
            isSystem: false,
            timestamp: new Date(2026, 10, 24, 9, 0),
            dayBoundary: false,
            showSender: true,
            sendStatus: seq % 3 === 0 ? 2 : 0,
            replyToSeq: 0,
            replyPreview: "",
            replySenderName: ""
        };
    }

    // seqs first..last in the model, nothing older to fetch below first.
    function fill(first, last) {
        timeline.model = null;
        messages.clear();
        for (let seq = first; seq <= last; ++seq)
            messages.append(row(seq));
        messages.oldest = first;
        messages.newest = last;
        messages.atLatest = true;
        messages.fetches = 0;
        timeline.model = messages;
        timeline.scrollToBottom();
    }

    MessageTimeline {
        id: timeline
        anchors.fill: parent
        model: messages
    }

    TestCase {
        id: test
        name: "MessageTimeline"
        when: windowShown

        // The view has settled: no pending callLater, layout done.
        function settle() {
            for (let i = 0; i < 6; ++i)
                wait(20);
        }

        function endY() {
            return timeline.originY + timeline.contentHeight + timeline.bottomMargin - timeline.height;
        }

        function atNewest() {
            return Math.abs(timeline.contentY - endY()) < 1;
        }

        // The seq of the row at the middle of the view and its y in the view.
        function middle() {
            const item = timeline.itemAt(timeline.width / 2, timeline.contentY + timeline.height / 2);
            verify(item);
            return { seq: item.rowSeq, y: item.y - timeline.contentY };
        }

        function init() {
            // Flicks end quickly: the tests wait for the view to stop.
            timeline.flickDeceleration = 20000;
            timeline.forceActiveFocus();
        }

        function test_wheelUpMovesAwayFromTheNewestAndStays_data() {
            return [
                { tag: "one notch", notches: 1 },
                { tag: "three notches", notches: 3 },
                { tag: "twelve notches", notches: 12 }
            ];
        }

        function test_wheelUpMovesAwayFromTheNewestAndStays(data) {
            root.fill(2801, 3000);
            settle();
            verify(atNewest());
            const before = timeline.contentY;
            for (let i = 0; i < data.notches; ++i)
                mouseWheel(timeline, timeline.width / 2, timeline.height / 2, 0, 120);
            tryVerify(() => !timeline.flicking && !timeline.moving, 5000);
            settle();
            verify(timeline.contentY < before - 20, "the wheel did not move the view up");
            verify(!timeline.stickToBottom);
            const held = middle();
            settle();
            compare(middle().seq, held.seq);
        }

        function test_scrollBarDragMovesUp() {
            root.fill(2801, 3000);
            settle();
            const bar = timeline.ScrollBar.vertical;
            verify(bar.visible);
            const x = bar.x + bar.width / 2;
            const y = bar.y + (bar.position + bar.size / 2) * bar.height;
            mousePress(timeline, x, y);
            for (let step = 1; step <= 10; ++step)
                mouseMove(timeline, x, y - step * 15);
            mouseRelease(timeline, x, y - 150);
            settle();
            verify(!atNewest(), "dragging the scroll bar did not move the view");
            verify(!timeline.stickToBottom);
        }

        function test_touchDragMovesUp() {
            root.fill(2801, 3000);
            settle();
            const x = timeline.width / 2;
            mousePress(timeline, x, 100);
            for (let step = 1; step <= 10; ++step)
                mouseMove(timeline, x, 100 + step * 25);
            mouseRelease(timeline, x, 350);
            tryVerify(() => !timeline.moving, 5000);
            settle();
            verify(!atNewest());
            verify(!timeline.stickToBottom);
        }

        function test_pageKeysHomeAndEnd() {
            root.fill(2801, 3000);
            settle();
            const start = timeline.contentY;
            keyClick(Qt.Key_PageUp);
            settle();
            verify(timeline.contentY < start - timeline.height / 2);
            verify(!timeline.stickToBottom);
            const afterUp = timeline.contentY;
            keyClick(Qt.Key_PageUp);
            keyClick(Qt.Key_PageDown);
            settle();
            fuzzyCompare(timeline.contentY, afterUp, 2);
            keyClick(Qt.Key_End);
            settle();
            verify(atNewest());
            verify(timeline.stickToBottom);
            // Home: the top of the rows held, and the page that then comes in
            // above leaves that row where it is (one page, not a run back to
            // the first message).
            const firstSeq = messages.get(0).seq;
            const fetches = messages.fetches;
            keyClick(Qt.Key_Home);
            settle();
            verify(Math.abs(placeOf(firstSeq) - timeline.topMargin) < 16, "the page that came in moved the view: " + placeOf(firstSeq));
            verify(messages.get(0).seq < firstSeq, "no older page came in");
            compare(messages.fetches, fetches + 1);
        }

        function topRow() {
            return timeline.itemAt(timeline.width / 2, timeline.contentY + timeline.topMargin + 2);
        }

        // Where the row of seq is in the view (its top, from the view's top).
        function placeOf(seq) {
            const item = timeline.itemAtIndex(messages.rowOfSeq(seq));
            return item ? item.y - timeline.contentY : NaN;
        }

        // A reader who drags or flings to the very top stays on the row they
        // reached while the older page comes in above it.
        function test_theTopRowHoldsWhileAPageComesIn() {
            root.fill(1001, 1200);
            settle();
            for (let round = 0; round < 3; ++round) {
                const fetches = messages.fetches;
                const seen = messages.get(0).seq;
                timeline.contentY = timeline.startContentY;
                const before = placeOf(seen);
                settle();

                verify(Math.abs(placeOf(seen) - before) < 16, "round " + round + ": " + before + " -> " + placeOf(seen));
                compare(messages.fetches, fetches + 1, "round " + round);
            }
            verify(messages.oldest > 1);
            verify(!timeline.stickToBottom);
        }

        // Older pages come in above while the reader stays on the same row.
        function test_olderPagesLoadWithoutMovingTheView() {
            timeline.flickDeceleration = 1500; // a real wheel's reach
            root.fill(2951, 3000);
            settle();
            for (let i = 0; i < 40 && messages.fetches < 3; ++i) {
                mouseWheel(timeline, timeline.width / 2, timeline.height / 2, 0, 360);
                tryVerify(() => !timeline.flicking && !timeline.moving, 5000);
                const seen = middle();
                settle();
                const now = middle();
                compare(now.seq, seen.seq, "the view jumped while a page loaded");
                fuzzyCompare(now.y, seen.y, 1);
            }
            verify(messages.fetches >= 3, "reading up did not load older pages");
            verify(!timeline.stickToBottom);
        }

        // A long chat held in a window of rows: reading back past the window
        // with the wheel loads page after page down to the first message,
        // and reading down again brings the newest back, the window bounded
        // throughout.
        function test_scrollBackPastTheWindowAndDownAgain() {
            timeline.flickDeceleration = 1500; // a real wheel's reach
            messages.windowRows = 80;
            root.fill(151, 200);
            settle();
            const atTop = () => timeline.contentY - timeline.startContentY < 2;
            for (let i = 0; i < 200 && !(messages.oldest === 1 && atTop()); ++i) {
                mouseWheel(timeline, timeline.width / 2, timeline.height / 2, 0, 1200);
                tryVerify(() => !timeline.flicking && !timeline.moving, 5000);
                verify(messages.count <= messages.windowRows);
            }
            compare(messages.oldest, 1, "reading back stopped before the first message");
            verify(!messages.atLatest);
            settle();
            const first = timeline.itemAt(timeline.width / 2, timeline.contentY + timeline.topMargin + 2);
            verify(first);
            compare(first.rowSeq, 1);
            for (let i = 0; i < 200 && !(messages.atLatest && atNewest()); ++i) {
                mouseWheel(timeline, timeline.width / 2, timeline.height / 2, 0, -1200);
                tryVerify(() => !timeline.flicking && !timeline.moving, 5000);
                verify(messages.count <= messages.windowRows);
            }
            verify(messages.atLatest, "reading down did not bring the newest back");
            compare(messages.get(messages.count - 1).seq, 200);
            settle();
            verify(atNewest());
            messages.windowRows = 100000;
        }

        // A message arriving while the reader is in the history does not pull
        // the view down; at the bottom it does.
        function test_newMessagesDoNotYankTheReader() {
            root.fill(2801, 3000);
            settle();
            keyClick(Qt.Key_PageUp);
            keyClick(Qt.Key_PageUp);
            settle();
            const seen = middle();
            messages.append(root.row(3001));
            settle();
            compare(middle().seq, seen.seq);
            keyClick(Qt.Key_End);
            settle();
            messages.append(root.row(3002));
            settle();
            verify(atNewest());
            compare(timeline.indexAt(timeline.width / 2, endY() + timeline.height - timeline.bottomMargin - 4), messages.count - 1);
        }

        // A message jumped to (a search hit, a quote) flashes, then stops.
        function test_jumpedToMessageFlashesOnce() {
            root.fill(2801, 3000);
            settle();
            timeline.highlightMs = 200;
            verify(timeline.jumpToSeq(2850));
            compare(timeline.highlightSeq, 2850);
            verify(!timeline.stickToBottom);
            const row = messages.rowOfSeq(2850);
            tryVerify(() => timeline.itemAtIndex(row) !== null && timeline.itemAtIndex(row).highlighted);
            const item = timeline.itemAtIndex(row);
            verify(item.y + item.height > timeline.contentY && item.y < timeline.contentY + timeline.height, "the hit is not in view");
            tryCompare(timeline, "highlightSeq", 0, 2000);
            verify(!item.highlighted);
        }

        // What counts as read: the newest row seen whole; one cut off at the
        // bottom edge (within the 24 px that still count as "at the bottom")
        // is not read yet.
        function test_lastFullyVisibleSeq() {
            root.fill(2901, 3000);
            settle();
            compare(timeline.lastFullyVisibleSeq(), 3000);
            timeline.contentY = timeline.endContentY - timeline.bottomMargin - 8;
            settle();
            verify(timeline.atBottom);
            compare(timeline.lastFullyVisibleSeq(), 2999);
        }

        // Rows that scroll away are shown again for other messages: a reused
        // row shows its new message and nothing of the old one (not its
        // selection, not its menu).
        function test_reusedRowsCarryNothingOver() {
            root.fill(2801, 3000);
            settle();
            const item = timeline.itemAt(timeline.width / 2, timeline.contentY + timeline.height / 2);
            verify(item);
            const seq = item.rowSeq;
            item.openMenu(10, 10);
            tryCompare(item.menu, "opened", true);
            const menu = item.menu;
            item.selecting = true;
            tryVerify(() => findChild(item, "selectableBody") !== null);
            // Far enough up that the row leaves the view and its buffer, and
            // rows are made (or reused) for a screenful of others.
            for (let i = 0; i < 12; ++i)
                keyClick(Qt.Key_PageUp);
            settle();
            tryVerify(() => item.rowSeq !== seq, 5000, "the row was neither reused nor moved");
            for (let i = 0; i < 12; ++i)
                keyClick(Qt.Key_PageDown);
            settle();
            verify(!menu.opened, "a menu stayed open for a row gone");
            let rows = 0;
            const children = timeline.contentItem.children;
            for (let i = 0; i < children.length; ++i) {
                const child = children[i];
                if (child.rowSeq === undefined || !child.visible)
                    continue;
                ++rows;
                verify(!child.selecting, "row " + child.rowSeq + " came back selecting");
                verify(findChild(child, "selectableBody") === null);
                verify(!child.menu || !child.menu.opened);
                verify(child.text.indexOf("#" + child.rowSeq + " ") === 0, "row " + child.rowSeq + " shows " + child.text);
            }
            verify(rows > 5);
        }

        // Two messages sit at the bottom, right above the composer.
        function test_shortChatSitsAtTheBottom() {
            root.fill(1, 2);
            settle();
            const last = timeline.itemAtIndex(1);
            verify(last);
            const bottom = last.mapToItem(timeline, 0, last.height).y;
            fuzzyCompare(bottom, timeline.height - timeline.bottomMargin, 2);
            const first = timeline.itemAtIndex(0);
            verify(first.mapToItem(timeline, 0, 0).y > timeline.height / 2);
        }
    }
}
