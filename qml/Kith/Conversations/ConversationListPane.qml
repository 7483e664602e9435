import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// The left pane: who I am, the connection banner, a filter box and the
// conversations sorted by last activity (the model's order). Archived chats
// (the model's `archived` role) leave the main list for an "Archived" entry
// at its top, which opens them as a list of their own.
Rectangle {
    id: pane

    // A list model with the conversation roles (see ConversationDelegate).
    property var model
    property string currentConversationId
    // Whether the open chat is marked in the list: beside it on a wide
    // window, not on a phone, where the list is shown alone.
    property bool showSelection: true
    // How many chats are archived, and how many unread messages they hold.
    property int archivedCount: 0
    property int archivedUnread: 0
    // The archived chats are listed instead of the others.
    property bool showArchived: false
    onArchivedCountChanged: if (archivedCount === 0) showArchived = false
    property string selfName
    property string selfKey: selfName
    property url selfAvatarUrl
    property int selfAvatarColor: 0

    property bool online: false
    property bool connecting: false
    property int nextRetryIn: 0
    property string lastError

    // Settings offered in the menu.
    property bool hideNotificationContent: false
    property string themeScheme: "system"

    readonly property alias filterText: filterField.text
    readonly property alias count: list.count

    signal conversationActivated(string conversationId)
    signal newChatRequested
    signal newGroupRequested
    signal searchRequested
    signal logoutRequested
    signal settingsRequested
    signal retryNowRequested
    signal hideNotificationContentToggled(bool hide)
    signal themeSchemePicked(string scheme)

    function focusFilter() {
        filterField.forceActiveFocus();
        filterField.selectAll();
    }

    // "You: see you", "Ann: on my way" in groups, the bare text in direct chats.
    function preview(isGroup, senderName, text) {
        if (!text || senderName.length === 0)
            return text || "";
        if (senderName === selfName)
            return qsTr("You: %1").arg(text);
        return isGroup ? "%1: %2".arg(senderName).arg(text) : text;
    }

    function matches(title, preview) {
        const needle = filterText.trim().toLowerCase();
        return needle.length === 0 || String(title).toLowerCase().indexOf(needle) >= 0
                || String(preview).toLowerCase().indexOf(needle) >= 0;
    }

    color: Theme.sidebar

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        RowLayout {
            Layout.fillWidth: true
            Layout.preferredHeight: Theme.headerHeight
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingS
            spacing: Theme.spacingS

            Avatar {
                objectName: "selfAvatar"
                size: 32
                name: pane.selfName
                colorKey: pane.selfKey
                source: pane.selfAvatarUrl
                chosenColor: pane.selfAvatarColor
                ringColor: Theme.sidebar
                TapHandler {
                    onTapped: pane.settingsRequested()
                }
                HoverHandler {
                    cursorShape: Qt.PointingHandCursor
                }
            }
            Label {
                Layout.fillWidth: true
                text: qsTr("Chats")
                color: Theme.text
                font.pixelSize: Theme.fontTitle + 2
                font.weight: Font.DemiBold
            }
            IconButton {
                objectName: "newChatButton"
                iconName: "compose"
                tip: qsTr("New chat")
                onClicked: pane.newChatRequested()
            }
            IconButton {
                objectName: "newGroupButton"
                iconName: "group"
                tip: qsTr("New group")
                onClicked: pane.newGroupRequested()
            }
            IconButton {
                id: menuButton
                objectName: "menuButton"
                iconName: "more"
                tip: qsTr("More")
                tipSuppressed: menu.visible
                onClicked: menu.open()

                AppMenu {
                    id: menu
                    objectName: "paneMenu"
                    y: menuButton.height
                    AppMenuItem {
                        objectName: "settingsAction"
                        text: qsTr("Profile and settings")
                        onTriggered: pane.settingsRequested()
                    }
                    AppMenuItem {
                        text: qsTr("Search messages")
                        onTriggered: pane.searchRequested()
                    }
                    MenuSeparator {}
                    AppMenuItem {
                        text: qsTr("Hide message text in notifications")
                        checkable: true
                        checked: pane.hideNotificationContent
                        onTriggered: pane.hideNotificationContentToggled(checked)
                    }
                    AppMenu {
                        title: qsTr("Appearance")
                        AppMenuItem {
                            text: qsTr("Follow the system")
                            checkable: true
                            checked: pane.themeScheme === "system"
                            onTriggered: pane.themeSchemePicked("system")
                        }
                        AppMenuItem {
                            text: qsTr("Light")
                            checkable: true
                            checked: pane.themeScheme === "light"
                            onTriggered: pane.themeSchemePicked("light")
                        }
                        AppMenuItem {
                            text: qsTr("Dark")
                            checkable: true
                            checked: pane.themeScheme === "dark"
                            onTriggered: pane.themeSchemePicked("dark")
                        }
                    }
                    MenuSeparator {}
                    AppMenuItem {
                        text: qsTr("Log out %1").arg(pane.selfName)
                        onTriggered: pane.logoutRequested()
                    }
                }
            }
        }

        ConnectionBanner {
            objectName: "connectionBanner"
            Layout.fillWidth: true
            online: pane.online
            connecting: pane.connecting
            nextRetryIn: pane.nextRetryIn
            lastError: pane.lastError
            onRetryNowRequested: pane.retryNowRequested()
        }

        SearchField {
            id: filterField
            objectName: "filterField"
            Layout.fillWidth: true
            Layout.margins: Theme.spacingM
            Layout.leftMargin: Theme.spacingL
            Layout.rightMargin: Theme.spacingL
            placeholderText: qsTr("Filter")
            Keys.onEscapePressed: text = ""
            Keys.onDownPressed: list.forceActiveFocus()
        }

        ListView {
            id: list
            objectName: "conversationList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: pane.model
            boundsBehavior: Flickable.StopAtBounds
            ScrollBar.vertical: ScrollBar {}

            // Over the main list the way into the archive; over the archive the way back.
            header: ItemDelegate {
                id: archiveEntry
                objectName: pane.showArchived ? "archiveBack" : "archivedEntry"
                width: ListView.view.width
                visible: pane.showArchived || pane.archivedCount > 0
                height: visible ? (pane.showArchived ? 44 : Theme.listRowHeight) : 0
                leftPadding: Theme.spacingL + Theme.spacingS
                rightPadding: Theme.spacingL + Theme.spacingS
                topPadding: 0
                bottomPadding: 0
                hoverEnabled: true
                Accessible.name: pane.showArchived ? qsTr("Back to chats") : qsTr("Archived chats")
                onClicked: pane.showArchived = !pane.showArchived
                background: Rectangle {
                    color: archiveEntry.hovered ? Theme.hover : "transparent"
                    radius: Theme.radiusS
                    anchors.fill: parent
                    anchors.leftMargin: Theme.spacingS
                    anchors.rightMargin: Theme.spacingS
                }
                contentItem: RowLayout {
                    spacing: Theme.spacingM
                    Rectangle {
                        Layout.preferredWidth: pane.showArchived ? 28 : 44
                        Layout.preferredHeight: Layout.preferredWidth
                        radius: width / 2
                        color: pane.showArchived ? "transparent" : Theme.field
                        Icon {
                            anchors.centerIn: parent
                            width: 20
                            height: 20
                            name: pane.showArchived ? "back" : "archive"
                            color: Theme.textMuted
                        }
                    }
                    ColumnLayout {
                        Layout.fillWidth: true
                        spacing: 2
                        Label {
                            Layout.fillWidth: true
                            text: pane.showArchived ? qsTr("Archived chats") : qsTr("Archived")
                            color: Theme.text
                            font.pixelSize: Theme.fontBody
                            font.weight: Font.DemiBold
                            elide: Text.ElideRight
                        }
                        Label {
                            Layout.fillWidth: true
                            visible: !pane.showArchived
                            text: qsTr("%n chat(s)", "", pane.archivedCount)
                            color: Theme.textMuted
                            font.pixelSize: Theme.fontSmall + 1
                            elide: Text.ElideRight
                        }
                    }
                    Badge {
                        visible: !pane.showArchived && pane.archivedUnread > 0
                        count: pane.showArchived ? 0 : pane.archivedUnread
                        muted: true
                    }
                }
            }

            delegate: ConversationDelegate {
                required property var model
                width: ListView.view.width
                visible: (model.archived === true) === pane.showArchived && pane.matches(model.title, pane.preview(model.isGroup, model.lastSenderName, model.lastMessage))
                height: visible ? implicitHeight : 0
                conversationId: model.conversationId
                avatarKey: model.isGroup ? model.conversationId : String(model.peerUserId)
                avatarUrl: model.avatarUrl
                avatarColor: model.avatarColor || 0
                title: model.title
                isGroup: model.isGroup
                // Presence is only as fresh as the connection.
                peerOnline: model.peerOnline && pane.online
                preview: pane.preview(model.isGroup, model.lastSenderName, model.lastMessage)
                lastActivityMs: Number(model.lastActivity)
                unreadCount: model.unreadCount
                unreadMentions: model.unreadMentions || 0
                muted: model.muted === true
                outboxState: model.failedCount > 0 ? "failed" : model.pendingCount > 0 ? "pending" : ""
                lastStatus: ["", "", "sent", "read", "", "delivered"][model.lastStatus] || ""
                selected: pane.showSelection && model.conversationId === pane.currentConversationId
                onClicked: pane.conversationActivated(conversationId)
            }

            Label {
                anchors.centerIn: parent
                width: parent.width - 2 * Theme.spacingXl
                visible: list.count === 0
                text: qsTr("No conversations yet.\nStart one with the pencil button.")
                horizontalAlignment: Text.AlignHCenter
                color: Theme.textMuted
                font.pixelSize: Theme.fontBody
                wrapMode: Text.Wrap
            }
        }
    }
}
