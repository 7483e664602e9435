import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Trust on first use: the server showed a certificate of its own (no
// authority vouches for it). The user compares its fingerprint with what the
// admin printed (`kithd fingerprint`) before the app pins it. When the key
// changed since it was pinned, the prompt is a warning instead, and accepting
// the new key is a deliberate second step. When the server was picked from
// the ones announced on the LAN, the prompt also says whether the key it
// announced is this one; that never replaces the user's comparison (anyone
// on the network can announce anything), and a different one is a warning.
Rectangle {
    id: prompt

    property string serverUrl
    // 16 groups of 4 hex digits, and the words of its first bytes.
    property string fingerprint
    property string words
    // True: a different key was trusted before for this server.
    property bool keyChanged: false
    // Changed key: the user said the admin confirmed the new key.
    property bool confirmedChange: false
    // The fingerprint announced on the LAN for this server (hex, any case,
    // spaces ignored), or empty when it was not picked from there.
    property string announcedFingerprint
    // "", "same" or "different".
    readonly property string announced: {
        const announced = announcedFingerprint.replace(/\s/g, "").toLowerCase();
        if (announced.length === 0 || fingerprint.length === 0)
            return "";
        return announced === fingerprint.replace(/\s/g, "").toLowerCase() ? "same" : "different";
    }

    signal trustAccepted(string fingerprint)
    signal cancelled()

    color: Theme.sidebar
    onKeyChangedChanged: confirmedChange = false
    onFingerprintChanged: confirmedChange = false

    // Four groups a line, so the fingerprint reads the same on a phone.
    readonly property string fingerprintLines: {
        const groups = fingerprint.split(" ");
        let lines = [];
        for (let i = 0; i < groups.length; i += 4)
            lines.push(groups.slice(i, i + 4).join(" "));
        return lines.join("\n");
    }

    Flickable {
        anchors.fill: parent
        contentHeight: Math.max(height, card.height + 2 * Theme.spacingL)
        clip: true

        Rectangle {
            id: card
            objectName: "trustCard"
            anchors.horizontalCenter: parent.horizontalCenter
            y: Math.max(Theme.spacingL, (parent.height - height) / 2)
            width: Math.min(440, prompt.width - 2 * Theme.spacingL)
            height: column.implicitHeight + 2 * Theme.spacingXl
            radius: Theme.radiusM
            color: Theme.window
            border.width: prompt.width > 480 ? 1 : 0
            border.color: prompt.keyChanged ? Theme.danger : Theme.border

            ColumnLayout {
                id: column
                anchors.fill: parent
                anchors.margins: Theme.spacingXl
                spacing: Theme.spacingL

                Label {
                    objectName: "trustTitle"
                    Layout.fillWidth: true
                    text: prompt.keyChanged ? qsTr("This server's key changed") : qsTr("Check this server's key")
                    color: prompt.keyChanged ? Theme.danger : Theme.text
                    font.pixelSize: Theme.fontHeadline
                    font.weight: Font.DemiBold
                    wrapMode: Text.Wrap
                }
                Label {
                    objectName: "trustExplanation"
                    Layout.fillWidth: true
                    text: prompt.keyChanged
                          ? qsTr("%1 now shows a different key from the one you trusted before. Kith did not connect: someone between you and the server could be listening. Ask your admin whether the server got a new key, and compare this with what your admin printed.").arg(prompt.serverUrl)
                          : qsTr("%1 uses a key of its own. Compare this with what your admin printed (kithd fingerprint); trust it only if it is the same.").arg(prompt.serverUrl)
                    color: Theme.text
                    font.pixelSize: Theme.fontBody
                    wrapMode: Text.Wrap
                }
                Rectangle {
                    objectName: "trustAnnounced"
                    Layout.fillWidth: true
                    visible: prompt.announced.length > 0
                    implicitHeight: announcedLabel.implicitHeight + 2 * Theme.spacingS
                    radius: Theme.radiusS
                    color: prompt.announced === "different" ? Theme.dangerSurface : "transparent"
                    Label {
                        id: announcedLabel
                        anchors.fill: parent
                        anchors.margins: prompt.announced === "different" ? Theme.spacingS : 0
                        text: prompt.announced === "different"
                              ? qsTr("On this network the server announced a different key (%1 …). Another machine may be answering in its place: do not trust this key unless your admin confirms it.").arg(prompt.announcedFingerprint.replace(/\s/g, "").toUpperCase().substring(0, 16).replace(/(.{4})(?!$)/g, "$1 "))
                              : qsTr("This is also the key the server announced on this network. Anyone on a network can announce a key, so compare it with what your admin printed all the same.")
                        color: prompt.announced === "different" ? Theme.danger : Theme.textMuted
                        font.pixelSize: Theme.fontSmall + 1
                        wrapMode: Text.Wrap
                    }
                }
                Rectangle {
                    Layout.fillWidth: true
                    implicitHeight: fingerprintColumn.implicitHeight + 2 * Theme.spacingM
                    radius: Theme.radiusS
                    color: prompt.keyChanged ? Theme.dangerSurface : Theme.field
                    Column {
                        id: fingerprintColumn
                        anchors.fill: parent
                        anchors.margins: Theme.spacingM
                        spacing: Theme.spacingS
                        Label {
                            objectName: "trustFingerprint"
                            width: parent.width
                            text: prompt.fingerprintLines
                            color: Theme.text
                            font.family: "monospace"
                            font.pixelSize: Theme.fontTitle
                            horizontalAlignment: Text.AlignHCenter
                            lineHeight: 1.2
                        }
                        Label {
                            objectName: "trustWords"
                            width: parent.width
                            text: prompt.words
                            color: Theme.textMuted
                            font.pixelSize: Theme.fontBody
                            horizontalAlignment: Text.AlignHCenter
                            wrapMode: Text.Wrap
                        }
                    }
                }
                CheckBox {
                    id: confirmBox
                    objectName: "trustConfirmChange"
                    Layout.fillWidth: true
                    visible: prompt.keyChanged
                    checked: prompt.confirmedChange
                    onToggled: prompt.confirmedChange = checked
                    text: qsTr("My admin confirmed that the server has a new key")
                    font.pixelSize: Theme.fontBody
                    // Wraps instead of being cut off on a phone.
                    contentItem: Text {
                        text: confirmBox.text
                        font: confirmBox.font
                        color: Theme.text
                        wrapMode: Text.Wrap
                        leftPadding: confirmBox.indicator.width + confirmBox.spacing
                        verticalAlignment: Text.AlignVCenter
                    }
                }
                PrimaryButton {
                    objectName: "trustButton"
                    Layout.fillWidth: true
                    destructive: prompt.keyChanged
                    enabled: !prompt.keyChanged || prompt.confirmedChange
                    text: prompt.keyChanged ? qsTr("Accept the new key") : qsTr("Trust and connect")
                    onClicked: prompt.trustAccepted(prompt.fingerprint)
                }
                PrimaryButton {
                    objectName: "trustCancel"
                    Layout.fillWidth: true
                    flat: true
                    text: prompt.keyChanged ? qsTr("Don't connect — log out") : qsTr("Cancel")
                    onClicked: prompt.cancelled()
                }
            }
        }
    }
}
