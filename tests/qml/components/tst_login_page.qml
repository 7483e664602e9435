import QtQuick
import QtTest
import Kith.Login

// The login form checks itself before asking the server, and shows the
// server's answer in place.
Item {
    id: root
    width: 800
    height: 700

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
