import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Dialogs
import QtQuick.Layouts
import Kith.Theme
import Kith.Chat

// One open conversation: header, timeline and composer. It holds the reply
// being written and the "new messages" marker; everything else comes in as
// properties and leaves as signals.
Rectangle {
    id: chat

    property string conversationId
    property string title
    property string avatarKey: conversationId
    // The peer's or the group's picture (a local file URL) and chosen colour.
    property url avatarUrl
    property int avatarColor: 0
    property bool isGroup: false
    property bool peerOnline: false
    property string statusText
    property string typingText
    property var messages
    property int unreadCount: 0
    // The conversation's read seq when it was opened (0: nothing read yet).
    property real readSeqAtOpen: 0
    property bool showBack: false
    property bool muted: false
    property bool archived: false
    // A direct chat whose peer this user blocked: no composer, a way to unblock.
    property bool blocked: false
    // The pinned messages, newest pin first ({seq, text, senderName}).
    property var pins: []
    property var draftStore: null
    property bool ctrlEnterSends: false
    // Emoji used lately, most recent first (the composer's picker).
    property var recentEmoji: []
    // Usernames the composer completes after "@".
    property var memberNames: []
    signal emojiUsed(string emoji)
    // Why messages cannot be saved on this device right now; empty while they can.
    property string storageError

    readonly property alias composer: composerBox
    readonly property alias timeline: messageList

    signal sendRequested(string text, int replyToSeq)
    signal editRequested(int seq, string text)
    signal deleteRequested(int seq)
    signal reactionToggled(int seq, string emoji)
    // A group admin or owner: may delete others' messages.
    property bool moderator: false
    // The message being edited in the composer (0: none).
    property int editSeq: 0
    signal retryRequested(string clientMsgId)
    signal discardRequested(string clientMsgId)
    signal typingChanged(bool typing)
    signal readRequested
    signal backRequested
    signal detailsRequested
    signal searchRequested
    // Mute until untilMs (ms since the epoch), -1 until turned back on, 0 unmute.
    signal muteRequested(real untilMs)
    signal archiveToggled(bool archived)
    signal blockToggled(bool blocked)
    signal pinToggled(int seq, bool pin)
    signal hideRequested(int seq)
    signal storageRetryRequested
    // Files to send here, after the preview sheet: the caption goes with the first.
    signal filesSendRequested(var urls, string caption)
    // A voice note recorded in the composer, to send here.
    signal voiceNoteSendRequested(url fileUrl, int durationMs)

    // Picked, dropped or pasted files: the preview sheet first.
    function offerFiles(urls) {
        if (storageError.length > 0 || conversationId.length === 0 || blocked)
            return false;
        return sendSheet.openWith(urls);
    }

    property int replyToSeq: 0
    property string replySender
    property string replyText

    function cancelReply() {
        if (editSeq > 0) {
            editSeq = 0;
            composerBox.text = "";
        }
        replyToSeq = 0;
        replySender = "";
        replyText = "";
    }

    function jumpToSeq(seq) {
        return messageList.jumpToSeq(seq);
    }

    function showFirstUnread() {
        messageList.showFirstUnread();
    }

    function focusComposer() {
        composerBox.focusInput();
    }

    onConversationIdChanged: {
        cancelReply();
        messageList.highlightSeq = 0;
        messageList.scrollToBottom();
    }

    color: Theme.chatBackground

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        ChatHeader {
            id: header
            Layout.fillWidth: true
            title: chat.title
            avatarKey: chat.avatarKey
            avatarUrl: chat.avatarUrl
            avatarColor: chat.avatarColor
            isGroup: chat.isGroup
            peerOnline: chat.peerOnline
            statusText: chat.statusText
            typingText: chat.typingText
            showBack: chat.showBack
            onBackRequested: chat.backRequested()
            onDetailsRequested: chat.detailsRequested()
            onSearchRequested: chat.searchRequested()
            muted: chat.muted
            archived: chat.archived
            blocked: chat.blocked
            onMuteRequested: untilMs => chat.muteRequested(untilMs)
            onArchiveToggled: archived => chat.archiveToggled(archived)
            onBlockToggled: blocked => chat.blockToggled(blocked)
        }

        PinnedBar {
            id: pinnedBar
            objectName: "pinnedBar"
            Layout.fillWidth: true
            pins: chat.pins
            onJumpRequested: seq => chat.jumpToSeq(seq)
            onUnpinRequested: seq => chat.pinToggled(seq, false)
        }

        MessageTimeline {
            id: messageList
            objectName: "messageList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            model: chat.messages
            isGroup: chat.isGroup
            markerSeq: chat.readSeqAtOpen + 1
            unreadCount: chat.unreadCount
            onRetryRequested: id => chat.retryRequested(id)
            onDiscardRequested: id => chat.discardRequested(id)
            onReplyRequested: (seq, senderName, text) => {
                chat.replyToSeq = seq;
                chat.replySender = senderName;
                chat.replyText = text;
                composerBox.focusInput();
            }
            onCopyRequested: text => {
                clipboardHelper.text = text;
                clipboardHelper.selectAll();
                clipboardHelper.copy();
            }
            onQuoteActivated: seq => jumpToSeq(seq)
            moderator: chat.moderator
            onEditRequested: (seq, text) => {
                chat.cancelReply();
                chat.editSeq = seq;
                chat.replySender = qsTr("yourself");
                chat.replyText = text;
                composerBox.text = text;
                composerBox.focusInput();
            }
            onDeleteRequested: seq => chat.deleteRequested(seq)
            onPinToggled: (seq, pin) => chat.pinToggled(seq, pin)
            onHideRequested: seq => chat.hideRequested(seq)
            onReactionToggled: (seq, emoji) => chat.reactionToggled(seq, emoji)
            onLinkActivated: link => Qt.openUrlExternally(link)
            onImageViewRequested: (url, name) => imageViewer.show(url, name)
            onFileOpenRequested: url => Qt.openUrlExternally(url)
            onShowInFolderRequested: url => Qt.openUrlExternally(Media.folderOf(url))
            onSaveAsRequested: (url, name) => {
                saveDialog.source = url;
                saveDialog.currentFile = "file:///" + name;
                saveDialog.open();
            }
            onReachedBottom: chat.readRequested()
            // Reading down through unread messages marks them as it goes.
            onContentYChanged: if (chat.unreadCount > 0) chat.readRequested()
        }

        StorageNotice {
            objectName: "storageNotice"
            Layout.fillWidth: true
            text: chat.storageError
            onRetryRequested: chat.storageRetryRequested()
        }

        BlockedNotice {
            objectName: "blockedNotice"
            Layout.fillWidth: true
            visible: chat.blocked
            name: chat.title
            onUnblockRequested: chat.blockToggled(false)
        }

        Composer {
            id: composerBox
            objectName: "composer"
            Layout.fillWidth: true
            visible: !chat.blocked
            enabled: !chat.blocked
            canSend: chat.storageError.length === 0
            conversationId: chat.conversationId
            draftStore: chat.draftStore
            ctrlEnterSends: chat.ctrlEnterSends
            recentEmoji: chat.recentEmoji
            memberNames: chat.memberNames
            onEmojiUsed: emoji => chat.emojiUsed(emoji)
            replyToSeq: chat.replyToSeq
            replySender: chat.replySender
            replyText: chat.replyText
            editing: chat.editSeq > 0
            onSendRequested: (text, replyToSeq) => {
                if (chat.editSeq > 0) {
                    chat.editRequested(chat.editSeq, text);
                    chat.editSeq = 0;
                    chat.cancelReply();
                    return;
                }
                chat.sendRequested(text, replyToSeq);
                chat.cancelReply();
                messageList.scrollToBottom();
            }
            onTypingChanged: typing => chat.typingChanged(typing)
            onReplyCancelled: chat.cancelReply()
            onScrollKeyPressed: key => messageList.handleKey(key, 0)
            onFilesChosen: urls => chat.offerFiles(urls)
            onVoiceNoteRecorded: (fileUrl, durationMs) => {
                chat.voiceNoteSendRequested(fileUrl, durationMs);
                messageList.scrollToBottom();
            }
        }
    }

    // Files dragged onto the chat.
    DropArea {
        id: drop
        objectName: "chatDropArea"
        anchors.fill: parent
        keys: ["text/uri-list"]
        onEntered: drag => {
            drag.accepted = drag.hasUrls && Media.localFiles(drag.urls).length > 0;
        }
        onDropped: drop => {
            const files = Media.localFiles(drop.urls);
            if (files.length > 0 && chat.offerFiles(files))
                drop.acceptProposedAction();
        }
    }
    Rectangle {
        objectName: "dropHint"
        visible: drop.containsDrag
        anchors.fill: parent
        anchors.margins: Theme.spacingM
        radius: Theme.radiusM
        color: Qt.rgba(Theme.window.r, Theme.window.g, Theme.window.b, 0.9)
        border.color: Theme.accent
        border.width: 2
        Column {
            anchors.centerIn: parent
            spacing: Theme.spacingS
            Icon {
                anchors.horizontalCenter: parent.horizontalCenter
                width: 40
                height: 40
                name: "attach"
                color: Theme.accentFg
            }
            Text {
                text: qsTr("Drop files to send them to %1").arg(chat.title)
                color: Theme.text
                font.pixelSize: Theme.fontTitle
            }
        }
    }

    // Both over the whole window, not just the chat pane.
    SendFilesSheet {
        id: sendSheet
        objectName: "sendFilesSheet"
        parent: chat.Window.window ? chat.Window.window.contentItem : chat
        onSendRequested: (urls, caption) => {
            chat.filesSendRequested(urls, caption);
            messageList.scrollToBottom();
            composerBox.focusInput();
        }
    }

    FileDialog {
        id: saveDialog
        property url source
        fileMode: FileDialog.SaveFile
        onAccepted: Media.saveCopy(source, selectedFile)
    }

    ImageViewer {
        id: imageViewer
        objectName: "imageViewer"
        parent: chat.Window.window ? chat.Window.window.contentItem : chat
    }

    // QML has no clipboard API of its own; a hidden text editor has one.
    TextEdit {
        id: clipboardHelper
        visible: false
    }
}
