import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

// The 56 px bar on top of a pane: optional back button, a title and a
// subtitle, and whatever action buttons the pane puts on the right.
Rectangle {
    id: header

    property string title
    property string subtitle
    property bool showBack: false
    default property alias actions: actionRow.data

    signal backRequested

    implicitHeight: Theme.headerHeight
    color: Theme.window

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: header.showBack ? Theme.spacingXs : Theme.spacingL
        anchors.rightMargin: Theme.spacingS
        spacing: Theme.spacingS

        IconButton {
            visible: header.showBack
            iconName: "back"
            tip: qsTr("Back")
            onClicked: header.backRequested()
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
                Layout.fillWidth: true
                visible: text.length > 0
                text: header.subtitle
                color: Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
        }
        Row {
            id: actionRow
            spacing: Theme.spacingXs
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
