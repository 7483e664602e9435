import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// One message: a bubble (own on the right in the accent colour, others on the
// left), the sender's name and avatar once per run in groups, a quoted reply,
// the time and send status in the corner; or a centred system line. Above it,
// when it starts a day or is the first unread, a day pill or the
// "new messages" line.
Item {
    id: message

    property string text
    property string senderName
    property string senderKey: senderName
    // The sender's picture (a local file URL; empty: none) and chosen colour.
    property url senderAvatarUrl
    property int senderAvatarColor: 0
    property bool own: false
    property real timeMs: 0
    // "pending", "sent", "delivered", "read" (direct chats) or "failed"; ""
    // for others' messages.
    property string status
    property bool isGroup: false
    // First message of a run by one sender (gets the name and avatar in groups).
    property bool startsRun: true
    property bool isSystem: false
    property string replySender
    property string replyText
    property bool showDay: false
    property string dayLabel
    property bool showUnreadLine: false
    property bool highlighted: false
    property real maxBubbleWidth: width * 0.7
    // Folded operations: an "edited" mark, a deleted placeholder, reactions
    // ({emoji, count, mine, names} in order of first use).
    property bool edited: false
    // Where the text names members ({start, length}): bold in the accent.
    property var mentions: []
    readonly property color mentionColor: own ? Theme.accentText : Theme.accentFg
    property bool deleted: false
    property var reactions: []
    property bool canEdit: false
    property bool canDelete: false
    // Pinned in the conversation: the menu offers Unpin.
    property bool pinned: false
    // A stored message (not pending, failed or a group event): it can be
    // pinned and deleted for oneself.
    property bool stored: false
    // A file message (see FileAttachment); `text` is then its caption.
    property bool isFile: false
    property string fileName
    property real fileSize: 0
    property string fileMime
    property bool isImage: false
    property int imageWidth: 0
    property int imageHeight: 0
    property string thumbnailSource
    property url fileUrl
    property int fileState: FileAttachment.NoFile
    property real fileProgress: 0
    property real autoFetchBytes: 0
    property bool isVoiceNote: false
    property int durationMs: 0
    // The quick reaction picker's emoji, most used first.
    readonly property var quickEmoji: ["\u{1F44D}", "\u2764\uFE0F", "\u{1F602}", "\u{1F62E}", "\u{1F622}", "\u{1F64F}", "\u{1F389}", "\u{1F440}"]

    signal retryRequested
    signal discardRequested
    signal replyRequested
    signal quoteActivated
    signal copyRequested
    signal copyLinkRequested(string link)
    signal linkActivated(string link)
    signal editRequested
    signal deleteRequested
    signal pinToggled(bool pin)
    // Delete for me: hidden on this user's devices only.
    signal hideRequested
    signal reactionToggled(string emoji)
    signal fileFetchRequested
    signal fileOpenRequested
    signal imageViewRequested
    signal showInFolderRequested
    signal fileRetryRequested
    signal fileCancelRequested
    signal saveAsRequested

    // A file without a caption: no text line; an image's time sits on it.
    readonly property bool bare: isFile && text.length === 0
    readonly property bool onImage: bare && isImage
    readonly property int padX: onImage ? 0 : isImage ? Theme.spacingXs : Theme.spacingM
    readonly property int padY: onImage ? 0 : isImage ? Theme.spacingXs : Theme.spacingS
    readonly property bool showIdentity: isGroup && !own && !isSystem
    readonly property bool showName: showIdentity && startsRun
    readonly property int avatarSize: 32
    // A message of one to three emoji and nothing else is shown large,
    // without a bubble, as in every chat app.
    readonly property int emojiOnly: isSystem || isFile ? 0 : MessageText.emojiOnlyCount(text)
    readonly property var links: isSystem ? [] : MessageText.links(text)
    // The text can be selected with the mouse ("Select text" in the menu).
    property bool selecting: false

    readonly property var menu: contextMenu.item

    // Set while a view keeps this row aside for reuse (ListView.reuseItems):
    // the file part goes (a voice note stops, as it would with the row gone)
    // and comes back made for the row it is reused for.
    property bool pooled: false

    // What a row shown for one message must not carry over to the next one
    // when a view reuses it: a selection, an open menu or reaction picker.
    function resetState() {
        selecting = false;
        if (contextMenu.item)
            contextMenu.item.close();
        contextMenu.active = false;
        if (reactionPicker.item)
            reactionPicker.item.close();
        reactionPicker.active = false;
    }

    function openReactions(x, y) {
        reactionPicker.active = true;
        reactionPicker.item.wantedX = x;
        reactionPicker.item.y = y;
        reactionPicker.item.open();
    }

    function openMenu(x, y) {
        contextMenu.active = true;
        contextMenu.item.popup(message, x, y);
    }

    implicitHeight: column.implicitHeight + (startsRun ? Theme.spacingS : 2)

    Column {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        spacing: 2

        // The rarer parts of a row are made only where they show: a view
        // flung through a long chat makes rows by the screenful, and each
        // item it need not make is time the frame keeps.
        Loader {
            active: message.showDay
            visible: active
            width: parent.width
            sourceComponent: DayPill {
                objectName: "dayPill"
                text: message.dayLabel
            }
        }

        Loader {
            active: message.showUnreadLine
            visible: active
            width: parent.width
            sourceComponent: Item {
                objectName: "unreadLine"
                height: 28
                Rectangle {
                    anchors.left: parent.left
                    anchors.right: parent.right
                    anchors.verticalCenter: parent.verticalCenter
                    height: 1
                    color: Theme.accentFg
                    opacity: 0.6
                }
                Rectangle {
                    anchors.centerIn: parent
                    width: unreadLabel.implicitWidth + 2 * Theme.spacingM
                    height: 20
                    radius: 10
                    color: Theme.chatBackground
                    Text {
                        id: unreadLabel
                        anchors.centerIn: parent
                        text: qsTr("New messages")
                        color: Theme.accentFg
                        font.pixelSize: Theme.fontSmall
                        font.weight: Font.DemiBold
                    }
                }
            }
        }

        Loader {
            active: message.isSystem
            visible: active
            width: parent.width
            sourceComponent: Text {
                objectName: "systemLine"
                topPadding: Theme.spacingXs
                bottomPadding: Theme.spacingXs
                horizontalAlignment: Text.AlignHCenter
                text: message.text
                color: Theme.textMuted
                font.pixelSize: Theme.fontSmall
                font.italic: true
                wrapMode: Text.Wrap
            }
        }

        Item {
            id: bubbleRow
            visible: !message.isSystem
            width: parent.width
            height: Math.max(bubble.height + (message.showName ? nameLabel.height + 2 : 0), message.showIdentity && message.startsRun ? message.avatarSize : 0) + (failedRow.visible ? failedRow.height + Theme.spacingXs : 0) + (reactionRow.visible ? reactionRow.height + 2 : 0)

            Loader {
                active: message.showIdentity && message.startsRun
                visible: active
                anchors.left: parent.left
                anchors.top: parent.top
                sourceComponent: Avatar {
                    objectName: "avatar"
                    size: message.avatarSize
                    name: message.senderName
                    colorKey: message.senderKey
                    source: message.senderAvatarUrl
                    chosenColor: message.senderAvatarColor
                }
            }

            Text {
                id: nameLabel
                objectName: "senderName"
                visible: message.showName
                x: bubble.x + Theme.spacingM
                text: message.senderName
                color: Theme.senderColor(message.senderKey, message.senderAvatarColor)
                font.pixelSize: Theme.fontSmall
                font.weight: Font.DemiBold
            }

            Rectangle {
                id: bubble
                objectName: "bubble"
                // The body is laid out at the widest a bubble may be; its widest
                // line (implicitWidth, once wrapped) sizes the bubble.
                readonly property real contentWidth: Math.max(body.visible ? Math.min(body.implicitWidth, body.width) : 0, quoteLoader.item ? quoteLoader.item.implicitWidth : 0, footer.implicitWidth, attachmentLoader.active ? attachmentLoader.width : 0)
                x: message.own ? parent.width - width : (message.showIdentity ? message.avatarSize + Theme.spacingS : 0)
                y: message.showName ? nameLabel.height + 2 : 0
                width: contentWidth + 2 * message.padX
                height: bubbleColumn.implicitHeight + 2 * message.padY + (message.emojiOnly > 0 || (message.bare && !message.isImage) ? footer.height : 0)
                radius: Theme.bubbleRadius
                color: message.emojiOnly > 0 || message.onImage ? "transparent" : message.own ? (message.status === "failed" ? Qt.darker(Theme.accent, 1.4) : Theme.accent) : Theme.bubbleOther
                border.width: message.highlighted ? 2 : (!message.own && !Theme.dark && message.emojiOnly === 0 && !message.onImage ? 1 : 0)
                border.color: message.highlighted ? Theme.flash : Theme.border
                opacity: message.status === "pending" ? 0.85 : 1

                Column {
                    id: bubbleColumn
                    x: message.padX
                    y: message.padY
                    spacing: Theme.spacingXs

                    Loader {
                        id: quoteLoader
                        active: message.replyText.length > 0 || message.replySender.length > 0
                        visible: active
                        width: bubble.contentWidth
                        sourceComponent: Rectangle {
                            objectName: "quote"
                            implicitWidth: Math.min(Math.max(quoteSender.implicitWidth, quoteText.implicitWidth) + Theme.spacingS + 3, message.maxBubbleWidth - 2 * message.padX)
                            height: quoteColumn.implicitHeight + Theme.spacingXs * 2
                            radius: 4
                            color: message.own ? Qt.rgba(1, 1, 1, 0.16) : Theme.pill

                            Rectangle {
                                width: 3
                                height: parent.height
                                radius: 1.5
                                color: message.own ? Theme.accentText : Theme.accentFg
                            }
                            Column {
                                id: quoteColumn
                                x: Theme.spacingS + 3
                                y: Theme.spacingXs
                                width: parent.width - x - Theme.spacingXs
                                Text {
                                    id: quoteSender
                                    visible: text.length > 0
                                    width: parent.width
                                    text: message.replySender
                                    color: message.own ? Theme.accentText : Theme.accentFg
                                    font.pixelSize: Theme.fontSmall
                                    font.weight: Font.DemiBold
                                    elide: Text.ElideRight
                                }
                                Text {
                                    id: quoteText
                                    width: parent.width
                                    text: message.replyText.replace(/\s+/g, " ")
                                    color: message.own ? Theme.accentTextMuted : Theme.textMuted
                                    font.pixelSize: Theme.fontSmall
                                    elide: Text.ElideRight
                                    maximumLineCount: 1
                                }
                            }
                            MouseArea {
                                anchors.fill: parent
                                cursorShape: Qt.PointingHandCursor
                                onClicked: message.quoteActivated()
                            }
                        }
                    }

                    Loader {
                        id: attachmentLoader
                        objectName: "attachmentLoader"
                        active: message.isFile && !message.deleted && !message.pooled
                        visible: active
                        sourceComponent: FileAttachment {
                            objectName: "attachment"
                            maxWidth: Math.min(message.maxBubbleWidth - 2 * message.padX, 420)
                            fileName: message.fileName
                            fileSize: message.fileSize
                            mime: message.fileMime
                            isImage: message.isImage
                            imageWidth: message.imageWidth
                            imageHeight: message.imageHeight
                            thumbnailSource: message.thumbnailSource
                            fileUrl: message.fileUrl
                            fileState: message.fileState
                            progress: message.fileProgress
                            own: message.own
                            autoFetchBytes: message.autoFetchBytes
                            isVoiceNote: message.isVoiceNote
                            durationMs: message.durationMs
                            onFetchRequested: message.fileFetchRequested()
                            onOpenRequested: message.fileOpenRequested()
                            onViewRequested: message.imageViewRequested()
                            onShowInFolderRequested: message.showInFolderRequested()
                            onRetryRequested: message.fileRetryRequested()
                            onCancelRequested: message.fileCancelRequested()
                        }
                    }

                    Text {
                        id: body
                        objectName: "body"
                        readonly property bool rich: MessageText.needsRichText(message.text)
                        // Room at the end of the last line for the time and status:
                        // invisible characters as wide as the corner (markup
                        // trims trailing spaces, but not letters).
                        readonly property string spacer: "<font color=\"#00000000\">" + "_".repeat(Math.ceil((footer.implicitWidth + Theme.spacingS) / Math.max(1, metrics.advanceWidth("_")))) + "</font>"
                        visible: !message.selecting && !message.bare
                        // A caption under an image keeps to the image's width.
                        width: message.isImage && attachmentLoader.active ? attachmentLoader.width : message.maxBubbleWidth - 2 * message.padX
                        leftPadding: message.isImage ? Theme.spacingM - message.padX : 0
                        rightPadding: leftPadding
                        text: MessageText.markup(message.text, message.own ? Theme.linkOwn : Theme.linkOther, "", "", message.emojiOnly > 0 ? 0 : Math.round(font.pixelSize * 1.3), message.mentions, message.mentionColor) + (message.emojiOnly > 0 ? "" : " " + spacer)
                        textFormat: rich ? Text.RichText : Text.StyledText
                        wrapMode: Text.Wrap
                        color: message.deleted ? (message.own ? Theme.accentTextMuted : Theme.textMuted) : message.own && message.emojiOnly === 0 ? Theme.accentText : Theme.text
                        font.italic: message.deleted
                        linkColor: message.own ? Theme.linkOwn : Theme.linkOther
                        font.pixelSize: message.emojiOnly === 1 ? 44 : message.emojiOnly > 1 ? 34 : Theme.fontBody
                        lineHeight: message.emojiOnly > 0 ? 1.0 : 1.1
                        onLinkActivated: link => message.linkActivated(link)

                        HoverHandler {
                            cursorShape: body.hoveredLink.length > 0 ? Qt.PointingHandCursor : Qt.IBeamCursor
                        }
                        FontMetrics {
                            id: metrics
                            font: body.font
                        }
                    }

                    // "Select text": the same markup in a read-only editor, so
                    // part of it can be picked with the mouse and copied.
                    Loader {
                        active: message.selecting
                        visible: active
                        sourceComponent: TextEdit {
                            objectName: "selectableBody"
                            width: bubble.contentWidth
                            readOnly: true
                            selectByMouse: true
                            persistentSelection: true
                            textFormat: TextEdit.RichText
                            wrapMode: TextEdit.Wrap
                            text: MessageText.markup(message.text, message.own ? Theme.linkOwn : Theme.linkOther, "", "", body.font.pixelSize === Theme.fontBody ? Math.round(Theme.fontBody * 1.3) : 0, message.mentions, message.mentionColor)
                            color: body.color
                            selectionColor: message.own ? Theme.accentText : Theme.accent
                            selectedTextColor: message.own ? Theme.accent : Theme.accentText
                            font: body.font
                            Component.onCompleted: {
                                selectAll();
                                forceActiveFocus();
                            }
                            onActiveFocusChanged: if (!activeFocus) message.selecting = false
                            Keys.onEscapePressed: message.selecting = false
                        }
                    }
                }

                Rectangle {
                    // Behind the time of a large emoji, which has no bubble,
                    // and of an image without a caption.
                    visible: message.emojiOnly > 0 || message.onImage
                    anchors.fill: footer
                    anchors.margins: -3
                    anchors.leftMargin: -6
                    anchors.rightMargin: -6
                    radius: height / 2
                    color: message.onImage ? Qt.rgba(0, 0, 0, 0.5) : message.own ? Theme.accent : Theme.bubbleOther
                }
                Row {
                    id: footer
                    anchors.right: parent.right
                    anchors.bottom: parent.bottom
                    anchors.rightMargin: message.onImage ? Theme.spacingS + message.padX : Theme.spacingM - 2
                    anchors.bottomMargin: message.onImage ? Theme.spacingS : Theme.spacingXs + 1
                    spacing: 3

                    Text {
                        objectName: "editedMark"
                        visible: message.edited && !message.deleted
                        anchors.verticalCenter: parent.verticalCenter
                        text: qsTr("edited")
                        color: message.own ? Theme.accentTextMuted : Theme.textMuted
                        font.pixelSize: Theme.fontTiny
                        font.italic: true
                    }
                    Text {
                        anchors.verticalCenter: parent.verticalCenter
                        text: Format.time(message.timeMs)
                        color: message.own || message.onImage ? Theme.accentTextMuted : Theme.textMuted
                        font.pixelSize: Theme.fontTiny
                    }
                    StatusTicks {
                        objectName: "statusTicks"
                        anchors.verticalCenter: parent.verticalCenter
                        visible: message.own && status.length > 0
                        status: message.own ? message.status : ""
                        onAccent: true
                    }
                }

                // Right click, or a long press on touch: the message's actions.
                MouseArea {
                    anchors.fill: parent
                    acceptedButtons: Qt.RightButton
                    onClicked: mouse => {
                        const p = bubble.mapToItem(message, mouse.x, mouse.y);
                        message.openMenu(p.x, p.y);
                    }
                }
                TapHandler {
                    acceptedDevices: PointerDevice.TouchScreen
                    onLongPressed: {
                        const p = bubble.mapToItem(message, point.position.x, point.position.y);
                        message.openMenu(p.x, p.y);
                    }
                }
            }

            // The hover actions: made while the pointer is on the row.
            Loader {
                active: hover.hovered && message.status !== "pending" && message.status !== "failed"
                anchors.verticalCenter: bubble.verticalCenter
                x: message.own ? bubble.x - width - Theme.spacingXs : bubble.x + bubble.width + Theme.spacingXs
                sourceComponent: IconButton {
                    objectName: "replyButton"
                    width: 28
                    height: 28
                    iconName: "reply"
                    tip: qsTr("Reply")
                    onClicked: message.replyRequested()
                }
            }

            Loader {
                id: reactLoader
                active: hover.hovered && !message.deleted && message.status !== "pending" && message.status !== "failed"
                anchors.verticalCenter: bubble.verticalCenter
                x: message.own ? bubble.x - 2 * (28 + Theme.spacingXs) : bubble.x + bubble.width + 28 + 2 * Theme.spacingXs
                sourceComponent: AbstractButton {
                    id: reactButton
                    objectName: "reactButton"
                    width: 28
                    height: 28
                    hoverEnabled: true
                    Accessible.name: qsTr("React")
                    ToolTip.visible: hovered
                    ToolTip.delay: 600
                    ToolTip.text: qsTr("React")
                    background: Rectangle {
                        radius: width / 2
                        color: reactButton.hovered ? Theme.hover : "transparent"
                    }
                    contentItem: Text {
                        text: "\u{1F642}"
                        font.pixelSize: 16
                        horizontalAlignment: Text.AlignHCenter
                        verticalAlignment: Text.AlignVCenter
                    }
                    onClicked: message.openReactions(reactLoader.x, bubble.y + bubble.height)
                }
            }

            Loader {
                id: reactionRow
                active: message.reactions.length > 0 && !message.deleted
                visible: active
                anchors.top: bubble.bottom
                anchors.topMargin: 2
                x: message.own ? bubble.x + bubble.width - width : bubble.x
                sourceComponent: Flow {
                    objectName: "reactionRow"
                    width: Math.min(implicitWidth, message.maxBubbleWidth)
                    spacing: Theme.spacingXs

                    Repeater {
                        model: message.reactions
                        delegate: AbstractButton {
                            id: chip
                            required property var modelData
                            objectName: "reactionChip"
                            height: 24
                            width: chipLabel.implicitWidth + 2 * Theme.spacingS
                            hoverEnabled: true
                            Accessible.name: qsTr("%1 %2: %3").arg(modelData.emoji).arg(modelData.count).arg(modelData.names)
                            ToolTip.visible: hovered
                            ToolTip.delay: 400
                            ToolTip.text: modelData.names
                            onClicked: message.reactionToggled(modelData.emoji)
                            background: Rectangle {
                                radius: height / 2
                                color: chip.modelData.mine ? Theme.selection : Theme.pill
                                border.color: chip.modelData.mine ? Theme.accent : Theme.border
                            }
                            // The emoji in the colour emoji font (the
                            // default fallback picks a black-and-white one).
                            contentItem: Item {
                                Row {
                                    id: chipLabel
                                    anchors.centerIn: parent
                                    spacing: 4
                                    Text {
                                        text: chip.modelData.emoji
                                        font.pixelSize: Theme.fontSmall
                                        font.family: MessageText.emojiFamily.length > 0 ? MessageText.emojiFamily : Qt.application.font.family
                                        anchors.verticalCenter: parent.verticalCenter
                                    }
                                    Text {
                                        text: chip.modelData.count
                                        color: Theme.text
                                        font.pixelSize: Theme.fontSmall
                                        anchors.verticalCenter: parent.verticalCenter
                                    }
                                }
                            }
                        }
                    }
                }
            }

            Loader {
                id: failedRow
                active: message.status === "failed"
                visible: active
                anchors.right: parent.right
                anchors.top: bubble.bottom
                anchors.topMargin: Theme.spacingXs
                sourceComponent: Row {
                    objectName: "failedRow"
                    spacing: Theme.spacingS

                    Text {
                        text: qsTr("Not sent")
                        color: Theme.danger
                        font.pixelSize: Theme.fontSmall
                    }
                    Text {
                        objectName: "retryLink"
                        text: qsTr("Retry")
                        color: Theme.accentFg
                        font.pixelSize: Theme.fontSmall
                        font.weight: Font.DemiBold
                        MouseArea {
                            anchors.fill: parent
                            anchors.margins: -Theme.spacingXs
                            cursorShape: Qt.PointingHandCursor
                            onClicked: message.retryRequested()
                        }
                    }
                    Text {
                        objectName: "discardLink"
                        text: qsTr("Discard")
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSmall
                        MouseArea {
                            anchors.fill: parent
                            anchors.margins: -Theme.spacingXs
                            cursorShape: Qt.PointingHandCursor
                            onClicked: message.discardRequested()
                        }
                    }
                }
            }

            HoverHandler {
                id: hover
            }
        }
    }

    // Made on the first right-click only: most rows never need it.
    Loader {
        id: contextMenu
        objectName: "contextMenuLoader"
        active: false
        sourceComponent: AppMenu {
            objectName: "messageMenu"
            AppMenuItem {
                objectName: "replyAction"
                text: qsTr("Reply")
                enabled: message.status !== "pending" && message.status !== "failed"
                onTriggered: message.replyRequested()
            }
            AppMenuItem {
                objectName: "copyAction"
                visible: !message.bare
                text: qsTr("Copy text")
                onTriggered: message.copyRequested()
            }
            AppMenuItem {
                objectName: "saveAsAction"
                visible: message.isFile && message.fileState === FileAttachment.Ready && String(message.fileUrl).length > 0
                text: qsTr("Save as…")
                onTriggered: message.saveAsRequested()
            }
            AppMenuItem {
                objectName: "showInFolderAction"
                visible: message.isFile && message.fileState === FileAttachment.Ready && String(message.fileUrl).length > 0
                text: qsTr("Show in folder")
                onTriggered: message.showInFolderRequested()
            }
            AppMenuItem {
                objectName: "downloadAction"
                visible: message.isFile && (message.fileState === FileAttachment.Remote || message.fileState === FileAttachment.Paused)
                text: qsTr("Download")
                onTriggered: message.fileFetchRequested()
            }
            AppMenuItem {
                objectName: "copyLinkAction"
                visible: message.links.length > 0
                text: qsTr("Copy link")
                onTriggered: message.copyLinkRequested(message.links[0])
            }
            AppMenuItem {
                objectName: "selectAction"
                text: qsTr("Select text")
                onTriggered: message.selecting = true
            }
            AppMenuItem {
                objectName: "reactAction"
                visible: !message.deleted && message.status !== "pending" && message.status !== "failed"
                text: qsTr("React…")
                onTriggered: message.openReactions(message.width / 2, 0)
            }
            AppMenuItem {
                objectName: "pinAction"
                visible: message.stored && !message.deleted
                text: message.pinned ? qsTr("Unpin") : qsTr("Pin")
                onTriggered: message.pinToggled(!message.pinned)
            }
            AppMenuItem {
                objectName: "editAction"
                visible: message.canEdit && !message.deleted && message.status !== "pending" && message.status !== "failed"
                text: qsTr("Edit")
                onTriggered: message.editRequested()
            }
            AppMenuItem {
                objectName: "deleteAction"
                visible: message.canDelete && !message.deleted && message.status !== "pending" && message.status !== "failed"
                destructive: true
                text: qsTr("Delete for everyone")
                onTriggered: message.deleteRequested()
            }
            AppMenuItem {
                objectName: "hideAction"
                visible: message.stored
                destructive: true
                text: qsTr("Delete for me")
                onTriggered: message.hideRequested()
            }
            AppMenuItem {
                visible: message.status === "failed"
                text: qsTr("Retry")
                onTriggered: message.retryRequested()
            }
            AppMenuItem {
                visible: message.status === "failed"
                destructive: true
                text: qsTr("Discard")
                onTriggered: message.discardRequested()
            }
        }
    }

    // The quick reaction picker: frequent emoji, on hover or from the menu.
    Loader {
        id: reactionPicker
        objectName: "reactionPickerLoader"
        active: false
        sourceComponent: Popup {
            // Where it was asked for; kept inside the row as the window narrows.
            property real wantedX: 0
            objectName: "reactionPicker"
            x: Math.max(0, Math.min(wantedX, message.width - width))
            padding: Theme.spacingXs
            background: Rectangle {
                radius: height / 2
                color: Theme.surface
                border.color: Theme.border
            }
            contentItem: Row {
                spacing: 2
                Repeater {
                    model: message.quickEmoji
                    delegate: AbstractButton {
                        required property string modelData
                        objectName: "quickReaction"
                        width: 32
                        height: 32
                        Accessible.name: modelData
                        contentItem: Text {
                            text: parent.modelData
                            font.pixelSize: 20
                            font.family: MessageText.emojiFamily.length > 0 ? MessageText.emojiFamily : Qt.application.font.family
                            horizontalAlignment: Text.AlignHCenter
                            verticalAlignment: Text.AlignVCenter
                        }
                        background: Rectangle {
                            radius: width / 2
                            color: parent.hovered ? Theme.pill : "transparent"
                        }
                        onClicked: {
                            message.reactionToggled(modelData);
                            reactionPicker.item.close();
                        }
                    }
                }
            }
        }
    }
}
