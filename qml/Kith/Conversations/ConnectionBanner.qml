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

    readonly property string message: {
        if (online)
            return "";
        if (connecting)
            return qsTr("Connecting…");
        if (nextRetryIn > 0) {
            if (lastError.length > 0)
                return qsTr("%1 — retrying in %2 s").arg(lastError).arg(nextRetryIn);
            return qsTr("Reconnecting in %1 s…").arg(nextRetryIn);
        }
        return qsTr("Offline — showing saved messages");
    }

    visible: !online
    implicitHeight: visible ? row.implicitHeight + 2 * Theme.spacingS : 0
    color: Theme.warningSurface

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: Theme.spacingL
        anchors.rightMargin: Theme.spacingM
        spacing: Theme.spacingS

        Label {
            objectName: "bannerText"
            Layout.fillWidth: true
            text: banner.message
            color: Theme.warningText
            font.pixelSize: Theme.fontSmall
            wrapMode: Text.Wrap
            maximumLineCount: 2
            elide: Text.ElideRight
        }
        Label {
            visible: banner.nextRetryIn > 0 && !banner.connecting
            text: qsTr("Retry now")
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
                onClicked: banner.retryNowRequested()
            }
        }
    }
}
