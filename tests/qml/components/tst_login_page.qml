import QtQuick
import QtTest
import Kith.Login

// The login form checks itself before asking the server, and shows the
// server's answer in place. The servers announced on the LAN are listed above
// the address, and picking one fills it in.
Item {
    id: root
    width: 800
    height: 700

    // What LanServersModel offers, with the same roles.
    ListModel {
        id: lanServers
    }

    LoginPage {
        id: page
        anchors.fill: parent
    }
    SignalSpy {
        id: loginSpy
        target: page
        signalName: "loginRequested"
    }
    SignalSpy {
        id: pickSpy
        target: page
        signalName: "lanServerPicked"
    }
    SignalSpy {
        id: registerSpy
        target: page
        signalName: "registerRequested"
    }

    TestCase {
        name: "LoginPage"
        when: windowShown

        function field(name) {
            return findChild(page, name).field;
        }
        function errorShown() {
            const box = findChild(page, "loginError");
            return box.visible ? page.shownError : "";
        }

        function init() {
            page.registering = false;
            page.triedSubmit = false;
            page.errorText = "";
            page.dismissedError = "";
            field("serverField").text = "ws://127.0.0.1:7400/";
            field("userField").text = "";
            field("passwordField").text = "";
            field("confirmField").text = "";
            loginSpy.clear();
            registerSpy.clear();
            pickSpy.clear();
            page.lanServers = null;
            page.lanSearching = false;
            lanServers.clear();
            root.width = 800;
        }

        function addLanServer(name, address, port, registrationOpen, fingerprint) {
            lanServers.append({
                name: name,
                host: "box.local",
                address: address,
                port: port,
                url: "wss://" + (address.indexOf(":") >= 0 ? "[" + address + "]" : address) + ":" + port + "/",
                registrationOpen: registrationOpen,
                tls: true,
                fingerprint: fingerprint || ""
            });
        }
        function lanRow(index) {
            return findChild(page, "lanServer_" + index);
        }
        function detailOf(row) {
            return findChild(row, "lanServerDetail").text;
        }

        function test_lanNothingToLookWithShowsNothing() {
            verify(!findChild(page, "lanSection").visible);
            page.lanServers = lanServers;
            verify(!findChild(page, "lanSection").visible);
        }

        function test_lanLookingWhileNothingFound() {
            page.lanServers = lanServers;
            page.lanSearching = true;
            verify(findChild(page, "lanSection").visible);
            verify(findChild(page, "lanSearching").visible);
            verify(!findChild(page, "lanServerList").visible);
            addLanServer("Office", "192.168.1.20", 7400, true);
            tryVerify(() => findChild(page, "lanServerList").visible);
            verify(!findChild(page, "lanSearching").visible);
        }

        function test_lanPickingFillsTheAddress() {
            page.lanServers = lanServers;
            page.lanSearching = true;
            addLanServer("Lab", "10.0.0.5", 7401, false);
            addLanServer("Office", "192.168.1.20", 7400, true, "ab".repeat(32));
            tryVerify(() => lanRow(1) !== null);
            compare(detailOf(lanRow(0)), "10.0.0.5:7401 · registration closed");
            compare(detailOf(lanRow(1)), "192.168.1.20:7400 · registration open");
            verify(!lanRow(1).picked);

            mouseClick(lanRow(1));
            compare(field("serverField").text, "wss://192.168.1.20:7400/");
            compare(pickSpy.count, 1);
            compare(pickSpy.signalArguments[0][0], "wss://192.168.1.20:7400/");
            compare(pickSpy.signalArguments[0][1], "ab".repeat(32));
            verify(lanRow(1).picked);
            verify(!lanRow(0).picked);
            // On to the user name, and the picked server is what is logged in to.
            verify(field("userField").activeFocus);
            field("userField").text = "ann";
            field("passwordField").text = "pw";
            page.submit();
            compare(loginSpy.count, 1);
            compare(loginSpy.signalArguments[0][0], "wss://192.168.1.20:7400/");

            // A server that goes takes its row; the address typed stays.
            lanServers.remove(1);
            tryVerify(() => lanRow(1) === null);
            compare(field("serverField").text, "wss://192.168.1.20:7400/");
        }

        function test_lanKeyboardPicks() {
            page.lanServers = lanServers;
            addLanServer("Office", "fd00::20", 7400, true);
            tryVerify(() => lanRow(0) !== null);
            compare(detailOf(lanRow(0)), "[fd00::20]:7400 · registration open");
            lanRow(0).forceActiveFocus();
            keyClick(Qt.Key_Space);
            compare(field("serverField").text, "wss://[fd00::20]:7400/");
        }

        function test_lanListFitsAPhone() {
            root.width = 360;
            page.lanServers = lanServers;
            for (let i = 0; i < 5; ++i)
                addLanServer("A server with a rather long name number " + i, "192.168.1." + (20 + i), 7400, i % 2 === 0);
            const list = findChild(page, "lanServerList");
            tryVerify(() => list.count === 5);
            // Three rows show; the rest scroll inside the list.
            tryVerify(() => list.interactive);
            tryCompare(list, "height", 3 * list.rowHeight + 2 * list.spacing);
            const row = lanRow(0);
            const topLeft = row.mapToItem(page, 0, 0);
            verify(topLeft.x >= 0);
            verify(topLeft.x + row.width <= 360);
            const submit = findChild(page, "submitButton");
            verify(submit.mapToItem(page, 0, 0).x + submit.width <= 360);
        }

        function test_emptyFormSaysWhatIsMissing() {
            mouseClick(findChild(page, "submitButton"));
            compare(loginSpy.count, 0);
            compare(errorShown(), "Enter your user name.");
            verify(findChild(page, "userField").error);
        }

        function test_login() {
            field("userField").text = "ann";
            field("passwordField").text = "secret pw";
            field("passwordField").forceActiveFocus();
            keyClick(Qt.Key_Return);
            compare(loginSpy.count, 1);
            compare(loginSpy.signalArguments[0][0], "ws://127.0.0.1:7400/");
            compare(loginSpy.signalArguments[0][1], "ann");
            compare(loginSpy.signalArguments[0][2], "secret pw");
        }

        function test_serverWithoutSchemeIsWss() {
            field("serverField").text = "chat.example.org:7400";
            field("userField").text = "ann";
            field("passwordField").text = "pw";
            mouseClick(findChild(page, "submitButton"));
            compare(loginSpy.signalArguments[0][0], "wss://chat.example.org:7400");
        }

        function test_badServer() {
            field("serverField").text = "http://x";
            field("userField").text = "ann";
            field("passwordField").text = "pw";
            page.submit();
            compare(loginSpy.count, 0);
            verify(findChild(page, "serverField").error);
        }

        function test_registerNeedsMatchingPasswords() {
            page.registering = true;
            field("userField").text = "bob";
            field("passwordField").text = "one";
            field("confirmField").text = "two";
            page.submit();
            compare(registerSpy.count, 0);
            compare(errorShown(), "The passwords do not match.");
            field("confirmField").text = "one";
            page.submit();
            compare(registerSpy.count, 1);
            compare(loginSpy.count, 0);
        }

        function test_serverErrorShownInPlaceAndNotTwiceWhileBusy() {
            page.errorText = "Wrong user name or password";
            compare(errorShown(), "Wrong user name or password");
            field("userField").text = "ann";
            field("passwordField").text = "pw";
            page.busy = true;
            page.submit();
            compare(loginSpy.count, 0);
            page.busy = false;
        }
    }
}
