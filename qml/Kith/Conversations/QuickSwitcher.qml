import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Ctrl+K: type part of a name, Up/Down to pick, Enter to open, Esc to close.
Popup {
    id: switcher

    // The conversation list model (roles conversationId, title, isGroup, ...).
    property var model

    signal conversationChosen(string conversationId)

    readonly property alias query: queryField.text

    function matches(title) {
        return query.trim().length === 0 || String(title).toLowerCase().indexOf(query.trim().toLowerCase()) >= 0;
    }

    // The visible rows, in order, so Up/Down and Enter act on what is shown.
    function visibleIds() {
        const ids = [];
        for (let i = 0; i < results.count; ++i) {
            const item = results.itemAtIndex(i);
            if (item && item.visible)
                ids.push(item.conversationId);
        }
        return ids;
    }
    property string highlightedId

    function move(step) {
        const ids = visibleIds();
        if (ids.length === 0)
            return;
        const at = ids.indexOf(highlightedId);
        highlightedId = ids[Math.max(0, Math.min(ids.length - 1, at + step))];
    }

    function choose() {
        const ids = visibleIds();
        const id = ids.indexOf(highlightedId) >= 0 ? highlightedId : ids[0];
        if (id === undefined)
            return;
        conversationChosen(id);
        close();
    }

    modal: true
    focus: true
    width: Math.min(420, parent ? parent.width - 2 * Theme.spacingL : 420)
    // As tall as the rows it shows, up to a limit: no empty space below.
    height: Math.min(440, parent ? parent.height - 2 * Theme.spacingXl : 440, implicitHeight)
    x: parent ? Math.round((parent.width - width) / 2) : 0
    y: parent ? Math.round(parent.height * 0.12) : 0
    padding: Theme.spacingS

    onOpened: {
        queryField.text = "";
        highlightedId = visibleIds()[0] || "";
        queryField.forceActiveFocus();
    }
    onQueryChanged: highlightedId = visibleIds()[0] || ""

    background: Rectangle {
        radius: Theme.radiusM
        color: Theme.window
        border.color: Theme.border
    }

    contentItem: ColumnLayout {
        spacing: Theme.spacingS

        SearchField {
            id: queryField
            objectName: "switcherField"
            Layout.fillWidth: true
            placeholderText: qsTr("Jump to a conversation")
            Keys.onDownPressed: switcher.move(1)
            Keys.onUpPressed: switcher.move(-1)
            Keys.onReturnPressed: switcher.choose()
            Keys.onEnterPressed: switcher.choose()
            Keys.onEscapePressed: switcher.close()
        }

        ListView {
            id: results
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredHeight: Math.max(contentHeight, 52)
            clip: true
            model: switcher.model
            delegate: ConversationDelegate {
                required property var model
                width: ListView.view.width
                visible: switcher.matches(model.title)
                height: visible ? 52 : 0
                conversationId: model.conversationId
                avatarKey: model.isGroup ? model.conversationId : String(model.peerUserId)
                avatarUrl: model.avatarUrl
                avatarColor: model.avatarColor || 0
                title: model.title
                isGroup: model.isGroup
                peerOnline: model.peerOnline
                preview: model.lastMessage
                lastActivityMs: Number(model.lastActivity)
                unreadCount: model.unreadCount
                selected: conversationId === switcher.highlightedId
                onClicked: {
                    switcher.highlightedId = conversationId;
                    switcher.choose();
                }
            }
        }
    }
}
