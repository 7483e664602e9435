import QtQuick
import QtQuick.Controls.Basic

// A rounded text field with a search icon, used for filters and searches.
TextField {
    id: field

    implicitHeight: 36
    leftPadding: 36
    rightPadding: Theme.spacingM
    color: Theme.text
    placeholderTextColor: Theme.placeholder
    selectionColor: Theme.accent
    selectedTextColor: Theme.accentText
    font.pixelSize: Theme.fontBody
    verticalAlignment: TextInput.AlignVCenter

    background: Rectangle {
        radius: height / 2
        color: Theme.field
        border.width: field.activeFocus ? 1 : 0
        border.color: Theme.accent

        Icon {
            anchors.left: parent.left
            anchors.leftMargin: Theme.spacingM
            anchors.verticalCenter: parent.verticalCenter
            width: 16
            height: 16
            name: "search"
            color: Theme.placeholder
        }
    }
}
