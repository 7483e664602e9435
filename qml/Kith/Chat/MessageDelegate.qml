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
    property bool own: false
    property real timeMs: 0
    // "pending", "sent", "read" (direct chats) or "failed"; "" for others' messages.
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

    signal retryRequested
    signal discardRequested
    signal replyRequested
    signal quoteActivated
    signal copyRequested

    readonly property bool showIdentity: isGroup && !own && !isSystem
    readonly property bool showName: showIdentity && startsRun
    readonly property string statusGlyph: status === "pending" ? "◷" : status === "sent" ? "✓" : status === "read" ? "✓✓" : status === "failed" ? "!" : ""

    implicitHeight: column.implicitHeight + (startsRun ? Theme.spacingS : 2)

    Column {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        spacing: 2

        DayPill {
            objectName: "dayPill"
            visible: message.showDay
            width: parent.width
            text: message.dayLabel
        }

        Item {
            objectName: "unreadLine"
            visible: message.showUnreadLine
            width: parent.width
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

        Text {
            objectName: "systemLine"
            visible: message.isSystem
            width: parent.width
            topPadding: Theme.spacingXs
            bottomPadding: Theme.spacingXs
            horizontalAlignment: Text.AlignHCenter
            text: message.text
            color: Theme.textMuted
            font.pixelSize: Theme.fontSmall
            font.italic: true
            wrapMode: Text.Wrap
        }

        Item {
            id: bubbleRow
            visible: !message.isSystem
            width: parent.width
            height: Math.max(bubble.height + (message.showName ? nameLabel.height + 2 : 0), message.showIdentity && message.startsRun ? 32 : 0) + (failedRow.visible ? failedRow.height + Theme.spacingXs : 0)

            Avatar {
                id: avatar
                visible: message.showIdentity && message.startsRun
                size: 32
                name: message.senderName
                colorKey: message.senderKey
                anchors.left: parent.left
                anchors.top: parent.top
            }

            Text {
                id: nameLabel
                objectName: "senderName"
                visible: message.showName
                x: bubble.x + Theme.spacingM
                text: message.senderName
                color: Theme.senderColor(message.senderKey)
                font.pixelSize: Theme.fontSmall
                font.weight: Font.DemiBold
            }

            Rectangle {
                id: bubble
                objectName: "bubble"
                readonly property real contentWidth: Math.max(body.width, quote.visible ? quote.implicitWidth : 0, footer.implicitWidth)
                x: message.own ? parent.width - width : (message.showIdentity ? avatar.size + Theme.spacingS : 0)
                y: message.showName ? nameLabel.height + 2 : 0
                width: contentWidth + 2 * Theme.spacingM
                height: bubbleColumn.implicitHeight + 2 * Theme.spacingS
                radius: Theme.bubbleRadius
                color: message.own ? (message.status === "failed" ? Qt.darker(Theme.accent, 1.4) : Theme.accent) : Theme.bubbleOther
                border.width: message.highlighted ? 2 : (!message.own && !Theme.dark ? 1 : 0)
                border.color: message.highlighted ? Theme.online : Theme.border
                opacity: message.status === "pending" ? 0.85 : 1

                Column {
                    id: bubbleColumn
                    x: Theme.spacingM
                    y: Theme.spacingS
                    spacing: Theme.spacingXs

                    Rectangle {
                        id: quote
                        objectName: "quote"
                        visible: message.replyText.length > 0 || message.replySender.length > 0
                        implicitWidth: Math.min(Math.max(quoteSender.implicitWidth, quoteText.implicitWidth) + Theme.spacingS + 3, message.maxBubbleWidth - 2 * Theme.spacingM)
                        width: bubble.contentWidth
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

                    Text {
                        id: body
                        objectName: "body"
                        // Room at the end of the last line for the time and status.
                        readonly property string spacer: "\u00a0".repeat(Math.ceil((footer.implicitWidth + Theme.spacingS) / Math.max(1, metrics.advanceWidth("\u00a0"))))
                        width: Math.min(implicitWidth, message.maxBubbleWidth - 2 * Theme.spacingM)
                        text: message.text + spacer
                        textFormat: Text.PlainText
                        wrapMode: Text.Wrap
                        color: message.own ? Theme.accentText : Theme.text
                        font.pixelSize: Theme.fontBody
                        lineHeight: 1.1

                        FontMetrics {
                            id: metrics
                            font: body.font
                        }
                    }
                }

                Row {
                    id: footer
                    anchors.right: parent.right
                    anchors.bottom: parent.bottom
                    anchors.rightMargin: Theme.spacingM - 2
                    anchors.bottomMargin: Theme.spacingXs + 1
                    spacing: 3

                    Text {
                        text: Format.time(message.timeMs)
                        color: message.own ? Theme.accentTextMuted : Theme.textMuted
                        font.pixelSize: Theme.fontTiny
                    }
                    Text {
                        objectName: "statusGlyph"
                        visible: message.own && message.statusGlyph.length > 0
                        text: message.statusGlyph
                        color: message.status === "failed" ? "#ffb4b4" : message.status === "read" ? Theme.accentText : Theme.accentTextMuted
                        font.pixelSize: Theme.fontTiny
                        font.weight: message.status === "failed" ? Font.Bold : Font.Normal
                        font.letterSpacing: message.status === "read" ? -4 : 0
                        Accessible.name: message.status
                    }
                }

                MouseArea {
                    anchors.fill: parent
                    acceptedButtons: Qt.RightButton
                    onClicked: {
                        contextMenu.active = true;
                        contextMenu.item.popup();
                    }
                }
            }

            IconButton {
                objectName: "replyButton"
                visible: hover.hovered && message.status !== "pending" && message.status !== "failed"
                width: 28
                height: 28
                anchors.verticalCenter: bubble.verticalCenter
                x: message.own ? bubble.x - width - Theme.spacingXs : bubble.x + bubble.width + Theme.spacingXs
                iconName: "reply"
                tip: qsTr("Reply")
                onClicked: message.replyRequested()
            }

            Row {
                id: failedRow
                objectName: "failedRow"
                visible: message.status === "failed"
                anchors.right: parent.right
                anchors.top: bubble.bottom
                anchors.topMargin: Theme.spacingXs
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

            HoverHandler {
                id: hover
            }
        }
    }

    // Made on the first right-click only: most rows never need it.
    Loader {
        id: contextMenu
        active: false
        sourceComponent: Menu {
            MenuItem {
                text: qsTr("Reply")
                enabled: message.status !== "pending" && message.status !== "failed"
                onTriggered: message.replyRequested()
            }
            MenuItem {
                text: qsTr("Copy text")
                onTriggered: message.copyRequested()
            }
            MenuItem {
                visible: message.status === "failed"
                height: visible ? implicitHeight : 0
                text: qsTr("Retry")
                onTriggered: message.retryRequested()
            }
            MenuItem {
                visible: message.status === "failed"
                height: visible ? implicitHeight : 0
                text: qsTr("Discard")
                onTriggered: message.discardRequested()
            }
        }
    }
}
