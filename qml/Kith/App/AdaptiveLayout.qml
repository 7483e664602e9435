import QtQuick
import Kith.Theme

// Split view on a wide window (list on the left, resizable; chat on the
// right); on a narrow one (< 600 px) a stack: the list, with the chat slid
// over it while one is open.
Item {
    id: layout

    property alias listContent: listSlot.data
    property alias chatContent: chatSlot.data
    // Narrow layout: whether the chat is pushed over the list.
    property bool chatOpen: false
    property real listWidth: 320
    readonly property real minListWidth: 260
    readonly property real maxListWidth: Math.max(minListWidth, Math.min(420, width - 320))

    readonly property bool wide: width >= 600
    readonly property real shownListWidth: Math.max(minListWidth, Math.min(maxListWidth, listWidth))
    // What a person can see right now (for tests and for focus handling).
    readonly property bool listVisible: listSlot.visible && (wide || !chatOpen)
    readonly property bool chatVisible: wide || chatOpen

    Item {
        id: listSlot
        objectName: "listSlot"
        width: layout.wide ? layout.shownListWidth : layout.width
        height: layout.height
        visible: layout.wide || !layout.chatOpen || slide.running
    }

    Rectangle {
        visible: layout.wide
        x: listSlot.width
        width: 1
        height: layout.height
        color: Theme.border
    }

    Item {
        id: chatSlot
        objectName: "chatSlot"
        x: layout.wide ? listSlot.width + 1 : (layout.chatOpen ? 0 : layout.width)
        width: layout.wide ? layout.width - listSlot.width - 1 : layout.width
        height: layout.height
        visible: layout.wide || layout.chatOpen || slide.running

        Behavior on x {
            enabled: !layout.wide
            NumberAnimation {
                id: slide
                duration: 180
                easing.type: Easing.OutCubic
            }
        }
    }

    // Drag the border to resize the list.
    MouseArea {
        objectName: "splitHandle"
        visible: layout.wide
        x: listSlot.width - 3
        width: 7
        height: layout.height
        cursorShape: Qt.SplitHCursor
        property real pressX: 0
        property real startWidth: 0
        onPressed: mouse => {
            pressX = mapToItem(layout, mouse.x, 0).x;
            startWidth = layout.shownListWidth;
        }
        onPositionChanged: mouse => {
            const dx = mapToItem(layout, mouse.x, 0).x - pressX;
            layout.listWidth = Math.max(layout.minListWidth, Math.min(layout.maxListWidth, startWidth + dx));
        }
    }
}
