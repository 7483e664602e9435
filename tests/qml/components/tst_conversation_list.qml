import QtQuick
import QtTest
import Kith.Conversations
import Kith.Theme

// The conversation list: the open chat is marked beside it on a wide window
// but not on a phone; presence only while connected; the tick of one's own
// last message; the "@" of an unread mention.
Item {
    id: root
    width: 340
    height: 600

    ListModel {
        id: conversations
        ListElement { conversationId: "d:1:2"; title: "bob"; isGroup: false; peerUserId: 2; peerOnline: true; lastMessage: "see you"; lastSenderName: "ann"; lastActivity: 0; unreadCount: 0; unreadMentions: 0; muted: false; failedCount: 0; pendingCount: 0; lastStatus: 3 }
        ListElement { conversationId: "g:5"; title: "Release crew"; isGroup: true; peerUserId: 0; peerOnline: false; lastMessage: "ok"; lastSenderName: "carol"; lastActivity: 0; unreadCount: 2; unreadMentions: 1; muted: true; failedCount: 0; pendingCount: 0; lastStatus: 0 }
        ListElement { conversationId: "d:1:3"; title: "carol"; isGroup: false; peerUserId: 3; peerOnline: false; lastMessage: "done 🎉"; lastSenderName: "ann"; lastActivity: 0; unreadCount: 0; unreadMentions: 0; muted: false; failedCount: 0; pendingCount: 0; lastStatus: 2 }
    }

    ConversationListPane {
        id: pane
        anchors.fill: parent
        model: conversations
        selfName: "ann"
        online: true
        currentConversationId: "d:1:2"
    }

    TestCase {
        name: "ConversationList"
        when: windowShown

        function row(i) {
            const list = findChild(pane, "conversationList");
            tryVerify(() => list.itemAtIndex(i) !== null);
            return list.itemAtIndex(i);
        }

        function init() {
            pane.showSelection = true;
            pane.online = true;
        }

        function test_openChatMarkedOnlyBesideIt() {
            verify(row(0).selected);
            pane.showSelection = false;
            verify(!row(0).selected, "the phone list still marks the chat left");
        }

        function test_noPresenceWhileOffline() {
            verify(row(0).peerOnline);
            pane.online = false;
            verify(!row(0).peerOnline);
            verify(!findChild(row(0), "presenceDot").visible);
        }

        function test_ownLastMessageTick() {
            compare(row(0).lastStatus, "read");
            verify(findChild(row(0), "lastStatusTicks").visible);
            compare(findChild(row(0), "lastStatusTicks").tickCount, 2);
            compare(row(2).lastStatus, "sent");
            compare(findChild(row(2), "lastStatusTicks").tickCount, 1);
            compare(row(1).lastStatus, "");
            verify(!findChild(row(1), "lastStatusTicks").visible);
        }

        // Beside the count, in the accent even though the chat is muted
        // (the count itself is grey); none where nothing mentions the reader.
        function test_mentionBadge() {
            const badge = findChild(row(1), "mentionBadge");
            verify(badge.visible);
            compare(String(badge.color), String(Theme.accent));
            verify(String(findChild(row(1), "unreadBadge").color) !== String(Theme.accent));
            verify(!findChild(row(0), "mentionBadge").visible);
            conversations.setProperty(1, "unreadMentions", 0);
            verify(!badge.visible);
            conversations.setProperty(1, "unreadMentions", 1);
        }

        function test_emojiPreviewInColour() {
            const preview = findChild(row(2), "previewText");
            if (preview.rich)
                verify(preview.text.indexOf("font-family") > 0);
            verify(preview.text.indexOf("done") >= 0);
        }

        function test_menuItemsAreNotCutOff() {
            const button = findChild(pane, "menuButton");
            mouseMove(button, button.width / 2, button.height / 2);
            mouseClick(button);
            const menu = findChild(pane, "paneMenu");
            tryCompare(menu, "opened", true);
            for (let i = 0; i < menu.count; ++i) {
                const item = menu.itemAt(i);
                if (item && item.visible && item.contentItem && item.contentItem.implicitWidth !== undefined)
                    verify(item.contentItem.implicitWidth <= item.contentItem.width + 0.5, "cut off: " + item.text);
            }
            menu.close();
        }
    }
}
