import QtQuick
import QtQuick.Controls.Basic

// A row of an AppMenu: the label in full, a check mark when checked, an
// arrow for a submenu; red when `destructive`.
MenuItem {
    id: item

    property bool destructive: false

    implicitWidth: leftPadding + label.implicitWidth + rightPadding
    implicitHeight: visible ? 36 : 0
    leftPadding: Theme.spacingM + (checkable ? 22 : 0)
    rightPadding: Theme.spacingM + (subMenu ? 18 : 0)
    hoverEnabled: true

    contentItem: Text {
        id: label
        text: item.text
        color: !item.enabled ? Theme.placeholder : item.destructive ? Theme.danger : Theme.text
        font.pixelSize: Theme.fontBody
        verticalAlignment: Text.AlignVCenter
        elide: Text.ElideNone
    }
    indicator: Icon {
        visible: item.checkable && item.checked
        x: Theme.spacingM - 2
        anchors.verticalCenter: parent.verticalCenter
        width: 16
        height: 16
        name: "check"
        color: Theme.accentFg
    }
    arrow: Icon {
        visible: item.subMenu !== null
        x: item.width - width - Theme.spacingS
        anchors.verticalCenter: parent.verticalCenter
        width: 16
        height: 16
        rotation: -90
        name: "down"
        color: Theme.textMuted
    }
    background: Rectangle {
        implicitWidth: 160
        radius: Theme.radiusS
        color: item.highlighted || item.hovered ? Theme.hover : "transparent"
    }
}
