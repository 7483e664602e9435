import QtQuick
import QtTest
import Kith.Theme

// The Avatar: a picture in a circle when it has one that can be read, else
// the initials on the colour the user chose (1..16, a palette entry) or the
// one derived from the key; a file that is missing, not an image or claims a
// huge size falls back to the initials.
Item {
    id: root
    width: 400
    height: 300

    readonly property url wide: Qt.resolvedUrl("data/wide.png")
    readonly property url claimsHuge: Qt.resolvedUrl("data/claims-huge.png")

    Component {
        id: avatarComponent
        Avatar {
            size: 64
            name: "Ann Lee"
            colorKey: "17"
        }
    }

    TestCase {
        name: "Avatar"
        when: windowShown

        function findNamed(item, name) {
            if (item.objectName === name)
                return item;
            for (let i = 0; i < item.children.length; ++i) {
                const found = findNamed(item.children[i], name);
                if (found)
                    return found;
            }
            return null;
        }

        function test_initialsWithoutAPicture() {
            const avatar = createTemporaryObject(avatarComponent, root);
            const circle = findNamed(avatar, "initialsCircle");
            const picture = findNamed(avatar, "picture");
            verify(circle.visible);
            verify(!picture.visible);
            verify(!avatar.showsPicture);
            compare(circle.color, Qt.color(Theme.avatarColor("17")));
        }

        function test_chosenColourOverTheDerivedOne() {
            const avatar = createTemporaryObject(avatarComponent, root, { chosenColor: 4 });
            const circle = findNamed(avatar, "initialsCircle");
            compare(circle.color, Qt.color(Theme.avatarPalette[3]));
            avatar.chosenColor = Theme.avatarPalette.length + 2; // past the palette: wraps
            compare(circle.color, Qt.color(Theme.avatarPalette[1]));
            avatar.chosenColor = 0;
            compare(circle.color, Qt.color(Theme.avatarColor("17")));
        }

        function test_pictureInPlaceOfTheInitials() {
            const avatar = createTemporaryObject(avatarComponent, root, { source: root.wide });
            const circle = findNamed(avatar, "initialsCircle");
            const picture = findNamed(avatar, "picture");
            tryVerify(() => avatar.showsPicture);
            verify(picture.visible);
            verify(!circle.visible);
            // Drawn in a circle: the corners show what is behind, as around
            // the initials; the middle is the picture, not the initials' colour.
            const withPicture = grabImage(avatar);
            avatar.source = "";
            tryVerify(() => !avatar.showsPicture);
            verify(circle.visible);
            const withInitials = grabImage(avatar);
            compare(String(withPicture.pixel(1, 1)), String(withInitials.pixel(1, 1)));
            compare(String(withInitials.pixel(32, 10)), String(Qt.color(Theme.avatarColor("17"))));
            verify(String(withPicture.pixel(32, 10)) !== String(withInitials.pixel(32, 10)));
        }

        function test_unreadablePicturesFallBackToTheInitials() {
            for (const source of [root.claimsHuge, Qt.resolvedUrl("data/no-such-file.png"),
                                  Qt.resolvedUrl("tst_avatar.qml")]) {
                const avatar = createTemporaryObject(avatarComponent, root, { source: source });
                wait(20);
                verify(!avatar.showsPicture, String(source));
                verify(findNamed(avatar, "initialsCircle").visible, String(source));
            }
        }
    }
}
