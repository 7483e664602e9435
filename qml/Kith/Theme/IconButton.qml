import QtQuick
import QtQuick.Controls.Basic

// A round, flat button with a line icon and a tooltip.
AbstractButton {
    id: control

    property string iconName
    property color iconColor: Theme.textMuted
    property string tip
    // No tooltip while what the button opened (a menu) is showing.
    property bool tipSuppressed: false

    implicitWidth: 36
    implicitHeight: 36
    hoverEnabled: true
    focusPolicy: Qt.TabFocus
    Accessible.name: tip

    ToolTip.visible: hovered && tip.length > 0 && !tipSuppressed && !pressed
    ToolTip.delay: 600
    ToolTip.text: tip

    background: Rectangle {
        radius: width / 2
        color: control.pressed ? Theme.selection : control.hovered || control.visualFocus ? Theme.hover : "transparent"
    }
    contentItem: Item {
        Icon {
            anchors.centerIn: parent
            width: 20
            height: 20
            name: control.iconName
            color: control.enabled ? control.iconColor : Theme.placeholder
        }
    }
}
