import QtQuick
import QtQuick.Controls.Basic
import Kith.Theme
import Kith.Chat

// The messages of one conversation, oldest at the top. Older pages are asked
// for (fetchOlder) as the view nears the top; new messages keep the view at
// the bottom only when it already was there. Rows use the message model's roles:
// seq, clientMsgId, senderId, senderName, isOwn, text, isSystem, timestamp,
// dayBoundary, showSender, sendStatus, replyToSeq, replyPreview, replySenderName,
// and for files isFile, fileName, fileSize, fileMime, isImage, imageWidth,
// imageHeight, thumbnail, caption, fileUrl, fileState, fileProgress,
// isVoiceNote, durationMs (a model
// with fetchFile/retryFile/cancelFile(row) gets those calls).
ListView {
    id: timeline

    property bool isGroup: false
    // The first unread seq when the chat was opened: the "new messages" line goes above it.
    property real markerSeq: 0
    // A message to flash after a jump from search or a quote; the flash ends
    // by itself after highlightMs.
    property real highlightSeq: 0
    property int highlightMs: 2500
    onHighlightSeqChanged: if (highlightSeq > 0) highlightTimer.restart()
    Timer {
        id: highlightTimer
        interval: timeline.highlightMs
        onTriggered: timeline.highlightSeq = 0
    }
    property int unreadCount: 0

    // Within a few pixels of the newest row: the jump button hides and the
    // messages count as seen.
    readonly property bool atBottom: contentY >= endContentY - 24
    // The largest contentY: the newest row's bottom plus the bottom margin
    // (positionViewAtEnd in Qt 6.4 leaves the margin out).
    readonly property real endContentY: originY + contentHeight + bottomMargin - height
    readonly property real startContentY: originY - topMargin

    signal retryRequested(string clientMsgId)
    signal discardRequested(string clientMsgId)
    signal replyRequested(int seq, string senderName, string text)
    signal copyRequested(string text)
    signal linkActivated(string link)
    signal quoteActivated(int seq)
    signal editRequested(int seq, string text)
    signal deleteRequested(int seq)
    signal pinToggled(int seq, bool pin)
    signal hideRequested(int seq)
    signal reactionToggled(int seq, string emoji)
    // Whether this account may delete others' messages here (a group admin or owner).
    property bool moderator: false
    signal reachedBottom
    signal imageViewRequested(url fileUrl, string fileName)
    signal fileOpenRequested(url fileUrl)
    signal showInFolderRequested(url fileUrl)
    signal saveAsRequested(url fileUrl, string fileName)

    function callModel(name, row) {
        if (model && typeof model[name] === "function")
            model[name](row);
    }

    // The model's SendStatus enum, in its order.
    readonly property var statusNames: ["", "pending", "sent", "read", "failed", "delivered"]

    // Whether new rows and layout changes keep the newest message in view.
    // Set by opening a chat at the bottom, sending, the jump button, End, and
    // by the reader scrolling down to the end; cleared the moment the reader
    // moves up by any means (wheel, touchpad, drag, scroll bar, keys), so a
    // page loading above or a message arriving below never pulls the view.
    property bool stickToBottom: true
    // contentY changes made here (following the end) are not the reader's.
    property bool positioning: false
    property real lastContentY: 0

    function followEnd() {
        if (!stickToBottom || count === 0)
            return;
        positioning = true;
        // positionViewAtEnd creates the newest rows, whose real heights then
        // fix the content height; the exact end is set after it.
        positionViewAtEnd();
        contentY = endContentY;
        positioning = false;
        lastContentY = contentY;
    }

    function scrollToBottom() {
        stickToBottom = true;
        followEnd();
    }

    // The reader's own scrolling (keys); the wheel and drags come through
    // Flickable and end up in onContentYChanged the same way.
    function scrollBy(dy) {
        cancelFlick();
        contentY = Math.max(startContentY, Math.min(endContentY, contentY + dy));
    }

    // PageUp/PageDown, Up/Down, Home/End (Ctrl+Home/Ctrl+End from the
    // composer, where Home/End move the cursor). True when handled.
    function handleKey(key, modifiers) {
        switch (key) {
        case Qt.Key_PageUp:
            scrollBy(-height * 0.9);
            return true;
        case Qt.Key_PageDown:
            scrollBy(height * 0.9);
            return true;
        case Qt.Key_Up:
            scrollBy(-48);
            return true;
        case Qt.Key_Down:
            scrollBy(48);
            return true;
        case Qt.Key_Home:
            // The top of the rows held; older pages then load above it as
            // they do for any reader at the top.
            cancelFlick();
            stickToBottom = false;
            positionViewAtBeginning();
            contentY = startContentY;
            return true;
        case Qt.Key_End:
            if (model && model.atLatest === false)
                model.jumpToLatest();
            scrollToBottom();
            return true;
        }
        return false;
    }

    function jumpToSeq(seq) {
        if (!model || model.rowOfSeq === undefined)
            return false;
        const row = model.rowOfSeq(seq);
        stickToBottom = false;
        highlightSeq = 0;
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

    // A page that comes in above a view scrolled to its very top (Home, a
    // fling or a drag that stopped there) would show in place of the rows the
    // reader was on, the view still at the top, which asks for the next page
    // at once: the window ran back to the first message. The row on top is
    // held where it was instead, as it is anywhere else in the chat.
    // The row held (its index, moved on by the rows that come in above it)
    // and how far below the view's top it was; -1: none.
    property int heldRow: -1
    property real heldOffset: 0
    // Puts the held row back where it was, once the rows have come in (a
    // page can come as many inserts: the first one's view is held).
    function restoreHeld() {
        const row = heldRow;
        heldRow = -1;
        if (row < 0 || row >= count)
            return;
        cancelFlick();
        positioning = true;
        forceLayout();
        positionViewAtIndex(row, ListView.Beginning);
        forceLayout();
        positioning = false;
        placeHeld(row);
        // The rows made above it settle their heights over the next frames,
        // which moves it again: it is put back until the reader moves.
        settledRow = row;
        holdSettle.restart();
    }
    function placeHeld(row) {
        const item = itemAtIndex(row);
        if (!item)
            return;
        positioning = true;
        contentY = item.y - heldOffset;
        forceLayout();
        positioning = false;
        lastContentY = contentY;
        settledContentY = contentY;
    }
    property int settledRow: -1
    property real settledContentY: 0
    Timer {
        id: holdRestore
        interval: 0
        onTriggered: timeline.restoreHeld()
    }
    Timer {
        id: holdSettle
        interval: 16
        repeat: true
        property int rounds: 0
        onRunningChanged: if (running) rounds = 0
        onTriggered: {
            if (Math.abs(timeline.contentY - timeline.settledContentY) > 0.5 || timeline.moving || ++rounds > 10) {
                stop(); // the reader scrolled, or it has settled
                return;
            }
            timeline.placeHeld(timeline.settledRow);
        }
    }
    Connections {
        target: timeline.model
        ignoreUnknownSignals: true
        function onRowsAboutToBeInserted(parent, first, last) {
            if (first !== 0 || timeline.heldRow >= 0 || timeline.count === 0 || timeline.stickToBottom)
                return;
            // Only while the first row shows: elsewhere the view keeps its rows.
            const top = timeline.itemAtIndex(0);
            if (!top || top.y + top.height <= timeline.contentY)
                return;
            const row = timeline.indexAt(timeline.width / 2, Math.max(timeline.contentY, top.y) + 1);
            const item = row >= 0 ? timeline.itemAtIndex(row) : null;
            if (!item)
                return;
            timeline.heldRow = row;
            timeline.heldOffset = item.y - timeline.contentY;
        }
        function onRowsInserted(parent, first, last) {
            if (timeline.heldRow < 0)
                return;
            if (first <= timeline.heldRow)
                timeline.heldRow += last - first + 1;
            holdRestore.restart();
        }
        function onRowsRemoved(parent, first, last) {
            if (timeline.heldRow < 0)
                return;
            if (last < timeline.heldRow)
                timeline.heldRow -= last - first + 1;
            else if (first <= timeline.heldRow)
                timeline.heldRow = -1; // it went
        }
        function onModelReset() {
            timeline.heldRow = -1;
            holdSettle.stop();
        }
        function onLoadedAround(seq, row) {
            if (seq === timeline.highlightSeq && row >= 0) {
                timeline.stickToBottom = false;
                timeline.positionViewAtIndex(row, ListView.Center);
            }
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

    // The newest message the reader can see whole (0: none): what counts as
    // read. A row cut off at the bottom edge is not read yet, nor are the
    // rows below it.
    function lastFullyVisibleSeq() {
        const bottom = contentY + height;
        let row = indexAt(width / 2, bottom - 1);
        if (row < 0)
            row = count - 1;
        for (; row >= 0; --row) {
            const item = itemAtIndex(row);
            if (!item || item.y >= bottom)
                continue;
            if (item.y + item.height > bottom + 0.5)
                continue; // cut off
            if (item.rowSeq > 0)
                return item.rowSeq;
            if (item.y + item.height < contentY)
                return 0;
        }
        return 0;
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

    // Older pages as the reader nears the top, and the newer rows a long
    // scroll-back pushed out of the model's window as the reader comes back
    // down (a window of at most a few hundred rows either way). Within a
    // screen of either end: asked for further ahead, a window whose rows
    // are few or tall could be near both ends at once, and each page would
    // push out the other end's rows only for them to be asked back.
    readonly property real fetchAhead: height
    function fetchOlderIfNear() {
        if (!model || model.canFetchOlder === undefined || count === 0)
            return false;
        if (contentY - startContentY < fetchAhead && model.canFetchOlder()) {
            model.fetchOlder();
            return true;
        }
        return false;
    }
    function fetchNewerIfNear() {
        if (!model || model.canFetchNewer === undefined || count === 0)
            return false;
        if (endContentY - contentY < fetchAhead && model.canFetchNewer()) {
            model.fetchNewer();
            return true;
        }
        return false;
    }
    function fetchIfNear() {
        // Looked at again once the new rows are laid out: a reader still at
        // an end (a fling that stopped there) needs the next page too, and
        // nothing else would ask for it while the view stands still. The
        // view takes in model changes when it next lays out (before the next
        // frame); until then its origin and height are those from before the
        // page, so the layout is done first: checked too early, the page
        // looked absent, and page after page came in before a frame, running
        // the window through thousands of messages in one fling.
        if (heldRow >= 0)
            restoreHeld(); // before looking: the view is not where it will be
        if (fetchOlderIfNear() | fetchNewerIfNear()) {
            forceLayout();
            fetchCheck.restart();
        }
    }
    // Not Qt.callLater: a check asked for while one runs (the rows it adds
    // move the view) was dropped, and a fling that ended at the top of a
    // fresh page stayed there for good.
    Timer {
        id: fetchCheck
        interval: 0
        onTriggered: timeline.fetchIfNear()
    }

    clip: true
    spacing: 0
    boundsBehavior: Flickable.StopAtBounds
    cacheBuffer: 800
    // Rows that leave the view are kept and shown again for the rows that
    // come in (a page loading above, a fling): making a row anew costs far
    // more than rebinding one, and a fling through a long chat would
    // otherwise make a screenful of rows in one frame.
    reuseItems: true
    // A short chat sits at the bottom, right above the composer: the top
    // margin takes up the room the rows leave (set, not bound: the margin
    // changes the view's layout, which changes the content height).
    function fitTopMargin() {
        const margin = Math.max(Theme.spacingM, height - contentHeight - bottomMargin);
        if (Math.abs(margin - topMargin) > 0.5)
            topMargin = margin;
    }
    topMargin: Theme.spacingM
    bottomMargin: Theme.spacingM
    onContentHeightChanged: Qt.callLater(fitTopMargin)
    onHeightChanged: Qt.callLater(fitTopMargin)
    keyNavigationEnabled: false
    activeFocusOnTab: true
    Keys.onPressed: event => {
        if (timeline.handleKey(event.key, event.modifiers))
            event.accepted = true;
    }
    ScrollBar.vertical: ScrollBar {}

    onContentYChanged: {
        if (!positioning) {
            // Up by any means leaves the newest message; down to the very
            // end (not a layout clamp, which lands there too) comes back to it.
            if (contentY < lastContentY - 0.5 && contentY < endContentY - 1)
                stickToBottom = false;
            else if (contentY > lastContentY + 0.5 && contentY >= endContentY - 1)
                stickToBottom = true;
        }
        lastContentY = contentY;
        fetchCheck.restart();
    }
    // Pages change the origin and the rows without moving contentY: a reader
    // held at either end (the end of a fling) still gets the next page.
    onOriginYChanged: fetchCheck.restart()
    onMovementEnded: fetchCheck.restart()
    onAtBottomChanged: if (atBottom) reachedBottom()
    onEndContentYChanged: if (stickToBottom) Qt.callLater(followEnd)
    onCountChanged: if (stickToBottom) Qt.callLater(followEnd)

    delegate: MessageDelegate {
        required property var model
        required property int index
        readonly property real rowSeq: model.seq
        ListView.onPooled: {
            pooled = true;
            resetState();
        }
        ListView.onReused: pooled = false
        width: ListView.view.width - 2 * Theme.spacingL
        x: Theme.spacingL
        maxBubbleWidth: Math.max(200, ListView.view.width * 0.7)
        text: model.isFile === true ? (model.caption || "") : model.text
        senderName: model.senderName
        senderKey: String(model.senderId)
        // Only where the avatar shows (others in a group): asking fetches it.
        senderAvatarUrl: timeline.isGroup && !model.isOwn ? model.senderAvatarUrl : ""
        senderAvatarColor: model.senderAvatarColor || 0
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
        // An upload that failed is retried or dropped as a transfer; a
        // message that failed, through the outbox.
        onRetryRequested: model.fileState === FileAttachment.Failed ? timeline.callModel("retryFile", index) : timeline.retryRequested(model.clientMsgId)
        onDiscardRequested: model.fileState === FileAttachment.Failed && !model.clientMsgId ? timeline.callModel("cancelFile", index) : timeline.discardRequested(model.clientMsgId)
        isFile: model.isFile === true
        fileName: model.fileName || ""
        fileSize: model.fileSize || 0
        fileMime: model.fileMime || ""
        isImage: model.isImage === true
        imageWidth: model.imageWidth || 0
        imageHeight: model.imageHeight || 0
        thumbnailSource: isImage && model.thumbnail ? Media.thumbnailSource(model.thumbnail) : ""
        fileUrl: model.fileUrl || ""
        fileState: model.fileState || FileAttachment.NoFile
        fileProgress: model.fileProgress || 0
        isVoiceNote: model.isVoiceNote === true
        durationMs: model.durationMs || 0
        autoFetchBytes: timeline.model && timeline.model.autoDownloadBytes ? timeline.model.autoDownloadBytes : 0
        onFileFetchRequested: timeline.callModel("fetchFile", index)
        onFileRetryRequested: timeline.callModel("retryFile", index)
        onFileCancelRequested: timeline.callModel("cancelFile", index)
        onFileOpenRequested: timeline.fileOpenRequested(fileUrl)
        onImageViewRequested: timeline.imageViewRequested(fileUrl, fileName)
        onShowInFolderRequested: timeline.showInFolderRequested(fileUrl)
        onSaveAsRequested: timeline.saveAsRequested(fileUrl, fileName)
        onReplyRequested: timeline.replyRequested(model.seq, model.senderName, model.text)
        onCopyRequested: timeline.copyRequested(text)
        onCopyLinkRequested: link => timeline.copyRequested(link)
        onLinkActivated: link => timeline.linkActivated(link)
        onQuoteActivated: timeline.quoteActivated(model.replyToSeq)
        edited: model.edited === true
        mentions: model.mentions || []
        deleted: model.deleted === true
        reactions: model.reactions || []
        canEdit: model.isOwn && !model.isSystem && model.seq > 0
        canDelete: (model.isOwn || timeline.moderator) && !model.isSystem && model.seq > 0
        onEditRequested: timeline.editRequested(model.seq, model.text)
        onDeleteRequested: timeline.deleteRequested(model.seq)
        pinned: model.pinned === true
        stored: !model.isSystem && model.seq > 0
        onPinToggled: pin => timeline.pinToggled(model.seq, pin)
        onHideRequested: timeline.hideRequested(model.seq)
        onReactionToggled: emoji => timeline.reactionToggled(model.seq, emoji)
    }

    // Jump back to the newest message, with the unread count while scrolled up.
    AbstractButton {
        id: jumpButton
        objectName: "jumpToBottom"
        visible: !timeline.atBottom || (timeline.model && timeline.model.atLatest === false)
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
