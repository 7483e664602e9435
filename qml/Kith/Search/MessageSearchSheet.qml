import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Search the history kept on this device; picking a result opens its
// conversation at that message.
Sheet {
    id: sheet

    // [{conversationId, seq, text, senderName, time}], newest first.
    property var results: []
    // conversation id -> title, for the result rows.
    property var titleOf: id => id

    signal queryEdited(string query)
    signal resultChosen(string conversationId, real seq)

    readonly property alias query: queryField.text

    title: qsTr("Search messages")
    onOpened: {
        queryField.forceActiveFocus();
        queryField.selectAll();
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: Theme.spacingS

        SearchField {
            id: queryField
            objectName: "messageSearchField"
            Layout.fillWidth: true
            Layout.margins: Theme.spacingL
            Layout.bottomMargin: 0
            placeholderText: qsTr("Words in messages")
            onTextChanged: sheet.queryEdited(text)
            Keys.onDownPressed: list.forceActiveFocus()
        }

        ListView {
            id: list
            objectName: "searchResults"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: sheet.results
            keyNavigationEnabled: true
            delegate: ItemDelegate {
                id: resultRow
                required property var modelData
                width: ListView.view.width
                leftPadding: Theme.spacingL
                rightPadding: Theme.spacingL
                topPadding: Theme.spacingS
                bottomPadding: Theme.spacingS
                background: Rectangle {
                    color: resultRow.hovered || resultRow.activeFocus ? Theme.hover : "transparent"
                }
                onClicked: sheet.resultChosen(modelData.conversationId, modelData.seq)
                Keys.onReturnPressed: clicked()
                contentItem: ColumnLayout {
                    spacing: 2
                    RowLayout {
                        Layout.fillWidth: true
                        Label {
                            Layout.fillWidth: true
                            text: "%1 · %2".arg(sheet.titleOf(resultRow.modelData.conversationId)).arg(resultRow.modelData.senderName)
                            color: Theme.text
                            font.pixelSize: Theme.fontSmall + 1
                            font.weight: Font.DemiBold
                            elide: Text.ElideRight
                        }
                        Label {
                            text: Format.listTime(Number(resultRow.modelData.time))
                            color: Theme.textMuted
                            font.pixelSize: Theme.fontSmall
                        }
                    }
                    Label {
                        Layout.fillWidth: true
                        text: String(resultRow.modelData.text).replace(/\s+/g, " ")
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSmall + 1
                        elide: Text.ElideRight
                        textFormat: Text.PlainText
                    }
                }
            }

            Label {
                anchors.centerIn: parent
                visible: list.count === 0 && queryField.text.trim().length > 0
                text: qsTr("No messages match")
                color: Theme.textMuted
            }
        }
    }
}
