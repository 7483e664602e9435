import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// One open conversation: header, timeline and composer. It holds the reply
// being written and the "new messages" marker; everything else comes in as
// properties and leaves as signals.
Rectangle {
    id: chat

    property string conversationId
    property string title
    property string avatarKey: conversationId
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
    property var draftStore: null
    property bool ctrlEnterSends: false
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
    signal muteToggled(bool muted)
    signal storageRetryRequested

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
            isGroup: chat.isGroup
            peerOnline: chat.peerOnline
            statusText: chat.statusText
            typingText: chat.typingText
            showBack: chat.showBack
            onBackRequested: chat.backRequested()
            onDetailsRequested: chat.detailsRequested()
            onSearchRequested: chat.searchRequested()
            muted: chat.muted
            onMuteToggled: muted => chat.muteToggled(muted)
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
            onReactionToggled: (seq, emoji) => chat.reactionToggled(seq, emoji)
            onLinkActivated: link => Qt.openUrlExternally(link)
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

        Composer {
            id: composerBox
            objectName: "composer"
            Layout.fillWidth: true
            canSend: chat.storageError.length === 0
            conversationId: chat.conversationId
            draftStore: chat.draftStore
            ctrlEnterSends: chat.ctrlEnterSends
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
        }
    }

    // QML has no clipboard API of its own; a hidden text editor has one.
    TextEdit {
        id: clipboardHelper
        visible: false
    }
}
