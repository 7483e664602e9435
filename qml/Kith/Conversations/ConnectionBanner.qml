import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// The slim line over the conversation list whenever the client is not online:
// connecting, reconnecting in N s (with the reason), or offline.
Rectangle {
    id: banner

    property bool online: false
    property bool connecting: false
    // Seconds until the next reconnect attempt; 0 when none is scheduled.
    property int nextRetryIn: 0
    property string lastError

    signal retryNowRequested

    // The first line: what is happening and when the next try is; it
    // never gives way to the reason, which goes on a line of its own.
    readonly property string message: {
        if (online)
            return "";
        if (connecting)
            return qsTr("Connecting…");
        if (nextRetryIn > 0)
            return qsTr("Reconnecting in %1 s…").arg(nextRetryIn);
        return qsTr("Offline — showing saved messages");
    }
    readonly property string reason: !online && !connecting && nextRetryIn > 0 ? lastError : ""

    visible: !online
    implicitHeight: visible ? row.implicitHeight + 2 * Theme.spacingS : 0
    color: Theme.warningSurface

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: Theme.spacingL
        anchors.rightMargin: Theme.spacingM
        spacing: Theme.spacingS

        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                objectName: "bannerText"
                Layout.fillWidth: true
                text: banner.message
                color: Theme.warningText
                font.pixelSize: Theme.fontSmall
                font.weight: Font.DemiBold
                wrapMode: Text.Wrap
            }
            Label {
                objectName: "bannerReason"
                Layout.fillWidth: true
                visible: banner.reason.length > 0
                text: banner.reason
                color: Theme.warningText
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideMiddle
                maximumLineCount: 1
            }
        }
        Label {
            objectName: "retryNow"
            visible: banner.nextRetryIn > 0 && !banner.connecting
            text: qsTr("Retry now")
            color: Theme.warningText
            font.pixelSize: Theme.fontSmall
            font.weight: Font.DemiBold
            font.underline: true
            MouseArea {
                id: retryArea
                anchors.fill: parent
                anchors.margins: -Theme.spacingS
                cursorShape: Qt.PointingHandCursor
                onClicked: banner.retryNowRequested()
            }
        }
    }
}
