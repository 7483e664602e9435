import QtQuick
import QtTest
import Kith.Chat

// The composer's keys and drafts: Enter sends, Shift+Enter adds a line,
// nothing empty is sent, drafts follow the conversation, Esc cancels a reply,
// "@" completes a member's username.
Item {
    id: root
    width: 600
    height: 200

    Composer {
        id: composer
        width: parent.width
        conversationId: "d:1:2"
    }

    SignalSpy {
        id: sendSpy
        target: composer
        signalName: "sendRequested"
    }
    SignalSpy {
        id: cancelSpy
        target: composer
        signalName: "replyCancelled"
    }
    SignalSpy {
        id: scrollSpy
        target: composer
        signalName: "scrollKeyPressed"
    }
    SignalSpy {
        id: typingSpy
        target: composer
        signalName: "typingChanged"
    }

    QtObject {
        id: store
        property var drafts: ({})
        property var writes: []
        function draft(id) { return drafts[id] || ""; }
        function setDraft(id, text) {
            drafts[id] = text;
            writes.push(id + "=" + text);
        }
    }

    TestCase {
        name: "Composer"
        when: windowShown

        function init() {
            composer.ctrlEnterSends = false;
            composer.draftStore = null;
            composer.localDrafts = {};
            composer.replyToSeq = 0;
            composer.conversationId = "d:1:2";
            composer.text = "";
            sendSpy.clear();
            cancelSpy.clear();
            typingSpy.clear();
            scrollSpy.clear();
            composer.focusInput();
            verify(composer.inputItem.activeFocus);
        }

        function test_atCompletesMembers() {
            composer.memberNames = ["bob", "Bella", "carol"];
            const list = findChild(composer, "mentionList");
            keyClick(Qt.Key_H);
            keyClick(Qt.Key_I);
            keyClick(Qt.Key_Space);
            verify(!list.visible);
            keyClick("@");
            verify(list.visible);
            compare(composer.mentionMatches.length, 3);
            keyClick(Qt.Key_B);
            compare(composer.mentionMatches, ["bob", "Bella"]);
            keyClick(Qt.Key_Down);
            keyClick(Qt.Key_Tab);
            compare(composer.text, "hi @Bella ");
            verify(!list.visible);
            // Enter takes the first, and sends nothing.
            keyClick("@");
            keyClick(Qt.Key_C);
            keyClick(Qt.Key_Return);
            compare(composer.text, "hi @Bella @carol ");
            compare(sendSpy.count, 0);
            // A name nobody has: no list, Enter sends; an e-mail address is no mention.
            composer.text = "";
            keyClick(Qt.Key_A);
            keyClick("@");
            verify(!list.visible);
            composer.memberNames = [];
        }

        function test_enterSends() {
            keyClick(Qt.Key_H);
            keyClick(Qt.Key_I);
            keyClick(Qt.Key_Return);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][0], "hi");
            compare(sendSpy.signalArguments[0][1], 0);
            compare(composer.text, "");
        }

        function test_keypadEnterSends() {
            keyClick(Qt.Key_A);
            keyClick(Qt.Key_Enter, Qt.KeypadModifier);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][0], "a");
        }

        function test_shiftEnterAddsLine() {
            keyClick(Qt.Key_A);
            keyClick(Qt.Key_Return, Qt.ShiftModifier);
            keyClick(Qt.Key_B);
            compare(sendSpy.count, 0);
            compare(composer.text, "a\nb");
            keyClick(Qt.Key_Return);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][0], "a\nb");
        }

        function test_blankIsNotSent() {
            keyClick(Qt.Key_Return);
            keyClick(Qt.Key_Space);
            keyClick(Qt.Key_Return);
            compare(sendSpy.count, 0);
        }

        function test_sendButton() {
            const button = findChild(composer, "sendButton");
            verify(button);
            verify(!button.enabled);
            keyClick(Qt.Key_X);
            verify(button.enabled);
            mouseClick(button);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][0], "x");
        }

        function test_draftKeptPerConversation() {
            keyClick(Qt.Key_O);
            keyClick(Qt.Key_N);
            keyClick(Qt.Key_E);
            composer.conversationId = "g:7";
            compare(composer.text, "");
            keyClick(Qt.Key_T);
            composer.conversationId = "d:1:2";
            compare(composer.text, "one");
            composer.conversationId = "g:7";
            compare(composer.text, "t");
        }

        function test_draftStoreIsUsed() {
            store.drafts = { "g:9": "saved before" };
            store.writes = [];
            composer.draftStore = store;
            keyClick(Qt.Key_Z);
            composer.conversationId = "g:9";
            compare(composer.text, "saved before");
            verify(store.writes.indexOf("d:1:2=z") >= 0, store.writes.join(","));
            compare(store.drafts["d:1:2"], "z");
        }

        function test_replyGoesWithTheMessage() {
            composer.replyToSeq = 42;
            composer.replySender = "Ann";
            composer.replyText = "lunch?";
            verify(findChild(composer, "replyBar").visible);
            keyClick(Qt.Key_Y);
            keyClick(Qt.Key_Return);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][1], 42);
        }

        function test_escapeCancelsReply() {
            composer.replyToSeq = 5;
            keyClick(Qt.Key_Escape);
            compare(cancelSpy.count, 1);
        }

        function test_typingStartsAndStopsOnSend() {
            keyClick(Qt.Key_Q);
            compare(typingSpy.count, 1);
            compare(typingSpy.signalArguments[0][0], true);
            keyClick(Qt.Key_Return);
            compare(typingSpy.count, 2);
            compare(typingSpy.signalArguments[1][0], false);
        }

        // The page keys scroll the chat while the cursor stays in the box;
        // plain Home/End stay with the text.
        function test_pageKeysScrollTheChat() {
            keyClick(Qt.Key_A);
            keyClick(Qt.Key_PageUp);
            keyClick(Qt.Key_PageDown);
            keyClick(Qt.Key_End, Qt.ControlModifier);
            compare(scrollSpy.count, 3);
            compare(scrollSpy.signalArguments[0][0], Qt.Key_PageUp);
            compare(scrollSpy.signalArguments[2][0], Qt.Key_End);
            keyClick(Qt.Key_Home);
            compare(scrollSpy.count, 3);
            compare(composer.inputItem.cursorPosition, 0);
            compare(composer.text, "a");
        }
    
        // The "Ctrl+Enter sends" setting: Enter writes a new line instead.
        function test_ctrlEnterSends() {
            composer.ctrlEnterSends = true;
            keyClick(Qt.Key_A);
            keyClick(Qt.Key_Return);
            keyClick(Qt.Key_B);
            compare(sendSpy.count, 0);
            compare(composer.text, "a\nb");
            keyClick(Qt.Key_Return, Qt.ControlModifier);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][0], "a\nb");
        }
    }
}
