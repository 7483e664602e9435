import QtQuick
import QtTest
import Kith.Chat
import Kith.Theme

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
            return findChild(item, "statusTicks");
        }

        // A part that shows; the rarer parts are not made at all where they
        // do not (a row in a long chat stays cheap to make).
        function shown(item, name) {
            const part = findChild(item, name);
            return part !== null && part.visible;
        }

        function test_pending() {
            const item = make({ own: true, status: "pending" });
            verify(glyph(item).visible);
            compare(glyph(item).status, "pending");
            compare(glyph(item).tickCount, 0);
            verify(!shown(item, "failedRow"));
        }

        // The ticks are drawn: some of their pixels differ from the bubble.
        function drawnPixels(ticks) {
            waitForRendering(ticks);
            const image = grabImage(ticks);
            const bubble = Qt.color(Theme.accent);
            let drawn = 0;
            for (let x = 0; x < image.width; ++x)
                for (let y = 0; y < image.height; ++y)
                    if (!Qt.colorEqual(image.pixel(x, y), bubble) && image.pixel(x, y).a > 0)
                        ++drawn;
            return drawn;
        }

        // The member named in the text is bold in the accent, the rest is not.
        function test_mentionHighlighted() {
            const item = make({ text: "ping @bob now", mentions: [{ userId: 2, start: 5, length: 4 }] });
            const body = findChild(item, "body");
            const bold = "<font color=\"" + Qt.color(Theme.accentFg).toString() + "\"><b>@bob</b></font>";
            verify(body.text.indexOf(bold) > 0, body.text);
            verify(body.text.indexOf("ping ") === 0, body.text);
            const plain = make({ text: "ping @bob now" });
            verify(findChild(plain, "body").text.indexOf("<b>") < 0);
        }

        function test_sent() {
            const item = make({ own: true, status: "sent" });
            compare(glyph(item).tickCount, 1);
            verify(drawnPixels(glyph(item)) > 5, "the tick is not drawn");
            verify(!shown(item, "failedRow"));
        }

        // Sent, delivered and read differ at a glance: the number of ticks
        // and, once read, their colour; drawn at least 14 px, not 11 px text.
        function test_readIsDistinctFromSent() {
            const sent = glyph(make({ own: true, status: "sent" }));
            const delivered = glyph(make({ own: true, status: "delivered" }));
            const read = glyph(make({ own: true, status: "read" }));
            compare(read.tickCount, 2);
            compare(delivered.tickCount, 2);
            verify(!Qt.colorEqual(read.tint, sent.tint));
            verify(!Qt.colorEqual(read.tint, delivered.tint));
            verify(Qt.colorEqual(delivered.tint, sent.tint));
            verify(read.height >= 14 && sent.height >= 14);
            compare(read.opacity, 1);
        }

        function test_failedOffersRetryAndDiscard() {
            const item = make({ own: true, status: "failed" });
            compare(glyph(item).status, "failed");
            verify(shown(item, "failedRow"));
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

        // A member's name takes the colour they chose for their avatar, as
        // their avatar does, in both themes; with none chosen, their id's.
        function test_senderNameTakesTheChosenColour() {
            const scheme = Theme.scheme;
            for (const s of ["light", "dark"]) {
                Theme.scheme = s;
                const chosen = make({ isGroup: true, startsRun: true, senderKey: "17", senderAvatarColor: 4 });
                const palette = Theme.dark ? Theme.senderPaletteDark : Theme.avatarPalette;
                verify(Qt.colorEqual(findChild(chosen, "senderName").color, palette[3]), s);
                verify(Qt.colorEqual(findChild(chosen, "initialsCircle").color, Theme.avatarPalette[3]), s);
                const unchosen = make({ isGroup: true, startsRun: true, senderKey: "17", senderAvatarColor: 0 });
                verify(Qt.colorEqual(findChild(unchosen, "senderName").color, palette[Theme.colorIndex("17")]), s);
                verify(Theme.colorIndex("17") !== 3, "the test needs a key whose own colour differs");
            }
            Theme.scheme = scheme;
        }

        // The quick reactions stay inside the row when the window narrows
        // under an open picker (a phone turned, a window dragged smaller).
        function test_reactionPickerFollowsANarrowerRow() {
            const item = make({ isGroup: true, startsRun: true });
            item.openReactions(item.width - 40, 0);
            const picker = findChild(item, "reactionPicker");
            verify(picker);
            tryVerify(() => picker.opened);
            verify(picker.width > 100);
            compare(picker.x, item.width - picker.width, "opened past the row's right edge");
            picker.close();
            item.openReactions(100, 0);
            tryVerify(() => picker.opened);
            compare(picker.x, 100);
            item.width = picker.width + 50;
            tryCompare(picker, "x", 50, 2000, "past the row's right edge after it narrowed");
            item.width = 640;
            tryCompare(picker, "x", 100, 2000, "not back where it was asked for");
        }

        function test_daySeparatorAndUnreadLine() {
            const item = make({ showDay: true, dayLabel: "Yesterday", showUnreadLine: true });
            verify(shown(item, "dayPill"));
            compare(findChild(item, "dayPill").text, "Yesterday");
            verify(shown(item, "unreadLine"));
            const plain = make({});
            verify(!shown(plain, "dayPill"));
            verify(!shown(plain, "unreadLine"));
            // Turned on later (the unread line moves as the chat is read).
            plain.showUnreadLine = true;
            verify(shown(plain, "unreadLine"));
        }

        function test_systemEventIsALine() {
            const item = make({ isSystem: true, text: "Ann added Bob" });
            verify(shown(item, "systemLine"));
            compare(findChild(item, "systemLine").text, "Ann added Bob");
            verify(!findChild(item, "bubble").visible);
            verify(!shown(make({}), "systemLine"));
        }

        // One to three emoji alone are shown large and without a bubble.
        function test_emojiOnlyIsLarge() {
            const big = make({ text: "🎉" });
            const plain = make({ text: "party 🎉" });
            compare(big.emojiOnly, 1);
            verify(findChild(big, "body").font.pixelSize >= 2 * findChild(plain, "body").font.pixelSize);
            compare(findChild(big, "bubble").color.a, 0);
            compare(plain.emojiOnly, 0);
        }

        // Links are anchors in the link colour; activating one asks to open it.
        function test_linksAreClickable() {
            const item = make({ text: "docs at https://kith.example.org/guide ok" });
            const body = findChild(item, "body");
            verify(body.text.indexOf("<a href=\"https://kith.example.org/guide\">") >= 0);
            compare(item.links, ["https://kith.example.org/guide"]);
            const opened = createTemporaryObject(spyComponent, root, { target: item, signalName: "linkActivated" });
            // A click on the link's words: find them in the laid-out text.
            let clicked = false;
            for (let x = 2; x < body.width && !clicked; x += 4) {
                if (body.linkAt(x, body.height / 2).length > 0) {
                    mouseClick(body, x, body.height / 2);
                    clicked = true;
                }
            }
            verify(clicked, "no link under the text");
            compare(opened.count, 1);
            compare(opened.signalArguments[0][0], "https://kith.example.org/guide");
        }

        // Right click opens the actions; copy link is there for a link only.
        function test_contextMenu() {
            const item = make({ text: "see https://example.com", own: false });
            const bubble = findChild(item, "bubble");
            mouseClick(bubble, bubble.width / 2, bubble.height / 2, Qt.RightButton);
            const menu = item.menu;
            verify(menu, "right click opened no menu");
            tryCompare(menu, "opened", true);
            const copyLink = findChild(menu, "copyLinkAction");
            verify(copyLink.visible);
            const copy = createTemporaryObject(spyComponent, root, { target: item, signalName: "copyLinkRequested" });
            copyLink.triggered();
            compare(copy.count, 1);
            compare(copy.signalArguments[0][0], "https://example.com");
            menu.close();
            const plain = make({ text: "no link" });
            plain.openMenu(10, 10);
            const plainMenu = plain.menu;
            tryCompare(plainMenu, "opened", true);
            verify(!findChild(plainMenu, "copyLinkAction").visible);
            // Select text turns the bubble into selectable text.
            findChild(plainMenu, "selectAction").triggered();
            verify(plain.selecting);
            tryVerify(() => findChild(plain, "selectableBody") !== null);
            compare(findChild(plain, "selectableBody").selectedText, "no link");
            plainMenu.close();
        }

        function test_quote() {
            const item = make({ replyText: "lunch?" });
            verify(shown(item, "quote"));
            verify(!shown(make({}), "quote"));
            // The bubble is as wide as the quote at least.
            verify(findChild(item, "bubble").width >= findChild(item, "quote").implicitWidth);
        }

        // Reply and react show while the pointer is on the row, and work.
        function test_hoverActions() {
            const item = make({ own: false, status: "" });
            const bubble = findChild(item, "bubble");
            verify(!shown(item, "replyButton"));
            verify(!shown(item, "reactButton"));
            mouseMove(bubble, bubble.width / 2, bubble.height / 2);
            tryVerify(() => shown(item, "replyButton") && shown(item, "reactButton"));
            const reply = createTemporaryObject(spyComponent, root, { target: item, signalName: "replyRequested" });
            mouseClick(findChild(item, "replyButton"));
            compare(reply.count, 1);
            mouseMove(root, root.width - 2, root.height - 2);
            tryVerify(() => !shown(item, "replyButton"));
        }

        // The sender's avatar and the reactions under the bubble in a group.
        function test_avatarAndReactions() {
            const first = make({ isGroup: true, startsRun: true, reactions: [{ emoji: "👍", count: 2, mine: true, names: "ann, bob" }] });
            verify(shown(first, "avatar"));
            verify(shown(first, "reactionRow"));
            compare(findChild(first, "reactionChip").Accessible.name, "👍 2: ann, bob");
            const bubble = findChild(first, "bubble");
            const row = findChild(first, "reactionRow");
            verify(row.mapToItem(first, 0, 0).y >= bubble.mapToItem(first, 0, bubble.height).y - 1, "the reactions overlap the bubble");
            const next = make({ isGroup: true, startsRun: false });
            verify(!shown(next, "avatar"));
            verify(!shown(next, "reactionRow"));
        }
    }

    Component {
        id: spyComponent
        SignalSpy {}
    }
}
