import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Over the chat: back (narrow layout), avatar, name, and either who is typing
// or the presence / member count line; actions on the right.
Rectangle {
    id: header

    property string title
    property string avatarKey: title
    property bool isGroup: false
    property bool peerOnline: false
    property string statusText
    property string typingText
    property bool showBack: false
    // No notifications from this chat.
    property bool muted: false

    signal backRequested
    signal detailsRequested
    signal searchRequested
    signal muteToggled(bool muted)

    implicitHeight: Theme.headerHeight
    color: Theme.window

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: header.showBack ? Theme.spacingXs : Theme.spacingL
        anchors.rightMargin: Theme.spacingS
        spacing: Theme.spacingM

        IconButton {
            objectName: "backButton"
            visible: header.showBack
            iconName: "back"
            tip: qsTr("Back (Esc)")
            onClicked: header.backRequested()
        }
        Avatar {
            size: 36
            name: header.title
            colorKey: header.avatarKey
            showPresence: !header.isGroup
            online: header.peerOnline
            ringColor: Theme.window
        }
        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                Layout.fillWidth: true
                text: header.title
                color: Theme.text
                font.pixelSize: Theme.fontTitle
                font.weight: Font.DemiBold
                elide: Text.ElideRight
            }
            Label {
                objectName: "headerSubtitle"
                Layout.fillWidth: true
                text: header.typingText.length > 0 ? header.typingText : header.statusText
                color: header.typingText.length > 0 || (!header.isGroup && header.peerOnline) ? Theme.accentFg : Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
        }
        IconButton {
            objectName: "muteButton"
            iconName: header.muted ? "bell-off" : "bell"
            iconColor: header.muted ? Theme.danger : Theme.textMuted
            tip: header.muted ? qsTr("Notifications off for this chat: turn on") : qsTr("Mute notifications of this chat")
            onClicked: header.muteToggled(!header.muted)
        }
        IconButton {
            objectName: "searchButton"
            iconName: "search"
            tip: qsTr("Search in this chat (Ctrl+F)")
            onClicked: header.searchRequested()
        }
        IconButton {
            objectName: "detailsButton"
            visible: header.isGroup
            iconName: "info"
            tip: qsTr("Group details")
            onClicked: header.detailsRequested()
        }
    }

    Rectangle {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        height: 1
        color: Theme.border
    }
}
