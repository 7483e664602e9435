import QtQuick
import QtTest
import Kith.Chat

// While messages cannot be saved (a full disk) the chat says so over the
// composer, offers to try again, and Enter keeps the text in the composer.
Item {
    id: root
    width: 600
    height: 300

    StorageNotice {
        id: notice
        width: parent.width
    }

    Composer {
        id: composer
        y: 100
        width: parent.width
        conversationId: "d:1:2"
        canSend: notice.text.length === 0
    }

    SignalSpy {
        id: retrySpy
        target: notice
        signalName: "retryRequested"
    }
    SignalSpy {
        id: sendSpy
        target: composer
        signalName: "sendRequested"
    }

    TestCase {
        name: "StorageNotice"
        when: windowShown

        function init() {
            notice.text = "";
            composer.text = "";
            retrySpy.clear();
            sendSpy.clear();
            composer.focusInput();
        }

        function test_hiddenWhileWritesWork() {
            verify(!notice.visible);
            compare(notice.implicitHeight, 0);
        }

        function test_saysWhyAndOffersToTryAgain() {
            notice.text = "The disk is full: new messages cannot be saved.";
            verify(notice.visible);
            verify(notice.implicitHeight > 0);
            const label = findChild(notice, "storageNoticeText");
            compare(label.text, notice.text);
            const retry = findChild(notice, "storageRetry");
            verify(retry.visible);
            mouseClick(retry);
            compare(retrySpy.count, 1);
        }

        function test_composerKeepsTheTextUntilItCanBeSaved() {
            notice.text = "The disk is full: new messages cannot be saved.";
            composer.text = "hello";
            keyClick(Qt.Key_Return);
            compare(sendSpy.count, 0);
            compare(composer.text, "hello");

            notice.text = "";
            keyClick(Qt.Key_Return);
            compare(sendSpy.count, 1);
            compare(sendSpy.signalArguments[0][0], "hello");
            compare(composer.text, "");
        }
    }
}
