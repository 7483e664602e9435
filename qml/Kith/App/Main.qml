import QtQuick
import QtQuick.Controls.Basic
import Qt.labs.settings
import Kith.Client
import Kith.App
import Kith.Theme
import Kith.Login
import Kith.Conversations
import Kith.Chat
import Kith.Groups
import Kith.Search
import Kith.Settings

// The window: log in until there is a session, then the conversation list
// and the open chat side by side (or stacked on a narrow window). It is the
// only place that talks to the client facade; the views below take
// properties and models and answer with signals.
ApplicationWindow {
    id: window

    // Set by main() from the command line: log in (or register) at start
    // instead of resuming the saved session, and force a palette.
    property string startServer
    property string startUser
    property string startPassword
    property bool startRegister: false
    property string startTheme

    property string currentConversationId
    property string authError
    // The server last picked from the ones announced on the LAN, and the key
    // it announced (the trust prompt mentions it; it is never trusted).
    property var announcedKey: ({
            url: "",
            fingerprint: ""
        })
    // Shown in the chat header until the conversation list knows the chat.
    property string pendingTitle

    readonly property bool signedIn: KithClient.hasSession
    readonly property bool wide: layout.wide

    width: 1040
    height: 700
    minimumWidth: 360
    minimumHeight: 480
    visible: true
    // "(3) bob — Kith": the unread count first, the open chat, the app's
    // name last. Ending in the name, the title gets no second one from the
    // platform (which appends the display name to a title without it).
    title: {
        const unread = KithClient.conversations.totalUnread;
        const chat = currentConversationId.length > 0 && current.title ? current.title + " — " : "";
        return (unread > 0 ? "(%1) ".arg(unread) : "") + chat + Qt.application.displayName;
    }
    color: Theme.window

    // The controls' own parts (menus, tooltips, scroll bars) follow our palette.
    palette.window: Theme.window
    palette.windowText: Theme.text
    palette.base: Theme.surface
    palette.alternateBase: Theme.sidebar
    palette.text: Theme.text
    palette.button: Theme.field
    palette.buttonText: Theme.text
    palette.highlight: Theme.accent
    palette.highlightedText: Theme.accentText
    palette.placeholderText: Theme.placeholder
    palette.toolTipBase: Theme.dark ? "#e8eaed" : "#2b2f36"
    palette.toolTipText: Theme.dark ? "#1b1f24" : "#ffffff"
    palette.light: Theme.hover
    palette.midlight: Theme.hover
    palette.mid: Theme.border
    palette.dark: Theme.textMuted
    palette.shadow: Qt.rgba(0, 0, 0, 0.3)

    Settings {
        id: settings
        category: "ui"
        property string serverUrl: "wss://127.0.0.1:7400/"
        property string username
        property string theme: "system"
        property real listWidth: 320
        property bool hideNotificationContent: false
        property bool notificationsEnabled: true
        property var mutedChats: []
        property var recentEmoji: []
        property bool ctrlEnterSends: false
        property int fontSize: 14
        property int avatarColorIndex: -1
    }

    Binding {
        target: Theme
        property: "scheme"
        value: window.startTheme.length > 0 ? window.startTheme : settings.theme
    }
    Binding {
        target: Theme
        property: "fontBody"
        value: settings.fontSize
    }
    // One's own avatar in the colour chosen on the settings page (kept by
    // the server, so every device and every contact sees it), until the
    // server is one that keeps it: the colour chosen on this device before.
    Binding {
        target: Theme
        property: "colorOverrides"
        value: {
            const overrides = {};
            overrides[String(KithClient.userId)] = KithClient.avatarsSupported ? KithClient.avatarColor - 1 : settings.avatarColorIndex;
            return overrides;
        }
    }
    // A colour chosen on this device before the server kept colours goes to
    // the server once, unless one was chosen there meanwhile.
    Connections {
        target: KithClient
        function onProfileChanged() {
            if (settings.avatarColorIndex >= 0 && KithClient.avatarsSupported && KithClient.online) {
                if (KithClient.avatarColor === 0)
                    KithClient.setAvatarColor(settings.avatarColorIndex + 1);
                settings.avatarColorIndex = -1;
            }
        }
    }

    // The open conversation's row in the conversation list, re-read whenever
    // the list changes.
    property int listRevision: 0
    Connections {
        target: KithClient.conversations
        function onDataChanged() { window.listRevision++; }
        function onRowsInserted() { window.listRevision++; }
        function onRowsRemoved() { window.listRevision++; }
        function onRowsMoved() { window.listRevision++; }
        function onModelReset() { window.listRevision++; }
    }

    function conversationRole(id, role) {
        const model = KithClient.conversations;
        const row = model.indexOf(id);
        return row < 0 ? undefined : model.data(model.index(row, 0), role);
    }

    readonly property var current: {
        listRevision;
        const id = currentConversationId;
        const title = conversationRole(id, ConversationListModel.TitleRole);
        return {
            known: title !== undefined,
            title: title !== undefined ? title : pendingTitle,
            isGroup: conversationRole(id, ConversationListModel.IsGroupRole) === true || id.startsWith("g:"),
            peerUserId: conversationRole(id, ConversationListModel.PeerUserIdRole) || 0,
            peerOnline: conversationRole(id, ConversationListModel.PeerOnlineRole) === true,
            // An invalid or missing date gives NaN: "offline" without a time.
            peerLastSeenMs: Number(conversationRole(id, ConversationListModel.PeerLastSeenRole)) || 0,
            memberCount: conversationRole(id, ConversationListModel.MemberCountRole) || 0,
            myRole: conversationRole(id, ConversationListModel.MyRoleRole) || 1,
            unread: conversationRole(id, ConversationListModel.UnreadCountRole) || 0,
            muted: conversationRole(id, ConversationListModel.MutedRole) === true,
            archived: conversationRole(id, ConversationListModel.ArchivedRole) === true,
            blocked: conversationRole(id, ConversationListModel.PeerBlockedRole) === true,
            avatarUrl: conversationRole(id, ConversationListModel.AvatarUrlRole) || "",
            avatarColor: conversationRole(id, ConversationListModel.AvatarColorRole) || 0
        };
    }

    // How many chats are archived, and their unread messages (the list's
    // "Archived" entry).
    readonly property var archiveSummary: {
        listRevision;
        const model = KithClient.conversations;
        let count = 0, unread = 0;
        for (let i = 0; i < model.count; ++i) {
            const index = model.index(i, 0);
            if (model.data(index, ConversationListModel.ArchivedRole) === true) {
                ++count;
                unread += model.data(index, ConversationListModel.UnreadCountRole) || 0;
            }
        }
        return {
            count: count,
            unread: unread
        };
    }

    // The open chat's pinned messages, newest pin first; read again when its
    // messages change (a pin or an unpin folds into the pinned message).
    property var pins: []
    function refreshPins() {
        pins = currentConversationId.length > 0 ? KithClient.pinnedMessages(currentConversationId) : [];
    }
    onCurrentConversationIdChanged: refreshPins()
    Connections {
        target: messages
        function onDataChanged() { pinsTimer.restart(); }
        function onRowsInserted() { pinsTimer.restart(); }
        function onRowsRemoved() { pinsTimer.restart(); }
        function onModelReset() { pinsTimer.restart(); }
    }
    Timer {
        id: pinsTimer
        interval: 50
        onTriggered: window.refreshPins()
    }

    // conversation id -> the seq in the middle of the view when it was left.
    property var savedPositions: ({})

    property string typingText
    function refreshTyping() {
        const names = currentConversationId.length > 0 ? KithClient.typingUsers(currentConversationId) : [];
        if (names.length === 0)
            typingText = "";
        else if (names.length === 1)
            typingText = current.isGroup ? qsTr("%1 is typing…").arg(names[0]) : qsTr("typing…");
        else
            typingText = qsTr("%1 and %2 are typing…").arg(names[0]).arg(names.length > 2 ? qsTr("%n others", "", names.length - 1) : names[1]);
    }

    // Opens a chat: at targetSeq when given (a search hit), else at the first
    // unread message or where the reader left it.
    function openConversation(id, targetSeq) {
        if (id === currentConversationId) {
            layout.chatOpen = true;
            if (targetSeq > 0)
                chatView.jumpToSeq(targetSeq);
            return;
        }
        if (currentConversationId.length > 0)
            savedPositions[currentConversationId] = chatView.timeline.anchorSeq();
        currentConversationId = id;
        notifier.withdraw(id);
        chatView.readSeqAtOpen = messages.readSeq;
        layout.chatOpen = true;
        refreshTyping();
        chatView.focusComposer();
        // Unread messages come first; otherwise back to where the reader left it.
        Qt.callLater(() => {
            if (targetSeq > 0)
                chatView.jumpToSeq(targetSeq);
            else if (current.unread > 0 || !chatView.timeline.restorePosition(savedPositions[id] || 0))
                chatView.showFirstUnread();
        });
        readCheck.restart();
    }

    function closeConversation() {
        layout.chatOpen = false;
        if (layout.wide)
            currentConversationId = "";
    }

    // Alt+Up / Alt+Down: the neighbour in the list's order.
    function stepConversation(step) {
        const model = KithClient.conversations;
        if (model.count === 0)
            return;
        const at = model.indexOf(currentConversationId);
        const next = at < 0 ? 0 : Math.max(0, Math.min(model.count - 1, at + step));
        openConversation(model.data(model.index(next, 0), ConversationListModel.ConversationIdRole));
    }

    // Up to the newest message the reader sees whole: a last message cut
    // off at the bottom edge is not read yet.
    function markReadIfSeen() {
        if (!window.active || currentConversationId.length === 0 || !layout.chatVisible || current.unread === 0)
            return;
        const seq = chatView.timeline.lastFullyVisibleSeq();
        if (seq > 0)
            KithClient.markRead(currentConversationId, seq);
    }

    function raiseWindow() {
        window.show();
        window.raise();
        window.requestActivate();
    }

    // Read state is checked once the view has settled (layout, visibility).
    Timer {
        id: readCheck
        interval: 250
        onTriggered: window.markReadIfSeen()
    }
    onActiveChanged: {
        readCheck.restart();
        if (active && currentConversationId.length > 0)
            notifier.withdraw(currentConversationId);
    }
    onCurrentChanged: readCheck.restart()

    Component.onCompleted: {
        if (startServer.length > 0 && startUser.length > 0 && startPassword.length > 0) {
            if (startRegister)
                KithClient.registerAccount(startServer, startUser, startPassword);
            else
                KithClient.login(startServer, startUser, startPassword);
        } else {
            KithClient.restoreSession();
        }
    }

    Connections {
        target: KithClient
        function onAuthFailed(message) { window.authError = message; }
        function onSessionChanged() {
            if (KithClient.hasSession) {
                window.authError = "";
                settings.serverUrl = KithClient.serverUrl.toString();
                settings.username = KithClient.username;
            }
        }
        function onLoggedOut() {
            window.currentConversationId = "";
            layout.chatOpen = false;
        }
        function onTypingChanged(conversationId) {
            if (conversationId === window.currentConversationId)
                window.refreshTyping();
        }
        function onDirectChatReady(conversationId) {
            newChatSheet.close();
            window.openConversation(conversationId);
        }
        function onGroupCreated(conversationId) {
            newGroupSheet.busy = false;
            newGroupSheet.close();
            window.openConversation(conversationId);
        }
        function onOperationFailed(message) {
            if (newChatSheet.opened)
                newChatSheet.errorText = message;
            else if (newGroupSheet.opened) {
                newGroupSheet.busy = false;
                newGroupSheet.errorText = message;
            } else {
                toast.show(message);
            }
        }
        function onMessageReceived(conversationId, seq, senderName, preview, senderId, mentionsMe) {
            window.unarchiveOnMessage(conversationId);
            window.notifyMessage(conversationId, senderName, preview, senderId, mentionsMe);
        }
    }

    // A message from someone else: a desktop notification unless its chat is
    // in front of the reader, muted (a message that mentions the reader
    // notifies even then), or notifications are off. Through the
    // desktop's notification service where it runs (GNOME has no tray), else
    // through the tray icon.
    function notifyMessage(conversationId, senderName, preview, senderId, mentionsMe) {
        if (window.active && conversationId === window.currentConversationId && layout.chatVisible)
            return;
        if (!settings.notificationsEnabled || (KithClient.isMuted(conversationId) && !mentionsMe))
            return;
        const isGroup = conversationId.startsWith("g:");
        const title = conversationRole(conversationId, ConversationListModel.TitleRole) || senderName;
        const text = settings.hideNotificationContent ? qsTr("New message") : isGroup ? "%1: %2".arg(senderName).arg(preview) : preview;
        if (notifier.available) {
            const count = conversationRole(conversationId, ConversationListModel.UnreadCountRole) || 1;
            notifier.notify(conversationId, title, text, count, Theme.avatarColor(String(senderId)), Theme.initials(senderName));
        } else {
            tray.showMessage(title, text);
        }
    }

    // Chats muted on this device before mute was synced: muted for good on
    // the server once online, then forgotten here.
    function moveLocalMutes() {
        if (!KithClient.online || settings.mutedChats.length === 0)
            return;
        for (const id of settings.mutedChats)
            KithClient.muteConversation(id, -1);
        settings.mutedChats = [];
    }
    Connections {
        target: KithClient
        function onOnlineChanged() { window.moveLocalMutes(); }
    }

    // As Telegram does: a new message takes an archived chat back into the
    // list unless the chat is muted (a muted archived chat stays archived).
    function unarchiveOnMessage(conversationId) {
        if (conversationRole(conversationId, ConversationListModel.ArchivedRole) === true && !KithClient.isMuted(conversationId) && KithClient.online)
            KithClient.archiveConversation(conversationId, false);
    }

    DesktopNotifier {
        id: notifier
        onActivated: conversationId => {
            window.raiseWindow();
            window.openConversation(conversationId);
        }
        onReplied: (conversationId, text) => KithClient.sendMessage(conversationId, text)
    }

    TrayIcon {
        id: tray
        unreadCount: KithClient.conversations.totalUnread
        onActivated: window.raiseWindow()
        onQuitRequested: Qt.quit()
    }

    // With a tray icon, closing the window keeps Kith running in the tray.
    onClosing: close => {
        if (tray.available && window.signedIn) {
            close.accepted = false;
            window.hide();
        }
    }

    MessageListModel {
        id: messages
        client: KithClient
        conversationId: window.currentConversationId
    }
    MemberListModel {
        id: members
        client: KithClient
        conversationId: groupDetails.opened ? window.currentConversationId : ""
    }
    // The open group's other members, for "@" in the composer.
    MemberListModel {
        id: mentionMembers
        client: KithClient
        conversationId: window.current.isGroup ? window.currentConversationId : ""
    }
    readonly property var mentionNames: {
        const names = [];
        for (let i = 0; i < mentionMembers.count; ++i) {
            const at = mentionMembers.index(i, 0);
            if (mentionMembers.data(at, MemberListModel.IsMeRole) !== true)
                names.push(mentionMembers.data(at, MemberListModel.UsernameRole));
        }
        return names;
    }

    Shortcut {
        sequence: "Ctrl+K"
        enabled: window.signedIn
        onActivated: switcher.open()
    }
    Shortcut {
        sequence: "Alt+Up"
        enabled: window.signedIn
        onActivated: window.stepConversation(-1)
    }
    Shortcut {
        sequence: "Alt+Down"
        enabled: window.signedIn
        onActivated: window.stepConversation(1)
    }
    Shortcut {
        sequences: ["Ctrl+F"]
        enabled: window.signedIn
        // In the open chat; the sheet offers all chats from there.
        onActivated: searchSheet.openIn(window.currentConversationId)
    }
    Shortcut {
        sequence: "Ctrl+N"
        enabled: window.signedIn
        onActivated: newChatSheet.open()
    }
    Shortcut {
        sequence: "Esc"
        enabled: window.signedIn && window.currentConversationId.length > 0
        // Esc first drops a voice note being recorded, then a reply being
        // written, then closes the chat.
        onActivated: {
            if (chatView.composer.recording)
                chatView.composer.cancelRecording();
            else if (chatView.replyToSeq > 0)
                chatView.cancelReply();
            else
                window.closeConversation();
        }
    }

    // Kith servers announced on the LAN, looked for only while the login
    // screen shows.
    LanServersModel {
        id: lanServers
        active: !window.signedIn
    }

    LoginPage {
        id: loginPage
        objectName: "loginPage"
        anchors.fill: parent
        visible: !window.signedIn
        lanServers: lanServers
        lanSearching: lanServers.available
        onLanServerPicked: (server, fingerprint) => window.announcedKey = {
            url: server,
            fingerprint: fingerprint
        }
        serverUrl: window.startServer.length > 0 ? window.startServer : settings.serverUrl
        username: window.startUser.length > 0 ? window.startUser : settings.username
        busy: KithClient.connectionState === KithClient.Connecting
        errorText: {
            if (window.authError.length > 0)
                return window.authError;
            if (KithClient.connectionState === KithClient.Reconnecting && KithClient.lastError.length > 0)
                return qsTr("%1 — retrying in %2 s").arg(KithClient.lastError).arg(KithClient.nextRetryIn);
            return "";
        }
        onLoginRequested: (server, user, password) => {
            window.authError = "";
            KithClient.login(server, user, password);
        }
        onRegisterRequested: (server, user, password) => {
            window.authError = "";
            KithClient.registerAccount(server, user, password);
        }
    }

    AdaptiveLayout {
        id: layout
        objectName: "adaptiveLayout"
        anchors.fill: parent
        visible: window.signedIn
        listWidth: settings.listWidth
        onListWidthChanged: settings.listWidth = listWidth

        listContent: ConversationListPane {
            id: listPane
            objectName: "conversationPane"
            anchors.fill: parent
            model: KithClient.conversations
            currentConversationId: window.currentConversationId
            showSelection: layout.wide
            archivedCount: window.archiveSummary.count
            archivedUnread: window.archiveSummary.unread
            selfName: KithClient.username
            selfKey: String(KithClient.userId)
            selfAvatarUrl: KithClient.avatarUrl
            selfAvatarColor: KithClient.avatarColor
            online: KithClient.online
            connecting: KithClient.connectionState === KithClient.Connecting
            nextRetryIn: KithClient.nextRetryIn
            lastError: KithClient.lastError
            onConversationActivated: id => window.openConversation(id)
            onNewChatRequested: newChatSheet.open()
            onNewGroupRequested: newGroupSheet.open()
            onSearchRequested: searchSheet.openIn("")
            onLogoutRequested: KithClient.logout()
            onRetryNowRequested: KithClient.retryNow()
            onSettingsRequested: settingsSheet.open()
            hideNotificationContent: settings.hideNotificationContent
            themeScheme: settings.theme
            onHideNotificationContentToggled: hide => settings.hideNotificationContent = hide
            onThemeSchemePicked: scheme => settings.theme = scheme
        }

        chatContent: [
            EmptyChat {
                anchors.fill: parent
                visible: window.currentConversationId.length === 0
            },
            ChatView {
                id: chatView
                objectName: "chatView"
                anchors.fill: parent
                visible: window.currentConversationId.length > 0
                conversationId: window.currentConversationId
                title: window.current.title
                avatarKey: window.current.isGroup ? window.currentConversationId : String(window.current.peerUserId)
                avatarUrl: window.current.avatarUrl
                avatarColor: window.current.avatarColor
                isGroup: window.current.isGroup
                memberNames: window.mentionNames
                // Presence is only as fresh as the connection: offline, nobody is shown online.
                peerOnline: window.current.peerOnline && KithClient.online
                statusText: {
                    if (window.current.isGroup)
                        return qsTr("%n members", "", window.current.memberCount);
                    if (window.current.blocked)
                        return qsTr("Blocked");
                    if (!KithClient.online)
                        return qsTr("waiting for the network…");
                    return Format.presence(window.current.peerOnline, window.current.peerLastSeenMs);
                }
                typingText: window.typingText
                messages: messages
                unreadCount: window.current.unread
                showBack: !layout.wide
                draftStore: KithClient
                ctrlEnterSends: settings.ctrlEnterSends
                recentEmoji: settings.recentEmoji
                onEmojiUsed: emoji => settings.recentEmoji = [emoji].concat(settings.recentEmoji.filter(e => e !== emoji)).slice(0, 24)
                storageError: KithClient.storageError
                onStorageRetryRequested: KithClient.retryStorage()
                onSendRequested: (text, replyToSeq) => KithClient.sendMessage(window.currentConversationId, text, replyToSeq)
                onEditRequested: (seq, text) => KithClient.editMessage(window.currentConversationId, seq, text)
                onDeleteRequested: seq => KithClient.deleteMessage(window.currentConversationId, seq)
                onReactionToggled: (seq, emoji) => KithClient.toggleReaction(window.currentConversationId, seq, emoji)
                moderator: window.current.isGroup && window.current.myRole >= 2
                onRetryRequested: id => KithClient.retryMessage(id)
                onFilesSendRequested: (urls, caption) => {
                    for (let i = 0; i < urls.length; ++i)
                        KithClient.sendFile(window.currentConversationId, urls[i], i === 0 ? caption : "");
                }
                onVoiceNoteSendRequested: (fileUrl, durationMs) => KithClient.sendVoiceNote(window.currentConversationId, fileUrl, durationMs)
                onDiscardRequested: id => KithClient.discardMessage(id)
                onTypingChanged: typing => KithClient.setTyping(window.currentConversationId, typing)
                onReadRequested: readCheck.restart()
                onBackRequested: window.closeConversation()
                onDetailsRequested: groupDetails.open()
                onSearchRequested: searchSheet.openIn(window.currentConversationId)
                muted: window.current.muted
                archived: window.current.archived
                blocked: !window.current.isGroup && window.current.blocked
                pins: window.pins
                onMuteRequested: untilMs => KithClient.muteConversation(window.currentConversationId, untilMs)
                onArchiveToggled: archived => KithClient.archiveConversation(window.currentConversationId, archived)
                onBlockToggled: blocked => KithClient.blockUser(window.current.peerUserId, blocked)
                onPinToggled: (seq, pin) => KithClient.pinMessage(window.currentConversationId, seq, pin)
                onHideRequested: seq => KithClient.hideMessage(window.currentConversationId, seq)
            }
        ]
    }

    // Over the login page and the chats alike: a first connection to a
    // server with its own certificate, or one whose key changed.
    TrustPrompt {
        id: trustPrompt
        objectName: "trustPrompt"
        anchors.fill: parent
        visible: KithClient.connectionState === KithClient.TrustRequired
        serverUrl: KithClient.serverUrl.toString()
        fingerprint: KithClient.trustFingerprint
        words: KithClient.trustWords
        keyChanged: KithClient.trustKeyChanged
        announcedFingerprint: window.announcedKey.url === serverUrl ? window.announcedKey.fingerprint : ""
        onTrustAccepted: shown => KithClient.trustServer(shown)
        onCancelled: KithClient.logout()
    }

    QuickSwitcher {
        id: switcher
        model: KithClient.conversations
        onConversationChosen: id => window.openConversation(id)
    }

    NewChatSheet {
        id: newChatSheet
        searchModel: KithClient.userSearch
        onQueryEdited: query => KithClient.userSearch.query = query
        onUserChosen: username => {
            window.pendingTitle = username;
            KithClient.openDirectChat(username);
        }
    }

    NewGroupSheet {
        id: newGroupSheet
        searchModel: KithClient.userSearch
        onQueryEdited: query => KithClient.userSearch.query = query
        onCreateRequested: (name, usernames) => {
            busy = true;
            window.pendingTitle = name;
            KithClient.createGroup(name, usernames);
        }
    }

    GroupDetailsSheet {
        id: groupDetails
        objectName: "groupDetails"
        groupName: window.current.title
        conversationId: window.currentConversationId
        members: members
        searchModel: KithClient.userSearch
        myRole: window.current.myRole
        avatarUrl: window.current.avatarUrl
        avatarColor: window.current.avatarColor
        picturesSupported: KithClient.groupAvatarsSupported
        presenceKnown: KithClient.online
        onPictureChosen: file => KithClient.setGroupPicture(window.currentConversationId, file)
        onPictureRemoved: KithClient.removeGroupPicture(window.currentConversationId)
        onQueryEdited: query => KithClient.userSearch.query = query
        onRenameRequested: name => KithClient.renameGroup(window.currentConversationId, name)
        onAddRequested: usernames => KithClient.addMembers(window.currentConversationId, usernames)
        onRemoveRequested: userId => KithClient.removeMember(window.currentConversationId, userId)
        onLeaveRequested: {
            KithClient.leaveGroup(window.currentConversationId);
            close();
            window.closeConversation();
        }
    }

    SettingsSheet {
        id: settingsSheet
        objectName: "settingsSheet"
        username: KithClient.username
        displayName: KithClient.displayName
        avatarKey: String(KithClient.userId)
        colorIndex: KithClient.avatarsSupported ? KithClient.avatarColor - 1 : settings.avatarColorIndex
        pictureUrl: KithClient.avatarUrl
        hasPicture: String(KithClient.avatarUrl).length > 0
        picturesSupported: KithClient.avatarsSupported
        devices: KithClient.devices
        serverUrl: settings.serverUrl
        notificationsEnabled: settings.notificationsEnabled
        hideNotificationContent: settings.hideNotificationContent
        themeScheme: settings.theme
        fontSize: settings.fontSize
        ctrlEnterSends: settings.ctrlEnterSends
        onDisplayNameEdited: name => KithClient.setDisplayName(name)
        onColorPicked: index => {
            if (KithClient.avatarsSupported)
                KithClient.setAvatarColor(index + 1);
            else
                settings.avatarColorIndex = index;
        }
        onPictureChosen: file => KithClient.setAvatarPicture(file)
        onPictureRemoved: KithClient.removeAvatarPicture()
        onDevicesRequested: if (KithClient.online) KithClient.refreshDevices()
        onRevokeRequested: deviceId => KithClient.revokeDevice(deviceId)
        onLogoutRequested: {
            close();
            KithClient.logout();
        }
        onNotificationsToggled: enabled => settings.notificationsEnabled = enabled
        onHideContentToggled: hide => settings.hideNotificationContent = hide
        onThemePicked: scheme => settings.theme = scheme
        onFontSizePicked: size => settings.fontSize = size
        onSendKeyPicked: ctrlEnter => settings.ctrlEnterSends = ctrlEnter
        onServerUrlEdited: url => settings.serverUrl = url
    }

    MessageSearchSheet {
        id: searchSheet
        objectName: "searchSheet"
        titleOf: id => window.conversationRole(id, ConversationListModel.TitleRole) || id
        onQueryEdited: query => results = query.trim().length > 1 ? KithClient.searchMessages(query.trim(), wanted, scopeConversationId) : []
        onResultChosen: (conversationId, seq) => {
            close();
            window.openConversation(conversationId, seq);
        }
    }

    // Errors that belong to no form: shown for a few seconds at the bottom.
    Rectangle {
        id: toast
        function show(message) {
            toastLabel.text = message;
            toastTimer.restart();
        }
        visible: toastTimer.running
        anchors.horizontalCenter: parent.horizontalCenter
        anchors.bottom: parent.bottom
        anchors.bottomMargin: 88
        width: Math.min(toastLabel.implicitWidth + 2 * Theme.spacingL, parent.width - 2 * Theme.spacingL)
        height: toastLabel.implicitHeight + 2 * Theme.spacingS
        radius: Theme.radiusS
        color: Theme.dark ? "#e8eaed" : "#2b2f36"
        Label {
            id: toastLabel
            anchors.fill: parent
            anchors.margins: Theme.spacingS
            anchors.leftMargin: Theme.spacingL
            anchors.rightMargin: Theme.spacingL
            color: Theme.dark ? "#1b1f24" : "#ffffff"
            wrapMode: Text.Wrap
            horizontalAlignment: Text.AlignHCenter
        }
        Timer {
            id: toastTimer
            interval: 5000
        }
    }
}
