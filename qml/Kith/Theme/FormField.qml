import QtQuick
import QtQuick.Controls.Basic

// A labelled text field for forms; `error` outlines it in red.
Column {
    id: formField

    property alias label: caption.text
    property alias text: input.text
    property alias placeholderText: input.placeholderText
    property alias echoMode: input.echoMode
    property alias field: input
    property bool error: false

    signal accepted

    spacing: Theme.spacingXs

    Label {
        id: caption
        color: Theme.textMuted
        font.pixelSize: Theme.fontSmall
        font.weight: Font.DemiBold
    }
    TextField {
        id: input
        width: formField.width
        implicitHeight: 40
        leftPadding: Theme.spacingM
        rightPadding: Theme.spacingM
        color: Theme.text
        placeholderTextColor: Theme.placeholder
        selectionColor: Theme.accent
        selectedTextColor: Theme.accentText
        font.pixelSize: Theme.fontBody
        Accessible.name: caption.text
        onAccepted: formField.accepted()

        background: Rectangle {
            radius: Theme.radiusS
            color: Theme.field
            border.width: input.activeFocus || formField.error ? 1 : 0
            border.color: formField.error ? Theme.danger : Theme.accent
        }
    }
}
