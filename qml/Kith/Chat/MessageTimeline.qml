import QtQuick
import QtQuick.Controls.Basic
import Kith.Theme

// The messages of one conversation, oldest at the top. Older pages are asked
// for (fetchMore) as the view nears the top; new messages keep the view at the
// bottom only when it already was there. Rows use the message model's roles:
// seq, clientMsgId, senderId, senderName, isOwn, text, isSystem, timestamp,
// dayBoundary, showSender, sendStatus, replyToSeq, replyPreview, replySenderName.
ListView {
    id: timeline

    property bool isGroup: false
    // The first unread seq when the chat was opened: the "new messages" line goes above it.
    property real markerSeq: 0
    // A message to flash after a jump from search or a quote.
    property real highlightSeq: 0
    property int unreadCount: 0

    readonly property bool atBottom: contentHeight <= height || contentY + height >= contentHeight + originY - 24

    signal retryRequested(string clientMsgId)
    signal discardRequested(string clientMsgId)
    signal replyRequested(int seq, string senderName, string text)
    signal copyRequested(string text)
    signal quoteActivated(int seq)
    signal reachedBottom

    // The model's SendStatus enum, in its order.
    readonly property var statusNames: ["", "pending", "sent", "read", "failed"]

    property bool stickToBottom: true

    function scrollToBottom() {
        stickToBottom = true;
        positionViewAtEnd();
    }

    function jumpToSeq(seq) {
        if (!model || model.rowOfSeq === undefined)
            return false;
        const row = model.rowOfSeq(seq);
        stickToBottom = false;
        highlightSeq = seq;
        if (row >= 0) {
            positionViewAtIndex(row, ListView.Center);
            return true;
        }
        // Older than the window: the model re-centres on it (onLoadedAround).
        if (model.loadAround === undefined)
            return false;
        model.loadAround(seq);
        return true;
    }

    Connections {
        target: timeline.model
        ignoreUnknownSignals: true
        function onLoadedAround(seq, row) {
            if (seq === timeline.highlightSeq && row >= 0)
                timeline.positionViewAtIndex(row, ListView.Center);
        }
    }

    // Opens a chat at its first unread message ("new messages" line on top)
    // when there is one in the window, else at the bottom.
    function showFirstUnread() {
        const row = markerSeq > 0 && model && model.rowOfSeq !== undefined ? model.rowOfSeq(markerSeq) : -1;
        if (unreadCount === 0 || row < 0) {
            scrollToBottom();
            return;
        }
        stickToBottom = false;
        positionViewAtIndex(row, ListView.Beginning);
    }

    // The seq in the middle of the view, to come back to later; 0 at the bottom.
    function anchorSeq() {
        if (atBottom)
            return 0;
        const item = itemAt(width / 2, contentY + height / 2);
        return item ? item.rowSeq : 0;
    }

    // Back to where the reader was; false when that message left the window.
    function restorePosition(seq) {
        const row = seq > 0 && model && model.rowOfSeq !== undefined ? model.rowOfSeq(seq) : -1;
        if (row < 0)
            return false;
        stickToBottom = false;
        positionViewAtIndex(row, ListView.Center);
        return true;
    }

    function fetchOlderIfNear() {
        if (!model || model.canFetchMore === undefined || count === 0)
            return;
        if (contentY - originY < height && model.canFetchMore(model.index(-1, -1)))
            model.fetchMore(model.index(-1, -1));
    }

    clip: true
    spacing: 0
    boundsBehavior: Flickable.StopAtBounds
    cacheBuffer: 800
    topMargin: Theme.spacingM
    bottomMargin: Theme.spacingM
    ScrollBar.vertical: ScrollBar {}

    onContentYChanged: {
        if (moving || dragging || flicking)
            stickToBottom = atBottom;
        Qt.callLater(fetchOlderIfNear);
    }
    onAtBottomChanged: if (atBottom) reachedBottom()
    onCountChanged: if (stickToBottom) Qt.callLater(positionViewAtEnd)
    onContentHeightChanged: if (stickToBottom) Qt.callLater(positionViewAtEnd)
    onHeightChanged: if (stickToBottom) Qt.callLater(positionViewAtEnd)

    delegate: MessageDelegate {
        required property var model
        required property int index
        readonly property real rowSeq: model.seq
        width: ListView.view.width - 2 * Theme.spacingL
        x: Theme.spacingL
        maxBubbleWidth: Math.max(200, ListView.view.width * 0.7)
        text: model.text
        senderName: model.senderName
        senderKey: String(model.senderId)
        own: model.isOwn
        timeMs: Number(model.timestamp)
        status: timeline.statusNames[model.sendStatus] || ""
        isGroup: timeline.isGroup
        startsRun: model.showSender || model.dayBoundary
        isSystem: model.isSystem
        replyText: model.replyToSeq > 0 ? (model.replyPreview || qsTr("An earlier message")) : ""
        replySender: model.replySenderName
        showDay: model.dayBoundary
        dayLabel: showDay ? Format.day(timeMs) : ""
        showUnreadLine: timeline.markerSeq > 0 && model.seq === timeline.markerSeq && !model.isOwn
        highlighted: timeline.highlightSeq > 0 && model.seq === timeline.highlightSeq
        onRetryRequested: timeline.retryRequested(model.clientMsgId)
        onDiscardRequested: timeline.discardRequested(model.clientMsgId)
        onReplyRequested: timeline.replyRequested(model.seq, model.senderName, model.text)
        onCopyRequested: timeline.copyRequested(model.text)
        onQuoteActivated: timeline.quoteActivated(model.replyToSeq)
    }

    // Jump back to the newest message, with the unread count while scrolled up.
    AbstractButton {
        id: jumpButton
        objectName: "jumpToBottom"
        visible: !timeline.atBottom
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        anchors.margins: Theme.spacingL
        width: 40
        height: 40
        Accessible.name: qsTr("Jump to the newest message")
        onClicked: {
            if (timeline.model && timeline.model.atLatest === false)
                timeline.model.jumpToLatest();
            timeline.scrollToBottom();
        }
        background: Rectangle {
            radius: 20
            color: Theme.surface
            border.color: Theme.border
        }
        contentItem: Item {
            Icon {
                anchors.centerIn: parent
                name: "down"
                color: Theme.textMuted
            }
        }
        Badge {
            anchors.horizontalCenter: parent.horizontalCenter
            anchors.bottom: parent.top
            anchors.bottomMargin: -6
            count: timeline.unreadCount
        }
    }
}
