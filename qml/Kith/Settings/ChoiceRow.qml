import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// One choice out of a few, as a row of pills ("System", "Light", "Dark").
RowLayout {
    id: row

    // [{value, label}]
    property var options: []
    property var current
    signal picked(var value)

    spacing: Theme.spacingXs

    Repeater {
        model: row.options
        delegate: AbstractButton {
            id: pill
            required property var modelData
            objectName: "choice_" + String(modelData.value)
            readonly property bool chosen: row.current === modelData.value
            Layout.fillWidth: true
            implicitHeight: 32
            hoverEnabled: true
            checkable: false
            Accessible.name: modelData.label
            Accessible.checked: chosen
            onClicked: row.picked(modelData.value)
            background: Rectangle {
                radius: Theme.radiusS
                color: pill.chosen ? Theme.accent : pill.hovered ? Theme.hover : Theme.field
            }
            contentItem: Text {
                text: pill.modelData.label
                color: pill.chosen ? Theme.accentText : Theme.text
                font.pixelSize: Theme.fontSmall + 1
                font.weight: pill.chosen ? Font.DemiBold : Font.Normal
                horizontalAlignment: Text.AlignHCenter
                verticalAlignment: Text.AlignVCenter
                elide: Text.ElideRight
            }
        }
    }
}
