import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// A slim line over the composer while messages cannot be saved on this
// device (a full disk): the reason, and "Try again" once room was made.
// Unsent messages wait in the outbox meanwhile; the composer keeps its text.
Rectangle {
    id: notice

    property string text

    signal retryRequested

    visible: text.length > 0
    implicitHeight: visible ? row.implicitHeight + 2 * Theme.spacingS : 0
    color: Theme.warningSurface

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: Theme.spacingL
        anchors.rightMargin: Theme.spacingM
        spacing: Theme.spacingS

        Label {
            objectName: "storageNoticeText"
            Layout.fillWidth: true
            text: notice.text
            color: Theme.warningText
            font.pixelSize: Theme.fontSmall
            wrapMode: Text.Wrap
        }
        Label {
            objectName: "storageRetry"
            text: qsTr("Try again")
            color: Theme.warningText
            font.pixelSize: Theme.fontSmall
            font.weight: Font.DemiBold
            font.underline: retryArea.containsMouse
            MouseArea {
                id: retryArea
                anchors.fill: parent
                anchors.margins: -Theme.spacingXs
                hoverEnabled: true
                cursorShape: Qt.PointingHandCursor
                onClicked: notice.retryRequested()
            }
        }
    }
}
