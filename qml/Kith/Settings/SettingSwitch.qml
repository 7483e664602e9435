import QtQuick
import QtQuick.Controls.Basic
import Kith.Theme

// An on/off row in the app's colours: the label on the left, the switch on
// the right.
Switch {
    id: control

    implicitHeight: 40
    leftPadding: 0
    rightPadding: 0
    spacing: Theme.spacingM
    hoverEnabled: true

    indicator: Rectangle {
        implicitWidth: 40
        implicitHeight: 22
        x: control.width - width
        y: (control.height - height) / 2
        radius: height / 2
        color: control.checked ? Theme.accent : Theme.field
        border.width: control.checked ? 0 : 1
        border.color: Theme.placeholder
        opacity: control.enabled ? 1 : 0.5
        Rectangle {
            x: control.checked ? parent.width - width - 3 : 3
            y: 3
            width: parent.height - 6
            height: width
            radius: width / 2
            color: control.checked ? Theme.accentText : Theme.placeholder
            Behavior on x {
                NumberAnimation {
                    duration: 120
                }
            }
        }
    }
    contentItem: Text {
        rightPadding: control.indicator.width + control.spacing
        text: control.text
        color: control.enabled ? Theme.text : Theme.placeholder
        font.pixelSize: Theme.fontBody
        verticalAlignment: Text.AlignVCenter
        wrapMode: Text.Wrap
    }
}
