import QtQuick
import QtTest
import Kith.Chat
import Kith.Conversations
import Kith.Theme

// This user's own settings of a chat, as the views show and change them:
// mute for an hour / 8 hours / until turned back on from the header, archive
// (archived chats leave the list for an "Archived" entry), block (the
// composer gives way to "You blocked …" and Unblock), the pinned bar (the
// newest pin, a click jumps and moves on, unpin), and Pin / Delete for me in
// a bubble's menu.
Item {
    id: root
    width: 900
    height: 640

    ListModel {
        id: conversations
        ListElement { conversationId: "d:1:2"; title: "bob"; isGroup: false; peerUserId: 2; peerOnline: false; lastMessage: "see you"; lastSenderName: "bob"; lastActivity: 0; unreadCount: 1; failedCount: 0; pendingCount: 0; lastStatus: 0; muted: true; archived: false }
        ListElement { conversationId: "g:5"; title: "Noisy bots"; isGroup: true; peerUserId: 0; peerOnline: false; lastMessage: "build 812 ok"; lastSenderName: "ci"; lastActivity: 0; unreadCount: 3; failedCount: 0; pendingCount: 0; lastStatus: 0; muted: false; archived: true }
        ListElement { conversationId: "d:1:3"; title: "carol"; isGroup: false; peerUserId: 3; peerOnline: false; lastMessage: "done"; lastSenderName: "carol"; lastActivity: 0; unreadCount: 0; failedCount: 0; pendingCount: 0; lastStatus: 0; muted: false; archived: false }
    }

    Component {
        id: paneComponent
        ConversationListPane {
            width: 340
            height: 600
            model: conversations
            selfName: "ann"
            online: true
            archivedCount: 1
            archivedUnread: 3
        }
    }

    Component {
        id: chatComponent
        ChatView {
            anchors.fill: parent
            conversationId: "d:1:2"
            title: "bob"
            messages: ListModel {}
        }
    }

    Component {
        id: delegateComponent
        MessageDelegate {
            width: root.width
            text: "The plan for Friday"
            senderName: "bob"
            senderKey: "2"
            timeMs: new Date(2026, 10, 24, 9, 41).getTime()
            status: ""
        }
    }

    TestCase {
        name: "ChatState"
        when: windowShown

        function watch(target, signalName) {
            const spy = createTemporaryQmlObject("import QtTest; SignalSpy {}", root);
            spy.target = target;
            spy.signalName = signalName;
            return spy;
        }

        // Menu rows are triggered as a click would (a click into a popup
        // under the offscreen platform is not reliable), then the menu closes.
        function trigger(menu, name) {
            const action = findChild(menu, name);
            verify(action && action.visible, name);
            action.triggered();
            menu.close();
            tryCompare(menu, "opened", false);
        }

        function rowsShown(pane) {
            const list = findChild(pane, "conversationList");
            const titles = [];
            for (let i = 0; i < conversations.count; ++i) {
                const row = list.itemAtIndex(i);
                if (row && row.visible && row.height > 0)
                    titles.push(row.title);
            }
            return titles;
        }

        function test_archivedChatsLeaveTheListForTheirEntry() {
            const pane = createTemporaryObject(paneComponent, root);
            const list = findChild(pane, "conversationList");
            tryVerify(() => list.itemAtIndex(2) !== null);
            compare(rowsShown(pane), ["bob", "carol"]);
            const entry = findChild(pane, "archivedEntry");
            verify(entry && entry.visible && entry.height > 0);
            mouseClick(entry);
            tryCompare(pane, "showArchived", true);
            compare(rowsShown(pane), ["Noisy bots"]);
            const back = findChild(pane, "archiveBack");
            verify(back && back.visible);
            mouseClick(back);
            tryCompare(pane, "showArchived", false);
            compare(rowsShown(pane), ["bob", "carol"]);
            // Nothing archived: no entry.
            pane.archivedCount = 0;
            verify(!findChild(pane, "archivedEntry").visible);
        }

        function test_mutedChatHasAGreyBadge() {
            const pane = createTemporaryObject(paneComponent, root);
            const list = findChild(pane, "conversationList");
            tryVerify(() => list.itemAtIndex(0) !== null);
            verify(list.itemAtIndex(0).muted);
            verify(!list.itemAtIndex(2).muted);
        }

        function test_muteForAnHourEightHoursOrUntilTurnedOn() {
            const chat = createTemporaryObject(chatComponent, root);
            const muted = watch(chat, "muteRequested");
            const button = findChild(chat, "muteButton");
            mouseClick(button);
            const menu = findChild(chat, "muteMenu");
            tryCompare(menu, "opened", true);
            trigger(menu, "muteHourAction");
            compare(muted.count, 1);
            const hour = muted.signalArguments[0][0] - Date.now();
            verify(hour > 3590 * 1000 && hour <= 3600 * 1000, "an hour from now: " + hour);
            mouseClick(button);
            tryCompare(menu, "opened", true);
            trigger(menu, "muteEightHoursAction");
            const eight = muted.signalArguments[1][0] - Date.now();
            verify(eight > 8 * 3600 * 1000 - 10000 && eight <= 8 * 3600 * 1000);
            mouseClick(button);
            tryCompare(menu, "opened", true);
            trigger(menu, "muteForeverAction");
            compare(muted.signalArguments[2][0], -1);
            // Muted, the crossed bell turns it back on.
            chat.muted = true;
            tryCompare(menu, "opened", false);
            mouseClick(button);
            compare(muted.count, 4);
            compare(muted.signalArguments[3][0], 0);
        }

        function test_archiveAndBlockFromTheChatMenu() {
            const chat = createTemporaryObject(chatComponent, root);
            const archived = watch(chat, "archiveToggled");
            const blocked = watch(chat, "blockToggled");
            const button = findChild(chat, "chatMenuButton");
            mouseClick(button);
            const menu = findChild(chat, "chatMenu");
            tryCompare(menu, "opened", true);
            const archive = findChild(menu, "archiveAction");
            compare(archive.text, "Archive");
            trigger(menu, "archiveAction");
            compare(archived.signalArguments[0][0], true);
            chat.archived = true;
            mouseClick(button);
            tryCompare(menu, "opened", true);
            compare(findChild(menu, "archiveAction").text, "Unarchive");
            const block = findChild(menu, "blockAction");
            verify(block.visible);
            compare(block.text, "Block bob");
            trigger(menu, "blockAction");
            compare(blocked.signalArguments[0][0], true);
            // A group has no one to block.
            chat.isGroup = true;
            verify(!findChild(menu, "blockAction").visible);
        }

        function test_blockedChatHasNoComposerAndOffersUnblock() {
            const chat = createTemporaryObject(chatComponent, root);
            const composer = findChild(chat, "composer");
            const notice = findChild(chat, "blockedNotice");
            verify(composer.visible);
            verify(!notice.visible);
            chat.blocked = true;
            verify(!composer.visible);
            verify(!composer.enabled);
            verify(notice.visible);
            verify(findChild(notice, "blockedText").text.indexOf("You blocked bob") === 0);
            verify(!chat.offerFiles([Qt.resolvedUrl("data/wide.png")]), "files go nowhere while blocked");
            const blocked = watch(chat, "blockToggled");
            mouseClick(findChild(notice, "unblockButton"));
            compare(blocked.count, 1);
            compare(blocked.signalArguments[0][0], false);
        }

        function test_pinnedBarShowsTheNewestAndCyclesOnClick() {
            const chat = createTemporaryObject(chatComponent, root);
            const bar = findChild(chat, "pinnedBar");
            verify(!bar.visible);
            compare(bar.height, 0);
            chat.pins = [{ seq: 9, text: "Deploy at 5", senderName: "bob" }, { seq: 4, text: "Wifi: kith-guest", senderName: "ann" }];
            verify(bar.visible);
            verify(bar.height > 0);
            // The layout makes room for it under the header.
            const timeline = findChild(chat, "messageList");
            tryVerify(() => bar.width > 0 && bar.y > 0 && timeline.y >= bar.y + bar.height);
            compare(findChild(bar, "pinnedText").line, "Deploy at 5");
            compare(findChild(bar, "pinnedTitle").text, "Pinned message 1 of 2");
            const jumps = watch(bar, "jumpRequested");
            mouseClick(findChild(bar, "pinnedBarArea"), 60, 10);
            compare(jumps.signalArguments[0][0], 9);
            compare(findChild(bar, "pinnedText").line, "Wifi: kith-guest");
            mouseClick(findChild(bar, "pinnedBarArea"), 60, 10);
            compare(jumps.signalArguments[1][0], 4);
            compare(findChild(bar, "pinnedText").line, "Deploy at 5", "round to the newest again");
            // Unpinning the shown one asks for its seq.
            const pins = watch(chat, "pinToggled");
            mouseClick(findChild(bar, "unpinButton"));
            compare(pins.count, 1);
            compare(pins.signalArguments[0][0], 9);
            compare(pins.signalArguments[0][1], false);
        }

        function test_bubbleMenuPinsAndDeletesForMe() {
            const item = createTemporaryObject(delegateComponent, root, { stored: true });
            const pin = watch(item, "pinToggled");
            const hide = watch(item, "hideRequested");
            item.openMenu(20, 20);
            const menu = item.menu;
            tryCompare(menu, "opened", true);
            const pinAction = findChild(menu, "pinAction");
            verify(pinAction.visible);
            compare(pinAction.text, "Pin");
            const hideAction = findChild(menu, "hideAction");
            verify(hideAction.visible);
            compare(hideAction.text, "Delete for me");
            trigger(menu, "pinAction");
            compare(pin.signalArguments[0][0], true);
            item.pinned = true;
            item.openMenu(20, 20);
            tryCompare(menu, "opened", true);
            compare(findChild(menu, "pinAction").text, "Unpin");
            trigger(menu, "hideAction");
            compare(hide.count, 1);
            // Not stored yet (pending): neither.
            const pending = createTemporaryObject(delegateComponent, root, { own: true, status: "pending" });
            pending.openMenu(20, 20);
            tryCompare(pending.menu, "opened", true);
            verify(!findChild(pending.menu, "pinAction").visible);
            verify(!findChild(pending.menu, "hideAction").visible);
            pending.menu.close();
        }
    }
}
