import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Search the history kept on this device, in one chat (from its header) or
// in all of them; picking a result opens its conversation at that message.
// The words searched for are marked in the results.
Sheet {
    id: sheet

    // [{conversationId, seq, text, senderName, isOwn, isGroup, time}], newest first.
    property var results: []
    // How many results to ask for: a page more each time the reader reaches
    // the end of a full list, back to one page when the words change.
    readonly property int pageSize: 50
    readonly property int maxResults: 1000
    property int wanted: pageSize
    // The row at the top of the list while the next page is asked for.
    property int keepRow: -1
    // conversation id -> title, for the result rows.
    property var titleOf: id => id
    // The chat searched in; "" searches all chats.
    property string scopeConversationId

    // The words changed, or more results are wanted: search again for
    // `wanted` results.
    signal queryEdited(string query)
    signal resultChosen(string conversationId, real seq)

    readonly property alias query: queryField.text

    // Opens the sheet on one chat ("" for all).
    function openIn(conversationId) {
        scopeConversationId = conversationId;
        open();
    }

    function widen() {
        scopeConversationId = "";
        wanted = pageSize;
        queryEdited(queryField.text);
        queryField.forceActiveFocus();
    }

    // "You: …" for one's own, "ann: …" in a group, the text alone otherwise.
    function prefixOf(result) {
        if (result.isOwn)
            return qsTr("You: ");
        return result.isGroup ? result.senderName + ": " : "";
    }

    title: scopeConversationId.length > 0 ? qsTr("Search in %1").arg(titleOf(scopeConversationId)) : qsTr("Search messages")
    onOpened: {
        queryField.forceActiveFocus();
        queryField.selectAll();
        wanted = pageSize;
        queryEdited(queryField.text);
    }
    // The next page: the list is full up to what was asked and the reader
    // has reached its end.
    function loadMore() {
        if (results.length < wanted || wanted >= maxResults)
            return;
        keepRow = list.indexAt(0, list.contentY + 1);
        wanted = Math.min(maxResults, wanted + pageSize);
        queryEdited(queryField.text);
    }
    // The results came anew (a JS list resets the view): back to the row the
    // reader was on when more were asked for.
    onResultsChanged: if (keepRow >= 0) Qt.callLater(restoreRow)
    function restoreRow() {
        if (keepRow >= 0 && keepRow < list.count)
            list.positionViewAtIndex(keepRow, ListView.Beginning);
        keepRow = -1;
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
            onTextChanged: {
                sheet.wanted = sheet.pageSize;
                sheet.queryEdited(text);
            }
            Keys.onDownPressed: list.forceActiveFocus()
        }

        // Searching one chat: say which, and offer all chats.
        RowLayout {
            objectName: "scopeRow"
            visible: sheet.scopeConversationId.length > 0
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            spacing: Theme.spacingS
            Label {
                Layout.fillWidth: true
                text: qsTr("In %1 only").arg(sheet.titleOf(sheet.scopeConversationId))
                color: Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
            PrimaryButton {
                objectName: "widenSearchButton"
                flat: true
                implicitHeight: 28
                text: qsTr("Search all chats")
                font.pixelSize: Theme.fontSmall
                onClicked: sheet.widen()
            }
        }

        ListView {
            id: list
            objectName: "searchResults"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: sheet.results
            keyNavigationEnabled: true
            onAtYEndChanged: if (atYEnd && count > 0) Qt.callLater(sheet.loadMore)
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
                            objectName: "resultTitle"
                            Layout.fillWidth: true
                            text: sheet.titleOf(resultRow.modelData.conversationId)
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
                    Text {
                        objectName: "resultText"
                        Layout.fillWidth: true
                        Layout.preferredHeight: Math.ceil(resultMetrics.height) * 2
                        // The words searched for, marked; the part of a long
                        // message around the first of them.
                        text: MessageText.markup(sheet.prefixOf(resultRow.modelData) + MessageText.snippet(String(resultRow.modelData.text), sheet.query, 140), Theme.accentFg, sheet.query, Theme.matchSurface)
                        textFormat: Text.RichText
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSmall + 1
                        wrapMode: Text.Wrap
                        clip: true
                        FontMetrics {
                            id: resultMetrics
                            font.pixelSize: Theme.fontSmall + 1
                        }
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
