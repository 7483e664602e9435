import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// A titled group of rows on the settings page.
ColumnLayout {
    id: section

    property string title
    default property alias rows: body.data

    spacing: Theme.spacingS
    Layout.fillWidth: true

    Label {
        Layout.fillWidth: true
        Layout.topMargin: Theme.spacingM
        text: section.title
        color: Theme.accentFg
        font.pixelSize: Theme.fontSmall
        font.weight: Font.DemiBold
        font.capitalization: Font.AllUppercase
    }
    ColumnLayout {
        id: body
        Layout.fillWidth: true
        spacing: Theme.spacingS
    }
}
