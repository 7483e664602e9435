import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// "New chat": find a colleague in the server's directory and open the direct
// chat. Enter on an exact user name opens it without waiting for results.
// Before anything is typed it lists the people one already talks to, most
// recent first, with "Everyone on this server" below them; someone who talks
// to nobody yet sees everyone at once.
Sheet {
    id: sheet

    // The user search model (roles userId, username, displayName, online;
    // showDirectory() lists everyone, a page at a time).
    property var searchModel
    property bool busy: false
    property string errorText
    // The list shows the whole directory (not the people one knows).
    property bool showingEveryone: false

    function showEveryone() {
        if (!searchModel || searchModel.showDirectory === undefined)
            return;
        showingEveryone = true;
        searchModel.showDirectory();
    }
    // Nobody known yet (a new account): everyone instead of an empty list.
    function showEveryoneIfNobodyKnown() {
        if (queryField.text.length === 0 && list.count === 0 && !showingEveryone)
            showEveryone();
    }

    signal queryEdited(string query)
    signal userChosen(string username)

    title: qsTr("New chat")
    onOpened: {
        queryField.text = "";
        errorText = "";
        showingEveryone = false;
        queryEdited("");
        queryField.forceActiveFocus();
        Qt.callLater(showEveryoneIfNobodyKnown);
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Theme.spacingS

        SearchField {
            id: queryField
            objectName: "userSearchField"
            Layout.fillWidth: true
            Layout.margins: Theme.spacingL
            Layout.bottomMargin: 0
            placeholderText: qsTr("Search people by name")
            onTextEdited: {
                sheet.showingEveryone = false;
                sheet.queryEdited(text);
            }
            onAccepted: {
                if (list.count > 0)
                    list.itemAtIndex(0).clicked();
                else if (text.trim().length > 0)
                    sheet.userChosen(text.trim());
            }
            Keys.onDownPressed: list.forceActiveFocus()
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

        ListView {
            id: list
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: sheet.searchModel
            keyNavigationEnabled: true
            delegate: UserRow {
                required property var model
                width: ListView.view.width
                name: model.displayName
                colorKey: String(model.userId)
                avatarUrl: model.avatarUrl || ""
                avatarColor: model.avatarColor || 0
                detail: model.online ? qsTr("online") : "@" + model.username
                online: model.online
                onClicked: sheet.userChosen(model.username)
                Keys.onReturnPressed: clicked()
            }
            footer: PrimaryButton {
                objectName: "everyoneButton"
                visible: queryField.text.length === 0 && !sheet.showingEveryone && list.count > 0
                height: visible ? implicitHeight : 0
                x: Theme.spacingL
                flat: true
                text: qsTr("Everyone on this server")
                onClicked: sheet.showEveryone()
            }

            Label {
                anchors.centerIn: parent
                visible: list.count === 0 && queryField.text.length > 0 && !(sheet.searchModel && sheet.searchModel.busy)
                text: qsTr("Nobody by that name")
                color: Theme.textMuted
            }
        }
    }
}
