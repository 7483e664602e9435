import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Dialogs
import QtQuick.Layouts
import Kith.Theme

// Profile and settings: the display name, picture and avatar colour, this account's
// devices (log one out), notifications, theme, text size, the send key and
// the server address. Everything comes in as properties and leaves as
// signals; the window keeps the values (settings file, server).
Sheet {
    id: sheet

    property string username
    property string displayName
    property string avatarKey
    // Index into Theme.avatarPalette chosen for one's own avatar; -1: the default.
    property int colorIndex: -1
    // One's picture as a local file URL (empty: none, or not fetched yet),
    // whether there is one, and whether the server keeps pictures at all.
    property url pictureUrl
    property bool hasPicture: false
    property bool picturesSupported: true
    // [{id, name, createdMs, lastSeenMs, current, online}]
    property var devices: []
    property string serverUrl
    property bool notificationsEnabled: true
    property bool hideNotificationContent: false
    property string themeScheme: "system"
    property int fontSize: 14
    property bool ctrlEnterSends: false

    signal displayNameEdited(string name)
    signal colorPicked(int index)
    signal pictureChosen(url file)
    signal pictureRemoved
    signal devicesRequested
    signal revokeRequested(real deviceId)
    signal logoutRequested
    signal notificationsToggled(bool enabled)
    signal hideContentToggled(bool hide)
    signal themePicked(string scheme)
    signal fontSizePicked(int size)
    signal sendKeyPicked(bool ctrlEnter)
    signal serverUrlEdited(string url)

    // A device waiting for "Log out" to be confirmed (0: none).
    property real confirmingDevice: 0

    title: qsTr("Profile and settings")
    onOpened: {
        nameField.text = displayName;
        serverField.text = serverUrl;
        confirmingDevice = 0;
        devicesRequested();
    }

    Flickable {
        id: flick
        objectName: "settingsFlick"
        anchors.fill: parent
        contentHeight: column.implicitHeight + 2 * Theme.spacingL
        clip: true
        boundsBehavior: Flickable.StopAtBounds
        ScrollBar.vertical: ScrollBar {}

        ColumnLayout {
            id: column
            x: Theme.spacingL
            y: Theme.spacingS
            width: flick.width - 2 * Theme.spacingL
            spacing: Theme.spacingS

            // Profile: avatar, name, user name.
            RowLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingM
                Avatar {
                    objectName: "profileAvatar"
                    size: 64
                    name: nameField.text.length > 0 ? nameField.text : sheet.username
                    colorKey: sheet.avatarKey
                    chosenColor: sheet.colorIndex + 1
                    source: sheet.pictureUrl
                    ringColor: Theme.window
                }
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 2
                    FormField {
                        id: nameField
                        objectName: "displayNameField"
                        Layout.fillWidth: true
                        label: qsTr("Display name")
                        placeholderText: sheet.username
                        onAccepted: if (text.trim() !== sheet.displayName) sheet.displayNameEdited(text.trim())
                    }
                    Label {
                        text: "@" + sheet.username
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSmall
                    }
                }
            }
            RowLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingS
                visible: sheet.picturesSupported
                PrimaryButton {
                    objectName: "changePictureButton"
                    flat: true
                    implicitHeight: 32
                    font.pixelSize: Theme.fontSmall + 1
                    text: qsTr("Change picture…")
                    onClicked: pictureDialog.open()
                }
                PrimaryButton {
                    objectName: "removePictureButton"
                    visible: sheet.hasPicture
                    flat: true
                    destructive: true
                    implicitHeight: 32
                    font.pixelSize: Theme.fontSmall + 1
                    text: qsTr("Remove picture")
                    onClicked: sheet.pictureRemoved()
                }
            }
            Label {
                text: qsTr("Avatar colour")
                color: Theme.textMuted
                font.pixelSize: Theme.fontSmall
            }
            Flow {
                Layout.fillWidth: true
                spacing: Theme.spacingS
                Repeater {
                    model: Theme.avatarPalette.length + 1
                    delegate: AbstractButton {
                        id: swatch
                        required property int index
                        // The first one is the colour that comes from the user id.
                        readonly property int value: index - 1
                        objectName: "swatch_" + value
                        width: 28
                        height: 28
                        Accessible.name: value < 0 ? qsTr("Automatic colour") : qsTr("Colour %1").arg(index)
                        onClicked: sheet.colorPicked(value)
                        background: Rectangle {
                            radius: width / 2
                            color: swatch.value < 0 ? Theme.field : Theme.avatarPalette[swatch.value]
                            border.width: sheet.colorIndex === swatch.value ? 3 : 0
                            border.color: Theme.text
                        }
                        contentItem: Text {
                            visible: swatch.value < 0
                            text: "A"
                            color: Theme.textMuted
                            font.pixelSize: Theme.fontSmall
                            horizontalAlignment: Text.AlignHCenter
                            verticalAlignment: Text.AlignVCenter
                        }
                    }
                }
            }

            SettingsSection {
                title: qsTr("Devices")
                Repeater {
                    model: sheet.devices
                    delegate: RowLayout {
                        id: deviceRow
                        required property var modelData
                        objectName: "device_" + modelData.id
                        Layout.fillWidth: true
                        spacing: Theme.spacingM
                        Icon {
                            name: "user"
                            color: deviceRow.modelData.online ? Theme.accentFg : Theme.textMuted
                        }
                        ColumnLayout {
                            Layout.fillWidth: true
                            spacing: 0
                            Label {
                                Layout.fillWidth: true
                                text: deviceRow.modelData.name.length > 0 ? deviceRow.modelData.name : qsTr("Device %1").arg(deviceRow.modelData.id)
                                color: Theme.text
                                font.pixelSize: Theme.fontBody
                                font.weight: Font.DemiBold
                                elide: Text.ElideRight
                            }
                            Label {
                                Layout.fillWidth: true
                                text: deviceRow.modelData.current ? qsTr("This device") : deviceRow.modelData.online ? qsTr("Online now") : deviceRow.modelData.lastSeenMs > 0 ? qsTr("Last active %1").arg(Format.day(deviceRow.modelData.lastSeenMs)) : qsTr("Signed in %1").arg(Format.day(deviceRow.modelData.createdMs))
                                color: Theme.textMuted
                                font.pixelSize: Theme.fontSmall
                                elide: Text.ElideRight
                            }
                        }
                        PrimaryButton {
                            objectName: "revokeButton"
                            visible: sheet.confirmingDevice !== deviceRow.modelData.id
                            flat: true
                            destructive: true
                            implicitHeight: 32
                            font.pixelSize: Theme.fontSmall + 1
                            text: deviceRow.modelData.current ? qsTr("Log out this device") : qsTr("Log out")
                            onClicked: sheet.confirmingDevice = deviceRow.modelData.id
                        }
                        PrimaryButton {
                            objectName: "confirmRevokeButton"
                            visible: sheet.confirmingDevice === deviceRow.modelData.id
                            destructive: true
                            implicitHeight: 32
                            font.pixelSize: Theme.fontSmall + 1
                            text: qsTr("Confirm")
                            onClicked: {
                                sheet.confirmingDevice = 0;
                                if (deviceRow.modelData.current)
                                    sheet.logoutRequested();
                                else
                                    sheet.revokeRequested(deviceRow.modelData.id);
                            }
                        }
                    }
                }
                Label {
                    visible: sheet.devices.length === 0
                    text: qsTr("The list of devices comes from the server once online.")
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                    wrapMode: Text.Wrap
                    Layout.fillWidth: true
                }
            }

            SettingsSection {
                title: qsTr("Notifications")
                SettingSwitch {
                    id: notifySwitch
                    objectName: "notificationsSwitch"
                    Layout.fillWidth: true
                    text: qsTr("Show desktop notifications")
                    checked: sheet.notificationsEnabled
                    onToggled: sheet.notificationsToggled(checked)
                }
                SettingSwitch {
                    objectName: "hideContentSwitch"
                    Layout.fillWidth: true
                    enabled: notifySwitch.checked
                    text: qsTr("Hide message text in notifications")
                    checked: sheet.hideNotificationContent
                    onToggled: sheet.hideContentToggled(checked)
                }
            }

            SettingsSection {
                title: qsTr("Appearance")
                ChoiceRow {
                    objectName: "themeChoice"
                    Layout.fillWidth: true
                    options: [{ value: "system", label: qsTr("System") }, { value: "light", label: qsTr("Light") }, { value: "dark", label: qsTr("Dark") }]
                    current: sheet.themeScheme
                    onPicked: value => sheet.themePicked(value)
                }
                Label {
                    text: qsTr("Text size")
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                }
                ChoiceRow {
                    objectName: "fontChoice"
                    Layout.fillWidth: true
                    options: [{ value: 13, label: qsTr("Small") }, { value: 14, label: qsTr("Normal") }, { value: 16, label: qsTr("Large") }, { value: 18, label: qsTr("Larger") }]
                    current: sheet.fontSize
                    onPicked: value => sheet.fontSizePicked(value)
                }
            }

            SettingsSection {
                title: qsTr("Sending")
                ChoiceRow {
                    objectName: "sendKeyChoice"
                    Layout.fillWidth: true
                    options: [{ value: false, label: qsTr("Enter sends") }, { value: true, label: qsTr("Ctrl+Enter sends") }]
                    current: sheet.ctrlEnterSends
                    onPicked: value => sheet.sendKeyPicked(value)
                }
            }

            SettingsSection {
                title: qsTr("Server")
                FormField {
                    id: serverField
                    objectName: "serverField"
                    Layout.fillWidth: true
                    label: qsTr("Address (used at the next log-in)")
                    placeholderText: "ws://kith.local:7400/"
                    onAccepted: sheet.serverUrlEdited(text.trim())
                }
                PrimaryButton {
                    objectName: "logoutButton"
                    Layout.fillWidth: true
                    flat: true
                    destructive: true
                    text: qsTr("Log out %1").arg(sheet.username)
                    onClicked: sheet.logoutRequested()
                }
            }
        }
    }

    FileDialog {
        id: pictureDialog
        objectName: "pictureDialog"
        title: qsTr("Choose a picture")
        fileMode: FileDialog.OpenFile
        nameFilters: [qsTr("Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp)")]
        // Open with nothing chosen: as Cancel.
        onAccepted: if (String(selectedFile) !== "")
            sheet.pictureChosen(selectedFile)
    }
}
