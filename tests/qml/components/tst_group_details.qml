import QtQuick
import QtTest
import Kith.Groups
import Kith.Theme

// The group details page shows the group's picture (or its initials on the
// chosen colour); admins and the owner get "Change picture…" and, while
// there is a picture, "Remove picture"; a plain member gets neither.
Item {
    id: root
    width: 800
    height: 600

    readonly property url wide: Qt.resolvedUrl("data/wide.png")

    ListModel {
        id: memberModel
        ListElement { userId: 1; username: "alice"; displayName: "alice"; role: 3; roleName: "owner"; online: true; isMe: true }
        ListElement { userId: 2; username: "bob"; displayName: "Bob Stone"; role: 1; roleName: "member"; online: true; isMe: false }
    }
    ListModel { id: userModel }

    Component {
        id: detailsComponent
        GroupDetailsSheet {
            parent: root
            groupName: "Release crew"
            conversationId: "g:5"
            members: memberModel
            searchModel: userModel
        }
    }

    TestCase {
        name: "GroupDetails"
        when: windowShown

        function openDetails(properties) {
            const sheet = createTemporaryObject(detailsComponent, root, properties);
            sheet.open();
            tryCompare(sheet, "opened", true);
            return sheet;
        }

        function test_thePictureIsShown() {
            const sheet = openDetails({ myRole: 1, avatarUrl: root.wide, avatarColor: 3 });
            const avatar = findChild(sheet.contentItem, "groupAvatar");
            verify(avatar);
            compare(avatar.source, root.wide);
            tryVerify(() => avatar.showsPicture);
            const picture = findChild(avatar, "picture");
            verify(picture.visible);
            verify(!findChild(avatar, "initialsCircle").visible);
            // Without one: the initials on the chosen colour.
            sheet.avatarUrl = "";
            tryVerify(() => !avatar.showsPicture);
            const circle = findChild(avatar, "initialsCircle");
            verify(circle.visible);
            compare(circle.color, Qt.color(Theme.avatarPalette[2]));
        }

        function test_adminsMayChangeAndRemoveIt_data() {
            return [
                { tag: "owner", role: 3 },
                { tag: "admin", role: 2 },
            ];
        }

        function test_adminsMayChangeAndRemoveIt(data) {
            const sheet = openDetails({ myRole: data.role, avatarUrl: root.wide });
            const change = findChild(sheet.contentItem, "changeGroupPictureButton");
            const remove = findChild(sheet.contentItem, "removeGroupPictureButton");
            verify(change.visible);
            verify(remove.visible);
            compare(change.text, "Change picture…");
            const removed = createTemporaryObject(signalSpyComponent, root, { target: sheet, signalName: "pictureRemoved" });
            mouseClick(remove);
            compare(removed.count, 1);
            // No picture: nothing to remove, a picture still to choose.
            sheet.avatarUrl = "";
            verify(change.visible);
            verify(!remove.visible);
            // A server that keeps no group pictures: neither.
            sheet.picturesSupported = false;
            verify(!change.visible);
        }

        function test_aMemberHasNoButtons() {
            const sheet = openDetails({ myRole: 1, avatarUrl: root.wide });
            const change = findChild(sheet.contentItem, "changeGroupPictureButton");
            const remove = findChild(sheet.contentItem, "removeGroupPictureButton");
            verify(change);
            verify(!change.visible);
            verify(!remove.visible);
            // The picture itself is shown to members all the same.
            tryVerify(() => findChild(sheet.contentItem, "groupAvatar").showsPicture);
        }
    }

    Component {
        id: signalSpyComponent
        SignalSpy {}
    }
}
