import QtQuick
import QtQuick.Controls.Basic

// A menu in the app's own look: rounded, padded, as wide as its longest
// item (nothing cut off), with AppMenuItem rows. Submenus are AppMenus too.
Menu {
    id: menu

    // The widest row decides the width, within what a phone can show.
    width: {
        let widest = 180;
        for (let i = 0; i < count; ++i) {
            const row = itemAt(i);
            if (row)
                widest = Math.max(widest, row.implicitWidth);
        }
        return Math.min(widest + leftPadding + rightPadding, 360);
    }
    padding: Theme.spacingXs
    topPadding: Theme.spacingXs + 2
    bottomPadding: Theme.spacingXs + 2
    margins: Theme.spacingS
    overlap: 0

    delegate: AppMenuItem {}

    background: Rectangle {
        implicitWidth: 180
        radius: Theme.radiusM
        color: Theme.surface
        border.color: Theme.border
        // A soft edge under the menu, drawn without effects (software rendering).
        Rectangle {
            z: -1
            anchors.fill: parent
            anchors.topMargin: 2
            anchors.bottomMargin: -3
            anchors.leftMargin: -1
            anchors.rightMargin: -1
            radius: parent.radius + 1
            color: Qt.rgba(0, 0, 0, Theme.dark ? 0.35 : 0.10)
        }
    }
}
