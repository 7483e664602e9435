import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

// A modal panel for a short task (new chat, new group, group details,
// search): centred on a wide window, the whole window on a narrow one.
// Esc or the close button dismisses it.
Popup {
    id: sheet

    property string title
    default property alias content: body.data

    readonly property bool fullScreen: parent ? parent.width < 600 : false

    modal: true
    focus: true
    padding: 0
    width: fullScreen ? parent.width : Math.min(460, parent.width - 2 * Theme.spacingXl)
    height: fullScreen ? parent.height : Math.min(620, parent.height - 2 * Theme.spacingXl)
    x: parent ? Math.round((parent.width - width) / 2) : 0
    y: parent ? Math.round((parent.height - height) / 2) : 0
    closePolicy: Popup.CloseOnEscape | Popup.CloseOnPressOutside

    background: Rectangle {
        radius: sheet.fullScreen ? 0 : Theme.radiusM
        color: Theme.window
        border.color: sheet.fullScreen ? "transparent" : Theme.border
    }

    contentItem: ColumnLayout {
        spacing: 0

        PaneHeader {
            Layout.fillWidth: true
            title: sheet.title
            color: "transparent"
            IconButton {
                iconName: "close"
                tip: qsTr("Close (Esc)")
                onClicked: sheet.close()
            }
        }
        Item {
            id: body
            Layout.fillWidth: true
            Layout.fillHeight: true
        }
    }
}
