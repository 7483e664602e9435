import QtQuick
import QtTest
import Kith.Chat
import Kith.Theme

// The composer's emoji picker: the smiley beside the text opens it, a search
// by name narrows it, a pick goes in at the cursor and counts as used, the
// ones used lately come first, it fits a 360 px phone, and emoji are drawn in
// the colour emoji font (the picker's and the composer's alike).
Item {
    id: root
    width: 360
    height: 640

    Component {
        id: composerComponent
        Composer {
            width: root.width
            y: root.height - height
            conversationId: "d:1:2"
        }
    }

    TestCase {
        name: "EmojiPicker"
        when: windowShown

        function open(composer) {
            const button = findChild(composer, "emojiButton");
            verify(button && button.visible);
            mouseClick(button);
            const picker = composer.emojiPicker;
            tryCompare(picker, "opened", true);
            return picker;
        }

        function choices(picker, gridName) {
            const grid = findChild(picker.contentItem, gridName);
            const found = [];
            for (let i = 0; i < grid.children.length; ++i)
                if (grid.children[i].objectName === "emojiChoice")
                    found.push(grid.children[i]);
            return found;
        }

        function test_searchByNameAndPickAtTheCursor() {
            const composer = createTemporaryObject(composerComponent, root);
            const used = createTemporaryQmlObject("import QtTest; SignalSpy { signalName: \"emojiUsed\" }", root);
            used.target = composer;
            composer.text = "great work";
            composer.inputItem.cursorPosition = 5;
            const picker = open(composer);
            tryVerify(() => findChild(picker.contentItem, "emojiSearch").activeFocus);
            verify(picker.matches.length > 100, "the whole set without a query");
            keyClick(Qt.Key_T);
            keyClick(Qt.Key_H);
            keyClick(Qt.Key_U);
            keyClick(Qt.Key_M);
            keyClick(Qt.Key_B);
            compare(picker.matches.map(e => e[0]), ["👍", "👎"]);
            const shown = choices(picker, "allEmoji");
            compare(shown.length, 2);
            const thumbsUp = shown.filter(b => b.modelData === "👍")[0];
            verify(thumbsUp);
            // As a click on it (the Flow may still be placing the buttons).
            thumbsUp.clicked();
            compare(encodeURIComponent(composer.text), encodeURIComponent("great👍 work"));
            compare(used.count, 1);
            compare(used.signalArguments[0][0], "👍");
            verify(picker.opened, "stays open for the next one");
            // Enter takes the first match.
            keyClick(Qt.Key_Backspace);
            keyClick(Qt.Key_Backspace);
            keyClick(Qt.Key_Backspace);
            keyClick(Qt.Key_Backspace);
            keyClick(Qt.Key_Backspace);
            keyClick(Qt.Key_P);
            keyClick(Qt.Key_A);
            keyClick(Qt.Key_R);
            keyClick(Qt.Key_T);
            keyClick(Qt.Key_Y);
            verify(picker.matches.length >= 2);
            compare(picker.matches[0][0], "🥳");
            keyClick(Qt.Key_Return);
            compare(encodeURIComponent(composer.text), encodeURIComponent("great👍🥳 work"));
            // Nothing by that name says so.
            findChild(picker.contentItem, "emojiSearch").text = "";
            picker.query = "qqqzzz";
            verify(findChild(picker.contentItem, "noEmoji").visible);
            keyClick(Qt.Key_Escape);
            tryCompare(picker, "opened", false);
        }

        function test_recentOnesFirst() {
            const composer = createTemporaryObject(composerComponent, root, { recentEmoji: ["🎉", "☕"] });
            const picker = open(composer);
            const recent = findChild(picker.contentItem, "recentEmoji");
            verify(recent.visible);
            const first = choices(picker, "recentEmoji");
            compare(first.length, 2);
            compare(first[0].modelData, "🎉");
            compare(first[1].modelData, "☕");
            tryVerify(() => recent.y < findChild(picker.contentItem, "allEmoji").y);
            // A search looks through all of them.
            picker.query = "coffee";
            verify(!recent.visible);
            picker.close();
        }

        function test_fitsAPhone() {
            const composer = createTemporaryObject(composerComponent, root);
            const picker = open(composer);
            const topLeft = picker.contentItem.mapToItem(root, 0, 0);
            verify(topLeft.x >= 0);
            verify(topLeft.y >= 0);
            verify(topLeft.x + picker.contentItem.width <= root.width, "wider than the phone");
            picker.close();
        }

        function test_colourEmojiFont() {
            if (MessageText.emojiFamily.length === 0)
                skip("no colour emoji font on this machine");
            const composer = createTemporaryObject(composerComponent, root);
            const picker = open(composer);
            const shown = choices(picker, "allEmoji");
            compare(shown[0].contentItem.font.family, MessageText.emojiFamily);
            // Plain text falls back to the colour font first.
            verify(MessageText.prefersColourEmoji(composer.inputItem.font.family), composer.inputItem.font.family);
            picker.close();
        }
    }
}
