import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// The pinned bar over a chat: one pinned message at a time, the newest pin
// first. A click shows that message in the chat and moves the bar on to the
// next older pin (round to the newest after the oldest), as Telegram does;
// the pin button takes the shown one off.
Rectangle {
    id: bar

    // {seq, text, senderName}, the newest pin first.
    property var pins: []
    property int current: 0
    readonly property var shown: pins.length > 0 ? pins[Math.min(current, pins.length - 1)] : null

    signal jumpRequested(int seq)
    signal unpinRequested(int seq)

    // A pin added or removed starts again at the newest.
    onPinsChanged: current = 0

    function activate() {
        if (!shown)
            return;
        jumpRequested(shown.seq);
        current = pins.length > 0 ? (Math.min(current, pins.length - 1) + 1) % pins.length : 0;
    }

    visible: pins.length > 0
    implicitHeight: visible ? 48 : 0
    color: Theme.window

    MouseArea {
        objectName: "pinnedBarArea"
        anchors.fill: parent
        cursorShape: Qt.PointingHandCursor
        onClicked: bar.activate()
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: Theme.spacingL
        anchors.rightMargin: Theme.spacingS
        spacing: Theme.spacingS

        // One segment per pin, the shown one in the accent colour.
        Column {
            Layout.preferredWidth: 3
            Layout.preferredHeight: 32
            spacing: 2
            Repeater {
                model: Math.min(bar.pins.length, 4)
                Rectangle {
                    required property int index
                    width: 3
                    height: (32 - 2 * (Math.min(bar.pins.length, 4) - 1)) / Math.min(bar.pins.length, 4)
                    radius: 1.5
                    color: index === Math.min(bar.current, 3) ? Theme.accentFg : Theme.border
                }
            }
        }
        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                objectName: "pinnedTitle"
                Layout.fillWidth: true
                text: bar.pins.length > 1 ? qsTr("Pinned message %1 of %2").arg(bar.current + 1).arg(bar.pins.length) : qsTr("Pinned message")
                color: Theme.accentFg
                font.pixelSize: Theme.fontSmall
                font.weight: Font.DemiBold
                elide: Text.ElideRight
            }
            Text {
                objectName: "pinnedText"
                readonly property string line: bar.shown ? String(bar.shown.text).replace(/\s+/g, " ") : ""
                readonly property bool rich: MessageText.needsRichText(line)
                Layout.fillWidth: true
                text: rich ? MessageText.markup(line, color, "", "", Math.round(font.pixelSize * 1.2)) : line
                textFormat: rich ? Text.RichText : Text.PlainText
                color: Theme.text
                font.pixelSize: Theme.fontSmall + 1
                elide: Text.ElideRight
                wrapMode: Text.NoWrap
                maximumLineCount: 1
                clip: true
            }
        }
        IconButton {
            objectName: "unpinButton"
            iconName: "close"
            tip: qsTr("Unpin this message")
            onClicked: if (bar.shown) bar.unpinRequested(bar.shown.seq)
        }
    }

    Rectangle {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        height: 1
        color: Theme.border
    }
}
