import QtQuick
import QtTest
import Kith.Settings

// The profile and settings page: the name goes to the server on Enter, a
// device is logged out only after a confirmation, the choices report what
// was picked.
Item {
    id: root
    width: 800
    height: 700

    SettingsSheet {
        id: page
        parent: root
        username: "ann"
        displayName: "Ann"
        avatarKey: "1"
        serverUrl: "ws://kith.local:7400/"
        devices: [
            { id: 4, name: "laptop", createdMs: 0, lastSeenMs: 0, current: true, online: true },
            { id: 9, name: "phone", createdMs: 1000, lastSeenMs: 2000, current: false, online: false }
        ]
    }

    SignalSpy { id: nameSpy; target: page; signalName: "displayNameEdited" }
    SignalSpy { id: revokeSpy; target: page; signalName: "revokeRequested" }
    SignalSpy { id: logoutSpy; target: page; signalName: "logoutRequested" }
    SignalSpy { id: themeSpy; target: page; signalName: "themePicked" }
    SignalSpy { id: sendKeySpy; target: page; signalName: "sendKeyPicked" }
    SignalSpy { id: devicesSpy; target: page; signalName: "devicesRequested" }

    TestCase {
        name: "Settings"
        when: windowShown

        function init() {
            if (!page.opened)
                page.open();
            tryCompare(page, "opened", true);
        }

        // Scrolls the page so that item is in view (a click elsewhere would
        // land outside the sheet and close it).
        function reveal(item) {
            const flick = findChild(page.contentItem, "settingsFlick");
            const y = item.mapToItem(flick.contentItem, 0, 0).y;
            flick.contentY = Math.max(0, Math.min(flick.contentHeight - flick.height, y - flick.height / 2));
            waitForRendering(flick);
            return item;
        }

        function test_openingAsksForTheDevices() {
            verify(devicesSpy.count >= 1);
        }

        function test_displayNameOnEnter() {
            const field = reveal(findChild(page.contentItem, "displayNameField"));
            compare(field.text, "Ann");
            field.field.forceActiveFocus();
            field.field.selectAll();
            keyClick(Qt.Key_B);
            keyClick(Qt.Key_O);
            keyClick(Qt.Key_Return);
            compare(nameSpy.count, 1);
            compare(nameSpy.signalArguments[0][0], "bo");
        }

        function test_loggingADeviceOutAsksFirst() {
            const phone = findChild(page.contentItem, "device_9");
            verify(phone);
            const revoke = reveal(findChild(phone, "revokeButton"));
            mouseClick(revoke);
            compare(revokeSpy.count, 0);
            const confirm = findChild(phone, "confirmRevokeButton");
            verify(confirm.visible);
            mouseClick(confirm);
            compare(revokeSpy.count, 1);
            compare(revokeSpy.signalArguments[0][0], 9);
            // This device's own button logs out instead.
            const laptop = findChild(page.contentItem, "device_4");
            compare(findChild(laptop, "revokeButton").text, "Log out this device");
            mouseClick(reveal(findChild(laptop, "revokeButton")));
            mouseClick(findChild(laptop, "confirmRevokeButton"));
            compare(logoutSpy.count, 1);
            compare(revokeSpy.count, 1);
        }

        function test_choices() {
            const dark = findChild(page.contentItem, "choice_dark");
            verify(dark);
            mouseClick(reveal(dark));
            compare(themeSpy.count, 1);
            compare(themeSpy.signalArguments[0][0], "dark");
            const ctrl = findChild(page.contentItem, "choice_true");
            mouseClick(reveal(ctrl));
            compare(sendKeySpy.signalArguments[0][0], true);
        }
    }
}
