import QtQuick
import QtQuick.Controls.Basic
import Kith.Theme

// What the chat pane shows before a conversation is picked.
Rectangle {
    color: Theme.chatBackground

    Column {
        anchors.centerIn: parent
        spacing: Theme.spacingS
        Rectangle {
            anchors.horizontalCenter: parent.horizontalCenter
            width: 64
            height: 64
            radius: 32
            color: Theme.pill
            Icon {
                anchors.centerIn: parent
                width: 28
                height: 28
                name: "send"
                color: Theme.textMuted
            }
        }
        Label {
            anchors.horizontalCenter: parent.horizontalCenter
            text: qsTr("Pick a conversation, or start a new one")
            color: Theme.textMuted
            font.pixelSize: Theme.fontBody
        }
        Label {
            anchors.horizontalCenter: parent.horizontalCenter
            text: qsTr("Ctrl+K to jump to any chat")
            color: Theme.placeholder
            font.pixelSize: Theme.fontSmall
        }
    }
}
