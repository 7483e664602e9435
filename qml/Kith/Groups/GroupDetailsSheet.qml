import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Dialogs
import QtQuick.Layouts
import Kith.Theme

// A group's name, picture and members with their roles and presence. Admins
// and the owner rename, change or remove the picture, add and remove;
// everyone can leave.
Sheet {
    id: sheet

    property string groupName
    property string conversationId
    // The member model (roles userId, username, displayName, role, roleName, online, isMe).
    property var members
    property var searchModel
    // kith::v1::Role of this account: 1 member, 2 admin, 3 owner.
    property int myRole: 1
    // The group's picture as a local file URL (empty: none, or not fetched
    // yet) and chosen colour (0: from the id), and whether the server keeps
    // group pictures at all.
    property url avatarUrl
    property int avatarColor: 0
    property bool picturesSupported: true
    readonly property bool hasPicture: String(avatarUrl).length > 0

    readonly property bool canManage: myRole >= 2
    // Presence is shown only while connected (it is stale otherwise).
    property bool presenceKnown: true
    // "Leave group" asks once more before it leaves.
    property bool confirmingLeave: false

    signal renameRequested(string name)
    signal addRequested(var usernames)
    signal removeRequested(real userId)
    signal leaveRequested
    signal pictureChosen(url file)
    signal pictureRemoved
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
                objectName: "groupAvatar"
                size: 56
                name: sheet.groupName
                colorKey: sheet.conversationId
                source: sheet.avatarUrl
                chosenColor: sheet.avatarColor
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

        // The group's picture, as one's own on the settings page.
        RowLayout {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            spacing: Theme.spacingS
            visible: sheet.canManage && sheet.picturesSupported
            PrimaryButton {
                objectName: "changeGroupPictureButton"
                flat: true
                implicitHeight: 32
                font.pixelSize: Theme.fontSmall + 1
                text: qsTr("Change picture…")
                onClicked: groupPictureDialog.open()
            }
            PrimaryButton {
                objectName: "removeGroupPictureButton"
                visible: sheet.hasPicture
                flat: true
                destructive: true
                implicitHeight: 32
                font.pixelSize: Theme.fontSmall + 1
                text: qsTr("Remove picture")
                onClicked: sheet.pictureRemoved()
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

    FileDialog {
        id: groupPictureDialog
        objectName: "groupPictureDialog"
        title: qsTr("Choose a picture for the group")
        fileMode: FileDialog.OpenFile
        nameFilters: [qsTr("Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp)")]
        // Open with nothing chosen: as Cancel.
        onAccepted: if (String(selectedFile) !== "")
            sheet.pictureChosen(selectedFile)
    }
}
