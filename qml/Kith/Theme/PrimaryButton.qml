import QtQuick
import QtQuick.Controls.Basic

// The one filled button of a form ("Log in", "Create group"); `flat` gives the
// quiet secondary look, `destructive` the red one ("Leave group").
Button {
    id: control

    property bool destructive: false

    implicitHeight: 40
    leftPadding: Theme.spacingL
    rightPadding: Theme.spacingL
    font.pixelSize: Theme.fontBody
    font.weight: Font.DemiBold

    readonly property color fillColor: destructive ? Theme.dangerFill : Theme.accent
    // The flat look's text, on the window.
    readonly property color inkColor: destructive ? Theme.danger : Theme.accentFg

    contentItem: Text {
        text: control.text
        font: control.font
        color: control.flat ? control.inkColor : Theme.accentText
        opacity: control.enabled ? 1 : 0.6
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
        elide: Text.ElideRight
    }
    background: Rectangle {
        radius: Theme.radiusS
        color: control.flat ? (control.hovered || control.visualFocus ? Theme.hover : "transparent")
                            : control.down ? Qt.darker(control.fillColor, 1.15) : control.fillColor
        opacity: control.enabled ? 1 : 0.55
        border.width: control.visualFocus && !control.flat ? 2 : 0
        border.color: Qt.lighter(control.fillColor, 1.4)
    }
}
