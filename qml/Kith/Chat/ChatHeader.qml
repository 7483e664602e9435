import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Over the chat: back (narrow layout), avatar, name, and either who is typing
// or the presence / member count line; actions on the right. The "more" menu
// holds this user's own settings of the chat: mute (for an hour, 8 hours or
// until turned back on), archive, and in a direct chat block.
Rectangle {
    id: header

    property string title
    property string avatarKey: title
    property url avatarUrl
    property int avatarColor: 0
    property bool isGroup: false
    property bool peerOnline: false
    property string statusText
    property string typingText
    property bool showBack: false
    // No notifications from this chat (synced across this user's devices).
    property bool muted: false
    property bool archived: false
    // A direct chat whose peer this user blocked.
    property bool blocked: false
    readonly property alias menu: chatMenu

    signal backRequested
    signal detailsRequested
    signal searchRequested
    // Mute until untilMs (ms since the epoch), -1 until turned back on, 0 unmute.
    signal muteRequested(real untilMs)
    signal archiveToggled(bool archived)
    signal blockToggled(bool blocked)

    function muteFor(hours) {
        muteRequested(hours < 0 ? -1 : Date.now() + hours * 3600 * 1000);
    }

    implicitHeight: Theme.headerHeight
    color: Theme.window

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: header.showBack ? Theme.spacingXs : Theme.spacingL
        anchors.rightMargin: Theme.spacingS
        spacing: Theme.spacingM

        IconButton {
            objectName: "backButton"
            visible: header.showBack
            iconName: "back"
            tip: qsTr("Back (Esc)")
            onClicked: header.backRequested()
        }
        Avatar {
            size: 36
            name: header.title
            objectName: "headerAvatar"
            colorKey: header.avatarKey
            source: header.avatarUrl
            chosenColor: header.avatarColor
            showPresence: !header.isGroup
            online: header.peerOnline
            ringColor: Theme.window
        }
        ColumnLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                Layout.fillWidth: true
                text: header.title
                color: Theme.text
                font.pixelSize: Theme.fontTitle
                font.weight: Font.DemiBold
                elide: Text.ElideRight
            }
            Label {
                objectName: "headerSubtitle"
                Layout.fillWidth: true
                text: header.typingText.length > 0 ? header.typingText : header.statusText
                color: header.typingText.length > 0 || (!header.isGroup && header.peerOnline) ? Theme.accentFg : Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
        }
        // Muted: the crossed bell turns notifications back on in one click;
        // otherwise it offers how long to mute for.
        IconButton {
            id: muteButton
            objectName: "muteButton"
            iconName: header.muted ? "bell-off" : "bell"
            iconColor: header.muted ? Theme.danger : Theme.textMuted
            tip: header.muted ? qsTr("Notifications off for this chat: turn on") : qsTr("Mute notifications of this chat")
            tipSuppressed: muteMenu.visible
            onClicked: header.muted ? header.muteRequested(0) : muteMenu.popup(muteButton, 0, muteButton.height)

            AppMenu {
                id: muteMenu
                objectName: "muteMenu"
                AppMenuItem {
                    objectName: "muteHourAction"
                    text: qsTr("Mute for 1 hour")
                    onTriggered: header.muteFor(1)
                }
                AppMenuItem {
                    objectName: "muteEightHoursAction"
                    text: qsTr("Mute for 8 hours")
                    onTriggered: header.muteFor(8)
                }
                AppMenuItem {
                    objectName: "muteForeverAction"
                    text: qsTr("Mute until I turn it back on")
                    onTriggered: header.muteFor(-1)
                }
            }
        }
        IconButton {
            objectName: "searchButton"
            iconName: "search"
            tip: qsTr("Search in this chat (Ctrl+F)")
            onClicked: header.searchRequested()
        }
        IconButton {
            objectName: "detailsButton"
            visible: header.isGroup
            iconName: "info"
            tip: qsTr("Group details")
            onClicked: header.detailsRequested()
        }
        IconButton {
            id: moreButton
            objectName: "chatMenuButton"
            iconName: "more"
            tip: qsTr("More")
            tipSuppressed: chatMenu.visible
            onClicked: chatMenu.popup(moreButton, moreButton.width - chatMenu.width, moreButton.height)

            AppMenu {
                id: chatMenu
                objectName: "chatMenu"
                AppMenuItem {
                    objectName: "unmuteAction"
                    visible: header.muted
                    text: qsTr("Unmute")
                    onTriggered: header.muteRequested(0)
                }
                AppMenu {
                    id: muteSubmenu
                    title: qsTr("Mute")
                    enabled: !header.muted
                    AppMenuItem {
                        text: qsTr("For 1 hour")
                        onTriggered: header.muteFor(1)
                    }
                    AppMenuItem {
                        text: qsTr("For 8 hours")
                        onTriggered: header.muteFor(8)
                    }
                    AppMenuItem {
                        text: qsTr("Until I turn it back on")
                        onTriggered: header.muteFor(-1)
                    }
                }
                AppMenuItem {
                    objectName: "archiveAction"
                    text: header.archived ? qsTr("Unarchive") : qsTr("Archive")
                    onTriggered: header.archiveToggled(!header.archived)
                }
                AppMenuItem {
                    objectName: "groupDetailsAction"
                    visible: header.isGroup
                    text: qsTr("Group details")
                    onTriggered: header.detailsRequested()
                }
                AppMenuItem {
                    objectName: "blockAction"
                    visible: !header.isGroup
                    destructive: !header.blocked
                    text: header.blocked ? qsTr("Unblock %1").arg(header.title) : qsTr("Block %1").arg(header.title)
                    onTriggered: header.blockToggled(!header.blocked)
                }
            }
        }
    }

    Rectangle {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        height: 1
        color: Theme.border
    }
}
