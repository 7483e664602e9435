import QtQuick
import QtTest
import Kith.App

// The split view turns into a stack below 600 px and back.
Item {
    id: root
    width: 1000
    height: 600

    AdaptiveLayout {
        id: layout
        height: parent.height
        width: 900
        listContent: Rectangle { id: listPane; anchors.fill: parent }
        chatContent: Rectangle { id: chatPane; anchors.fill: parent }
    }

    TestCase {
        name: "AdaptiveLayout"
        when: windowShown

        function init() {
            layout.width = 900;
            layout.chatOpen = false;
            layout.listWidth = 320;
        }

        function test_wideIsSplit() {
            verify(layout.wide);
            verify(layout.listVisible);
            verify(layout.chatVisible);
            compare(listPane.width, 320);
            compare(chatPane.width, 900 - 320 - 1);
            const chatPos = chatPane.mapToItem(layout, 0, 0);
            compare(chatPos.x, 321);
        }

        function test_switchAt600() {
            layout.width = 600;
            verify(layout.wide);
            layout.width = 599;
            verify(!layout.wide);
            compare(listPane.width, 599);
            verify(layout.listVisible);
            verify(!layout.chatVisible);
        }

        function test_narrowPushesChatOverList() {
            layout.width = 400;
            layout.chatOpen = true;
            verify(layout.chatVisible);
            verify(!layout.listVisible);
            compare(chatPane.width, 400);
            tryCompare(findChild(layout, "chatSlot"), "x", 0);
            layout.chatOpen = false;
            tryCompare(findChild(layout, "chatSlot"), "visible", false);
            verify(layout.listVisible);
        }

        function test_backToWideShowsBoth() {
            layout.width = 400;
            layout.chatOpen = true;
            layout.width = 800;
            verify(layout.listVisible);
            verify(layout.chatVisible);
            compare(findChild(layout, "chatSlot").x, 321);
        }

        function test_dragResizesWithinBounds() {
            verify(findChild(layout, "splitHandle").visible);
            // In the window's coordinates: the handle follows the border as it moves.
            mousePress(root, 320, 100);
            mouseMove(root, 350, 100);
            mouseMove(root, 380, 100);
            mouseRelease(root, 380, 100);
            compare(layout.shownListWidth, 380);
            mousePress(root, 380, 100);
            mouseMove(root, 200, 100);
            mouseMove(root, 20, 100);
            mouseRelease(root, 20, 100);
            compare(layout.shownListWidth, layout.minListWidth);
        }
    }
}
