import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// "New group": a name and members picked from the user directory.
Sheet {
    id: sheet

    // The user search model (roles userId, username, displayName, online).
    property var searchModel
    property bool busy: false
    property string errorText

    signal queryEdited(string query)
    signal createRequested(string name, var usernames)

    // username -> display name, in the order they were picked.
    property var picked: ({})
    readonly property var pickedNames: Object.keys(picked)

    function toggle(username, displayName) {
        const next = Object.assign({}, picked);
        if (next[username] !== undefined)
            delete next[username];
        else
            next[username] = displayName;
        picked = next;
    }

    function create() {
        if (nameField.text.trim().length === 0 || pickedNames.length === 0 || busy)
            return;
        createRequested(nameField.text.trim(), pickedNames);
    }

    title: qsTr("New group")
    onOpened: {
        nameField.text = "";
        queryField.text = "";
        picked = {};
        errorText = "";
        nameField.field.forceActiveFocus();
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Theme.spacingM

        FormField {
            id: nameField
            objectName: "groupNameField"
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            Layout.topMargin: Theme.spacingM
            label: qsTr("Group name")
            placeholderText: qsTr("e.g. Release crew")
            onAccepted: queryField.forceActiveFocus()
        }

        Flow {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            visible: sheet.pickedNames.length > 0
            spacing: Theme.spacingXs
            Repeater {
                model: sheet.pickedNames
                delegate: Rectangle {
                    required property string modelData
                    height: 28
                    width: chipRow.implicitWidth + Theme.spacingM
                    radius: 14
                    color: Theme.selection
                    Row {
                        id: chipRow
                        anchors.centerIn: parent
                        spacing: Theme.spacingXs
                        Avatar {
                            size: 20
                            name: sheet.picked[modelData] || modelData
                            colorKey: modelData
                            anchors.verticalCenter: parent.verticalCenter
                        }
                        Label {
                            text: sheet.picked[modelData] || modelData
                            color: Theme.text
                            font.pixelSize: Theme.fontSmall
                            anchors.verticalCenter: parent.verticalCenter
                        }
                        Icon {
                            width: 14
                            height: 14
                            name: "close"
                            color: Theme.textMuted
                            anchors.verticalCenter: parent.verticalCenter
                        }
                    }
                    MouseArea {
                        anchors.fill: parent
                        cursorShape: Qt.PointingHandCursor
                        onClicked: sheet.toggle(modelData, "")
                    }
                }
            }
        }

        SearchField {
            id: queryField
            objectName: "memberSearchField"
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            placeholderText: qsTr("Add people by name")
            onTextEdited: sheet.queryEdited(text)
        }

        ListView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: sheet.searchModel
            delegate: UserRow {
                required property var model
                width: ListView.view.width
                name: model.displayName
                colorKey: String(model.userId)
                avatarUrl: model.avatarUrl || ""
                avatarColor: model.avatarColor || 0
                detail: "@" + model.username
                online: model.online
                selectable: true
                selected: sheet.picked[model.username] !== undefined
                onClicked: sheet.toggle(model.username, model.displayName)
            }
        }

        Label {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            visible: sheet.errorText.length > 0
            text: sheet.errorText
            color: Theme.danger
            wrapMode: Text.Wrap
            font.pixelSize: Theme.fontSmall
        }

        PrimaryButton {
            objectName: "createGroupButton"
            Layout.fillWidth: true
            Layout.margins: Theme.spacingL
            Layout.topMargin: 0
            text: sheet.busy ? qsTr("Creating…") : sheet.pickedNames.length > 0 ? qsTr("Create group with %n people", "", sheet.pickedNames.length) : qsTr("Create group")
            enabled: !sheet.busy && nameField.text.trim().length > 0 && sheet.pickedNames.length > 0
            onClicked: sheet.create()
        }
    }
}
