import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// A group's name and members with their roles and presence. Admins and the
// owner rename, add and remove; everyone can leave.
Sheet {
    id: sheet

    property string groupName
    property string conversationId
    // The member model (roles userId, username, displayName, role, roleName, online, isMe).
    property var members
    property var searchModel
    // kith::v1::Role of this account: 1 member, 2 admin, 3 owner.
    property int myRole: 1

    readonly property bool canManage: myRole >= 2
    // Presence is shown only while connected (it is stale otherwise).
    property bool presenceKnown: true
    // "Leave group" asks once more before it leaves.
    property bool confirmingLeave: false

    signal renameRequested(string name)
    signal addRequested(var usernames)
    signal removeRequested(real userId)
    signal leaveRequested
    signal queryEdited(string query)

    property bool adding: false

    title: qsTr("Group details")
    onOpened: {
        adding = false;
        confirmingLeave = false;
        renameField.text = groupName;
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Theme.spacingS

        RowLayout {
            Layout.fillWidth: true
            Layout.margins: Theme.spacingL
            spacing: Theme.spacingM
            Avatar {
                size: 56
                name: sheet.groupName
                colorKey: sheet.conversationId
                ringColor: Theme.window
            }
            ColumnLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingXs
                TextField {
                    id: renameField
                    objectName: "renameField"
                    Layout.fillWidth: true
                    readOnly: !sheet.canManage
                    color: Theme.text
                    font.pixelSize: Theme.fontTitle + 2
                    font.weight: Font.DemiBold
                    leftPadding: Theme.spacingS
                    background: Rectangle {
                        radius: Theme.radiusS
                        color: renameField.activeFocus ? Theme.field : "transparent"
                    }
                    onAccepted: if (text.trim().length > 0 && text.trim() !== sheet.groupName) sheet.renameRequested(text.trim())
                }
                Label {
                    leftPadding: Theme.spacingS
                    text: qsTr("%n members", "", sheet.members ? sheet.members.count : 0)
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                }
            }
        }

        RowLayout {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            visible: sheet.canManage
            SearchField {
                id: addField
                objectName: "addMemberField"
                Layout.fillWidth: true
                placeholderText: qsTr("Add people by name")
                onTextEdited: {
                    sheet.adding = text.length > 0;
                    sheet.queryEdited(text);
                }
            }
        }

        ListView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            visible: sheet.adding
            model: sheet.adding ? sheet.searchModel : null
            delegate: UserRow {
                required property var model
                width: ListView.view.width
                name: model.displayName
                colorKey: String(model.userId)
                avatarUrl: model.avatarUrl || ""
                avatarColor: model.avatarColor || 0
                detail: "@" + model.username
                online: model.online && sheet.presenceKnown
                PrimaryButton {
                    text: qsTr("Add")
                    flat: true
                    onClicked: {
                        sheet.addRequested([model.username]);
                        addField.text = "";
                        sheet.adding = false;
                    }
                }
            }
        }

        ListView {
            objectName: "memberList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            visible: !sheet.adding
            model: sheet.members
            delegate: UserRow {
                required property var model
                width: ListView.view.width
                name: model.displayName
                nameSuffix: model.isMe ? qsTr("(you)") : ""
                colorKey: String(model.userId)
                avatarUrl: model.avatarUrl || ""
                avatarColor: model.avatarColor || 0
                detail: model.role >= 2 ? model.roleName : model.online && sheet.presenceKnown ? qsTr("online") : "@" + model.username
                online: model.online && sheet.presenceKnown
                IconButton {
                    visible: sheet.canManage && !model.isMe && model.role < sheet.myRole
                    iconName: "close"
                    tip: qsTr("Remove from the group")
                    onClicked: sheet.removeRequested(model.userId)
                }
            }
        }

        PrimaryButton {
            objectName: "leaveButton"
            Layout.fillWidth: true
            Layout.margins: Theme.spacingL
            visible: !sheet.confirmingLeave
            destructive: true
            flat: true
            text: qsTr("Leave group")
            onClicked: sheet.confirmingLeave = true
        }

        // Leaving cannot be undone by oneself: one more, explicit step.
        ColumnLayout {
            objectName: "leaveConfirmation"
            Layout.fillWidth: true
            Layout.margins: Theme.spacingL
            visible: sheet.confirmingLeave
            spacing: Theme.spacingS
            Label {
                Layout.fillWidth: true
                text: qsTr("Leave %1? You will stop getting its messages, and only an admin can add you back.").arg(sheet.groupName)
                color: Theme.text
                font.pixelSize: Theme.fontBody
                wrapMode: Text.Wrap
            }
            RowLayout {
                Layout.fillWidth: true
                spacing: Theme.spacingS
                PrimaryButton {
                    objectName: "cancelLeaveButton"
                    Layout.fillWidth: true
                    flat: true
                    text: qsTr("Stay")
                    onClicked: sheet.confirmingLeave = false
                }
                PrimaryButton {
                    objectName: "confirmLeaveButton"
                    Layout.fillWidth: true
                    destructive: true
                    text: qsTr("Leave")
                    onClicked: {
                        sheet.confirmingLeave = false;
                        sheet.leaveRequested();
                    }
                }
            }
        }
    }
}
