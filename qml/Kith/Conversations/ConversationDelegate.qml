import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// One row of the conversation list: avatar (with presence for direct peers),
// name, time of the last activity, preview of the last message, unread badge
// (with an "@" beside it while a message that mentions the reader is unread)
// and a marker for messages still pending or failed.
ItemDelegate {
    id: row

    property string conversationId
    property string title
    property string avatarKey: conversationId
    // The peer's or the group's picture (a local file URL) and chosen colour (0: from
    // the key).
    property url avatarUrl
    property int avatarColor: 0
    property bool isGroup: false
    property bool peerOnline: false
    property string preview
    property real lastActivityMs: 0
    property int unreadCount: 0
    property int unreadMentions: 0
    property bool muted: false
    // "", "pending" or "failed": the state of this device's unsent messages.
    property string outboxState
    // The newest message is one's own: "sent", "delivered" or "read" ("" otherwise).
    property string lastStatus
    property bool selected: false

    implicitHeight: Theme.listRowHeight
    leftPadding: Theme.spacingL + Theme.spacingS
    rightPadding: Theme.spacingL + Theme.spacingS
    topPadding: 0
    bottomPadding: 0
    hoverEnabled: true
    Accessible.name: title

    background: Rectangle {
        color: row.selected ? Theme.selection : row.hovered ? Theme.hover : "transparent"
        radius: Theme.radiusS
        anchors.fill: parent
        anchors.leftMargin: Theme.spacingS
        anchors.rightMargin: Theme.spacingS
    }

    contentItem: RowLayout {
        spacing: Theme.spacingM

        Avatar {
            size: 44
            name: row.title
            colorKey: row.avatarKey
            source: row.avatarUrl
            chosenColor: row.avatarColor
            showPresence: !row.isGroup
            online: row.peerOnline
            ringColor: row.selected ? Theme.selection : row.hovered ? Theme.hover : Theme.sidebar
        }

        ColumnLayout {
            Layout.fillWidth: true
            spacing: 2

            RowLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingS
                Label {
                    Layout.fillWidth: true
                    text: row.title
                    color: Theme.text
                    font.pixelSize: Theme.fontBody
                    font.weight: Font.DemiBold
                    elide: Text.ElideRight
                }
                StatusTicks {
                    objectName: "lastStatusTicks"
                    visible: row.outboxState.length === 0 && row.lastStatus.length > 0
                    status: visible ? row.lastStatus : ""
                    onAccent: false
                }
                Label {
                    text: Format.listTime(row.lastActivityMs)
                    color: row.unreadCount > 0 && !row.muted ? Theme.accentFg : Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                }
            }
            RowLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingS
                Label {
                    objectName: "outboxMarker"
                    visible: row.outboxState.length > 0
                    text: row.outboxState === "failed" ? "!" : "◷"
                    color: row.outboxState === "failed" ? Theme.danger : Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                    font.weight: Font.Bold
                }
                Text {
                    objectName: "previewText"
                    readonly property string line: row.outboxState === "failed" ? qsTr("Not sent") : row.preview.replace(/\s+/g, " ")
                    // Emoji need rich text (the colour font), which cannot elide:
                    // such a line is clipped instead.
                    readonly property bool rich: MessageText.needsRichText(line)
                    Layout.fillWidth: true
                    Layout.preferredHeight: Math.ceil(previewMetrics.height)
                    text: rich ? MessageText.markup(line, color, "", "", Math.round(font.pixelSize * 1.25)) : line
                    textFormat: rich ? Text.RichText : Text.PlainText
                    color: row.outboxState === "failed" ? Theme.danger : Theme.textMuted
                    font.pixelSize: Theme.fontSmall + 1
                    elide: Text.ElideRight
                    wrapMode: Text.NoWrap
                    maximumLineCount: 1
                    clip: rich
                    FontMetrics {
                        id: previewMetrics
                        font.pixelSize: Theme.fontSmall + 1
                    }
                    // A clipped rich line fades out instead of an ellipsis.
                    Rectangle {
                        visible: parent.rich && parent.implicitWidth > parent.width
                        anchors.right: parent.right
                        width: 28
                        height: parent.height
                        gradient: Gradient {
                            orientation: Gradient.Horizontal
                            GradientStop {
                                position: 0
                                color: "transparent"
                            }
                            GradientStop {
                                position: 1
                                color: row.selected ? Theme.selection : row.hovered ? Theme.hover : Theme.sidebar
                            }
                        }
                    }
                }
                // Accent even in a muted chat, as Telegram does: a mention
                // is meant for the reader.
                Rectangle {
                    objectName: "mentionBadge"
                    visible: row.unreadMentions > 0
                    implicitWidth: 20
                    implicitHeight: 20
                    radius: height / 2
                    color: Theme.accent
                    Accessible.name: qsTr("Mentioned")
                    Text {
                        anchors.centerIn: parent
                        text: "@"
                        color: Theme.accentText
                        font.pixelSize: Theme.fontSmall
                        font.weight: Font.DemiBold
                    }
                }
                Badge {
                    objectName: "unreadBadge"
                    count: row.unreadCount
                    muted: row.muted
                }
            }
        }
    }
}
