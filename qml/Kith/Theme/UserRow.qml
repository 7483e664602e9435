import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts

// A person in a list (search results, group members): avatar with presence,
// name, a secondary line, and room on the right for a trailing control.
ItemDelegate {
    id: row

    property string name
    // After the name, muted ("(you)"); not part of the avatar's initials.
    property string nameSuffix
    property string colorKey: name
    // The person's picture (a local file URL; empty: none) and chosen colour.
    property url avatarUrl
    property int avatarColor: 0
    property string detail
    property bool online: false
    property bool selected: false
    property bool selectable: false
    default property alias trailing: trailingRow.data

    implicitHeight: 56
    leftPadding: Theme.spacingL
    rightPadding: Theme.spacingL
    hoverEnabled: true
    Accessible.name: name

    background: Rectangle {
        color: row.hovered || row.visualFocus ? Theme.hover : "transparent"
    }

    contentItem: RowLayout {
        spacing: Theme.spacingM
        Avatar {
            size: 36
            name: row.name
            colorKey: row.colorKey
            source: row.avatarUrl
            chosenColor: row.avatarColor
            showPresence: true
            online: row.online
            ringColor: row.hovered ? Theme.hover : Theme.window
        }
        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0
            RowLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingXs
                Label {
                    objectName: "userRowName"
                    Layout.fillWidth: true
                    // As wide as the whole name and no wider, so that the
                    // suffix sits right after it (the label's own implicit
                    // width is not used: once elided it can stay at the
                    // elided width when the name changes).
                    Layout.maximumWidth: Math.ceil(nameMetrics.advanceWidth) + 1
                    text: row.name
                    color: Theme.text
                    font.pixelSize: Theme.fontBody
                    font.weight: Font.DemiBold
                    elide: Text.ElideRight
                    TextMetrics {
                        id: nameMetrics
                        text: row.name
                        font.pixelSize: Theme.fontBody
                        font.weight: Font.DemiBold
                    }
                }
                Label {
                    visible: row.nameSuffix.length > 0
                    Layout.fillWidth: true
                    text: row.nameSuffix
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontBody
                }
            }
            Label {
                Layout.fillWidth: true
                visible: text.length > 0
                text: row.detail
                color: Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
        }
        Rectangle {
            visible: row.selectable
            width: 22
            height: 22
            radius: 11
            color: row.selected ? Theme.accent : "transparent"
            border.width: row.selected ? 0 : 2
            border.color: Theme.placeholder
            Icon {
                anchors.centerIn: parent
                visible: row.selected
                width: 16
                height: 16
                name: "check"
                color: Theme.accentText
            }
        }
        Row {
            id: trailingRow
            spacing: Theme.spacingXs
        }
    }
}
