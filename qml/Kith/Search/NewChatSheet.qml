import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// "New chat": find a colleague in the server's directory and open the direct
// chat. Enter on an exact user name opens it without waiting for results.
Sheet {
    id: sheet

    // The user search model (roles userId, username, displayName, online).
    property var searchModel
    property bool busy: false
    property string errorText

    signal queryEdited(string query)
    signal userChosen(string username)

    title: qsTr("New chat")
    onOpened: {
        queryField.text = "";
        errorText = "";
        queryEdited("");
        queryField.forceActiveFocus();
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
            onTextEdited: sheet.queryEdited(text)
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
                detail: model.online ? qsTr("online") : "@" + model.username
                online: model.online
                onClicked: sheet.userChosen(model.username)
                Keys.onReturnPressed: clicked()
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
