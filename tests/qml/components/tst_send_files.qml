import QtQuick
import QtTest
import Kith.Chat
import Kith.Theme

// Files picked, dropped or pasted onto a chat go through the preview sheet:
// it shows them, takes a caption, and Send hands the files and the caption
// on; Esc drops them; a file that is not there is left out, and nothing at
// all opens no sheet. The composer has the paper clip.
Item {
    id: root
    width: 900
    height: 640

    readonly property url wide: Qt.resolvedUrl("data/wide.png")
    readonly property url tone: Qt.resolvedUrl("data/tone.wav")

    Component {
        id: chatComponent
        ChatView {
            anchors.fill: parent
            conversationId: "d:1:2"
            title: "Bob"
            messages: ListModel {}
        }
    }

    TestCase {
        name: "SendFiles"
        when: windowShown

        function watch(target, signalName) {
            const spy = createTemporaryQmlObject("import QtTest; SignalSpy {}", root);
            spy.target = target;
            spy.signalName = signalName;
            return spy;
        }

        function test_previewCaptionAndSend() {
            const chat = createTemporaryObject(chatComponent, root);
            verify(chat);
            const sent = watch(chat, "filesSendRequested");
            verify(chat.offerFiles([root.wide, root.tone, Qt.resolvedUrl("data/not-there.png")]));
            const sheet = findChild(chat, "sendFilesSheet");
            tryCompare(sheet, "opened", true);
            compare(sheet.files.length, 2);
            compare(sheet.files[0].isImage, true);
            compare(sheet.files[0].width, 240);
            compare(sheet.files[1].isImage, false);
            compare(sheet.title, "Send 2 files");
            const caption = findChild(chat, "captionField");
            tryVerify(() => caption.activeFocus);
            keyClick(Qt.Key_H);
            keyClick(Qt.Key_I);
            keyClick(Qt.Key_Return);
            compare(sent.count, 1);
            compare(sent.signalArguments[0][0].length, 2);
            compare(String(sent.signalArguments[0][0][0]), String(root.wide));
            compare(sent.signalArguments[0][1], "hi");
            tryCompare(sheet, "opened", false);
        }

        function test_escapeDropsThem() {
            const chat = createTemporaryObject(chatComponent, root);
            const sent = watch(chat, "filesSendRequested");
            verify(chat.offerFiles([root.wide]));
            const sheet = findChild(chat, "sendFilesSheet");
            tryCompare(sheet, "opened", true);
            compare(sheet.title, "Send an image");
            keyClick(Qt.Key_Escape);
            tryCompare(sheet, "opened", false);
            compare(sent.count, 0);
        }

        function test_nothingToSendOpensNothing() {
            const chat = createTemporaryObject(chatComponent, root);
            verify(!chat.offerFiles([Qt.resolvedUrl("data/not-there.png")]));
            verify(!chat.offerFiles(["https://example.org/a.png"]));
            verify(!findChild(chat, "sendFilesSheet").opened);
            // A chat that cannot save messages takes no files either.
            chat.storageError = "The disk is full";
            verify(!chat.offerFiles([root.wide]));
        }

        function test_attachButtonIsThere() {
            const chat = createTemporaryObject(chatComponent, root);
            const attach = findChild(chat, "attachButton");
            verify(attach.visible);
            verify(attach.enabled);
            compare(attach.Accessible.name, "Attach files (Ctrl+O)");
            chat.storageError = "The disk is full";
            verify(!attach.enabled);
        }
    }
}
