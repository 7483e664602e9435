import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// Connect, log in or register: server address, user name, password. Errors
// from the server are shown in place, under the form, as sentences. Above
// the address, the servers announced on this network (`lanServers`); picking
// one fills the address in.
Rectangle {
    id: page

    property string serverUrl: "wss://127.0.0.1:7400/"
    property string username
    // True while a login or registration is in flight.
    property bool busy: false
    property string errorText
    property bool registering: false
    // The Kith servers announced on the LAN: a model with the roles name,
    // address, port, url and registrationOpen (LanServersModel), or null.
    property var lanServers: null
    // Looking for them (nothing to look with: false, and nothing is said).
    property bool lanSearching: false
    // The rows shown before the list scrolls.
    readonly property int lanRowsShown: 3

    function pickServer(url, fingerprint) {
        serverField.text = url;
        userField.field.forceActiveFocus();
        lanServerPicked(url, fingerprint);
    }

    signal loginRequested(string serverUrl, string username, string password)
    signal registerRequested(string serverUrl, string username, string password)
    // A server announced on the LAN was picked: its URL and the fingerprint
    // it announced (unauthenticated: for the trust prompt to mention only).
    signal lanServerPicked(string serverUrl, string fingerprint)

    // What is wrong with the form before anything is sent: the field and a sentence.
    readonly property var problem: {
        if (serverField.text.trim().length === 0)
            return { field: "server", text: qsTr("Enter the address of your Kith server.") };
        if (!/^wss?:\/\/[^\s\/]+/.test(normalizedServer))
            return { field: "server", text: qsTr("The server address should look like wss://host:7400 or ws://localhost:7400.") };
        if (userField.text.trim().length === 0)
            return { field: "user", text: qsTr("Enter your user name.") };
        if (passwordField.text.length === 0)
            return { field: "password", text: qsTr("Enter your password.") };
        if (registering && passwordField.text !== confirmField.text)
            return { field: "confirm", text: qsTr("The passwords do not match.") };
        return { field: "", text: "" };
    }
    // "chat.example.org:7400" is taken to mean wss://chat.example.org:7400:
    // kithd serves TLS unless told otherwise.
    readonly property string normalizedServer: {
        const server = serverField.text.trim();
        return /^[a-z]+:\/\//i.test(server) ? server : "wss://" + server;
    }
    property bool triedSubmit: false
    // A server error stays hidden once the user switched between log in and register.
    property string dismissedError
    readonly property bool showProblem: triedSubmit && problem.field.length > 0
    readonly property string shownError: showProblem ? problem.text : errorText !== dismissedError ? errorText : ""

    function submit() {
        triedSubmit = true;
        dismissedError = "";
        if (busy || problem.field.length > 0)
            return;
        if (registering)
            registerRequested(normalizedServer, userField.text.trim(), passwordField.text);
        else
            loginRequested(normalizedServer, userField.text.trim(), passwordField.text);
    }

    color: Theme.sidebar

    // Centred; scrolls where the window is shorter than the form (a phone
    // with the keyboard up, several servers listed).
    Flickable {
        id: scroller
        anchors.fill: parent
        contentWidth: width
        contentHeight: Math.max(height, card.height + 2 * Theme.spacingL)
        boundsBehavior: Flickable.StopAtBounds
        ScrollIndicator.vertical: ScrollIndicator {}

        Rectangle {
            id: card
            anchors.centerIn: parent
            width: Math.min(400, page.width - 2 * Theme.spacingL)
            height: form.implicitHeight + 2 * Theme.spacingXl
            radius: Theme.radiusM
            color: Theme.window
            border.width: page.width > 440 ? 1 : 0
            border.color: Theme.border

            ColumnLayout {
                id: form
                anchors.fill: parent
                anchors.margins: Theme.spacingXl
                spacing: Theme.spacingL

                Column {
                    Layout.fillWidth: true
                    spacing: Theme.spacingXs
                    Label {
                        text: page.registering ? qsTr("Create your account") : qsTr("Welcome to Kith")
                        color: Theme.text
                        font.pixelSize: Theme.fontHeadline
                        font.weight: Font.DemiBold
                    }
                    Label {
                        width: parent.width
                        text: page.registering ? qsTr("Pick a user name your colleagues will find you by.") : qsTr("Log in to your team's server.")
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontBody
                        wrapMode: Text.Wrap
                    }
                }

                Column {
                    id: lanSection
                    objectName: "lanSection"
                    Layout.fillWidth: true
                    spacing: Theme.spacingXs
                    visible: lanList.count > 0 || page.lanSearching

                    Label {
                        text: qsTr("On this network")
                        color: Theme.textMuted
                        font.pixelSize: Theme.fontSmall
                        font.weight: Font.DemiBold
                    }
                    Label {
                        objectName: "lanSearching"
                        width: parent.width
                        visible: lanList.count === 0
                        text: qsTr("Looking for servers on this network…")
                        color: Theme.placeholder
                        font.pixelSize: Theme.fontSmall
                        wrapMode: Text.Wrap
                    }
                    ListView {
                        id: lanList
                        objectName: "lanServerList"
                        width: parent.width
                        visible: count > 0
                        model: page.lanServers
                        spacing: Theme.spacingXs
                        readonly property int rowHeight: 52
                        implicitHeight: Math.min(count, page.lanRowsShown) * (rowHeight + spacing) - spacing
                        height: implicitHeight
                        clip: true
                        interactive: count > page.lanRowsShown
                        boundsBehavior: Flickable.StopAtBounds
                        ScrollIndicator.vertical: ScrollIndicator {}

                        delegate: ItemDelegate {
                            id: lanRow
                            required property int index
                            required property string name
                            required property string address
                            required property int port
                            required property string url
                            required property bool registrationOpen
                        required property string fingerprint
                            readonly property bool picked: serverField.text.trim() === url

                            objectName: "lanServer_" + index
                            width: ListView.view.width
                            height: lanList.rowHeight
                            leftPadding: Theme.spacingM
                            rightPadding: Theme.spacingM
                            hoverEnabled: true
                            Accessible.name: name
                            Accessible.description: detailLabel.text
                            onClicked: page.pickServer(url, fingerprint)

                            background: Rectangle {
                                radius: Theme.radiusS
                                color: lanRow.picked ? Theme.selection : lanRow.hovered || lanRow.visualFocus ? Theme.hover : Theme.field
                                border.width: lanRow.picked || lanRow.visualFocus ? 1 : 0
                                border.color: Theme.accent
                            }
                            contentItem: RowLayout {
                                spacing: Theme.spacingM
                                Icon {
                                    name: "server"
                                    color: lanRow.picked ? Theme.accentFg : Theme.textMuted
                                    lineWidth: 1.6
                                }
                                ColumnLayout {
                                    Layout.fillWidth: true
                                    spacing: 0
                                    Label {
                                        Layout.fillWidth: true
                                        text: lanRow.name
                                        color: Theme.text
                                        font.pixelSize: Theme.fontBody
                                        font.weight: Font.DemiBold
                                        elide: Text.ElideRight
                                    }
                                    Label {
                                        id: detailLabel
                                        objectName: "lanServerDetail"
                                        Layout.fillWidth: true
                                        text: qsTr("%1 · %2").arg(lanRow.address.indexOf(":") >= 0 ? "[" + lanRow.address + "]:" + lanRow.port : lanRow.address + ":" + lanRow.port).arg(lanRow.registrationOpen ? qsTr("registration open") : qsTr("registration closed"))
                                        color: Theme.textMuted
                                        font.pixelSize: Theme.fontSmall
                                        elide: Text.ElideRight
                                    }
                                }
                                // The highlight says it alone where the row is narrow.
                                Icon {
                                    visible: lanRow.picked && lanRow.width >= 320
                                    name: "check"
                                    color: Theme.accentFg
                                    implicitWidth: 18
                                    implicitHeight: 18
                                }
                            }
                        }
                    }
                }

                FormField {
                    id: serverField
                    objectName: "serverField"
                    Layout.fillWidth: true
                    label: qsTr("Server")
                    placeholderText: "wss://chat.example.org:7400"
                    text: page.serverUrl
                    error: page.showProblem && page.problem.field === "server"
                    onAccepted: userField.field.forceActiveFocus()
                }
                FormField {
                    id: userField
                    objectName: "userField"
                    Layout.fillWidth: true
                    label: qsTr("User name")
                    text: page.username
                    error: page.showProblem && page.problem.field === "user"
                    onAccepted: passwordField.field.forceActiveFocus()
                }
                FormField {
                    id: passwordField
                    objectName: "passwordField"
                    Layout.fillWidth: true
                    label: qsTr("Password")
                    echoMode: TextInput.Password
                    error: page.showProblem && page.problem.field === "password"
                    onAccepted: page.registering ? confirmField.field.forceActiveFocus() : page.submit()
                }
                FormField {
                    id: confirmField
                    objectName: "confirmField"
                    Layout.fillWidth: true
                    visible: page.registering
                    label: qsTr("Repeat the password")
                    echoMode: TextInput.Password
                    error: page.showProblem && page.problem.field === "confirm"
                    onAccepted: page.submit()
                }

                Rectangle {
                    objectName: "loginError"
                    Layout.fillWidth: true
                    visible: page.shownError.length > 0
                    implicitHeight: errorLabel.implicitHeight + 2 * Theme.spacingS
                    radius: Theme.radiusS
                    color: Theme.dangerSurface
                    Label {
                        id: errorLabel
                        anchors.fill: parent
                        anchors.margins: Theme.spacingS
                        text: page.shownError
                        color: Theme.danger
                        font.pixelSize: Theme.fontSmall + 1
                        wrapMode: Text.Wrap
                    }
                }

                PrimaryButton {
                    objectName: "submitButton"
                    Layout.fillWidth: true
                    text: page.busy ? (page.registering ? qsTr("Creating account…") : qsTr("Connecting…")) : page.registering ? qsTr("Create account") : qsTr("Log in")
                    enabled: !page.busy
                    onClicked: page.submit()
                }
                PrimaryButton {
                    Layout.fillWidth: true
                    flat: true
                    text: page.registering ? qsTr("I have an account — log in") : qsTr("New here? Create an account")
                    enabled: !page.busy
                    onClicked: {
                        page.registering = !page.registering;
                        page.triedSubmit = false;
                        page.dismissedError = page.errorText;
                    }
                }
            }
        }
    }

    Component.onCompleted: (page.username.length > 0 ? passwordField : userField).field.forceActiveFocus()
}
