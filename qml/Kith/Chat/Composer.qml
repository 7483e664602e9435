import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Dialogs
import QtQuick.Layouts
import Kith.Theme
import Kith.Chat

// The message box under a chat. Enter sends, Shift+Enter starts a new line
// (with ctrlEnterSends: Ctrl+Enter sends, Enter starts a new line), Esc
// cancels a reply. The draft is kept per conversation: switching away
// saves it to `draftStore` (anything with draft(id) and setDraft(id, text),
// e.g. the client facade), switching back restores it. The paper clip picks
// files and Ctrl+V of an image pastes it: both come out as filesChosen, for
// the preview before sending. Typing "@" in a group lists the members whose
// username starts with what follows; Enter, Tab or a click puts "@username ".
// While the message is empty the send button is a microphone (where the app
// has Qt Multimedia): a click records a voice note, a bar with the time takes
// the text field's place, Enter or Send sends it (voiceNoteRecorded), Esc or
// the bin drops it. Switching chats drops a recording under way.
Rectangle {
    id: composer

    property string conversationId
    property var draftStore: null
    // "Ctrl+Enter sends" (Enter starts a new line) instead of "Enter sends".
    property bool ctrlEnterSends: false
    // The message being replied to, if any (0: none).
    property int replyToSeq: 0
    // Editing an earlier message: the bar says so and Send saves the edit.
    property bool editing: false
    property string replySender
    property string replyText

    // False while a message could not be saved (a full disk): Enter then
    // keeps the text instead of sending it into nowhere.
    property bool canSend: true

    property alias text: input.text
    readonly property alias inputItem: input
    // Emoji used lately, most recent first (the picker shows them first).
    property var recentEmoji: []
    // The usernames "@" completes (the group's other members; none in a
    // direct chat).
    property var memberNames: []
    // What follows the "@" being typed before the cursor (null: none).
    readonly property var mentionQuery: {
        const before = input.text.slice(0, input.cursorPosition);
        const found = /(^|\s)@([A-Za-z0-9_.-]*)$/.exec(before);
        return found ? found[2] : null;
    }
    readonly property var mentionMatches: {
        if (mentionQuery === null || mentionDismissed)
            return [];
        const prefix = mentionQuery.toLowerCase();
        return memberNames.filter(name => name.toLowerCase().startsWith(prefix)).slice(0, 8);
    }
    property bool mentionDismissed: false
    property int mentionIndex: 0
    onMentionQueryChanged: {
        mentionIndex = 0;
        if (mentionQuery === null)
            mentionDismissed = false;
    }
    readonly property alias emojiPicker: emojiPopup

    // What records voice notes: the composer's own VoiceRecorder, or anything
    // with its properties and methods (tests give a scripted one).
    property var recorder: ownRecorder
    readonly property bool canRecord: recorder !== null && recorder.available
    // The recording bar shows instead of the text field.
    readonly property bool recording: recorder !== null && recorder.state !== VoiceRecorder.Idle
    // Send was asked for while the recording was being finished.
    property bool sendWhenFinished: false
    // A recording is finished: its file and length, to be sent.
    signal voiceNoteRecorded(url fileUrl, int durationMs)

    signal sendRequested(string text, int replyToSeq)
    signal typingChanged(bool typing)
    signal replyCancelled
    // PageUp/PageDown, and Ctrl+Home/Ctrl+End, scroll the chat above.
    signal scrollKeyPressed(int key)
    // File URLs picked, or an image pasted (saved as a PNG first).
    signal filesChosen(var urls)
    // An emoji put into the text from the picker.
    signal emojiUsed(string emoji)

    function insertEmoji(emoji) {
        input.insert(input.cursorPosition, emoji);
        emojiUsed(emoji);
    }

    function pasteImage() {
        if (!Media.clipboardHasImage())
            return false;
        const url = Media.saveClipboardImage();
        if (String(url).length === 0)
            return false;
        filesChosen([url]);
        return true;
    }

    // Without a store the drafts live here, for as long as the composer does.
    property var localDrafts: ({})
    property string loadedId
    property bool typingNow: false

    function saveDraft(id) {
        if (id.length === 0)
            return;
        if (draftStore)
            draftStore.setDraft(id, input.text);
        else
            localDrafts[id] = input.text;
    }

    function loadDraft(id) {
        if (id.length === 0)
            return "";
        if (draftStore)
            return draftStore.draft(id) || "";
        return localDrafts[id] || "";
    }

    function send() {
        const body = input.text.trim();
        if (body.length === 0 || !enabled || !canSend)
            return false;
        sendRequested(body, replyToSeq);
        input.clear();
        saveDraft(conversationId);
        setTyping(false);
        return true;
    }

    function setTyping(on) {
        if (typingNow === on)
            return;
        typingNow = on;
        typingChanged(on);
    }

    function focusInput() {
        input.forceActiveFocus();
    }

    function startRecording() {
        if (!canRecord || !enabled || !canSend || recording)
            return;
        sendWhenFinished = false;
        recorder.start();
        recordingBar.forceActiveFocus();
    }

    // Send: at once when finished (the cap was reached), else once it is.
    function sendRecording() {
        if (recorder.state === VoiceRecorder.Finished) {
            const url = recorder.fileUrl;
            const ms = recorder.elapsed;
            recorder.reset();
            voiceNoteRecorded(url, ms);
            input.forceActiveFocus();
        } else if (recorder.state === VoiceRecorder.Recording) {
            sendWhenFinished = true;
            recorder.finish();
        }
    }

    function cancelRecording() {
        sendWhenFinished = false;
        if (recorder.state === VoiceRecorder.Failed)
            recorder.reset();
        else
            recorder.cancel();
        input.forceActiveFocus();
    }

    function clock(ms) {
        const s = Math.max(0, Math.floor(ms / 1000));
        return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }

    VoiceRecorder {
        id: ownRecorder
    }

    Connections {
        target: composer.recorder
        function onStateChanged() {
            if (composer.recorder.state === VoiceRecorder.Finished && composer.sendWhenFinished) {
                composer.sendWhenFinished = false;
                composer.sendRecording();
            } else if (composer.recorder.state === VoiceRecorder.Failed) {
                composer.sendWhenFinished = false;
            }
        }
    }

    onConversationIdChanged: {
        if (recording)
            cancelRecording();
        saveTimer.stop();
        saveDraft(loadedId);
        setTyping(false);
        loadedId = conversationId;
        input.text = loadDraft(conversationId);
        input.cursorPosition = input.length;
    }
    Component.onDestruction: saveDraft(loadedId)

    implicitHeight: column.implicitHeight + 2 * Theme.spacingS
    color: Theme.window

    Rectangle {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.top: parent.top
        height: 1
        color: Theme.border
    }

    // Ctrl+O, as in other chat apps.
    // Puts "@username " in place of the "@" and what follows it.
    function completeMention(name) {
        const at = input.cursorPosition - mentionQuery.length - 1;
        input.remove(at, input.cursorPosition);
        input.insert(at, "@" + name + " ");
    }

    Rectangle {
        id: mentionList
        objectName: "mentionList"
        visible: composer.mentionMatches.length > 0
        x: Theme.spacingXl * 2
        y: -height - Theme.spacingXs
        z: 10
        width: Math.min(260, composer.width - x - Theme.spacingS)
        height: mentionColumn.implicitHeight + 2 * Theme.spacingXs
        radius: Theme.radiusS
        color: Theme.surface
        border.color: Theme.border

        Column {
            id: mentionColumn
            x: 0
            y: Theme.spacingXs
            width: parent.width
            Repeater {
                model: composer.mentionMatches
                delegate: ItemDelegate {
                    required property string modelData
                    required property int index
                    width: mentionColumn.width
                    highlighted: index === composer.mentionIndex
                    focusPolicy: Qt.NoFocus
                    contentItem: Label {
                        text: "@" + modelData
                        color: Theme.text
                        font.pixelSize: Theme.fontBody
                    }
                    background: Rectangle {
                        color: parent.highlighted ? Theme.selection : parent.hovered ? Theme.hover : "transparent"
                    }
                    onClicked: {
                        composer.completeMention(modelData);
                        input.forceActiveFocus();
                    }
                }
            }
        }
    }

    Shortcut {
        sequence: StandardKey.Open
        enabled: attachButton.enabled && composer.visible
        onActivated: fileDialog.open()
    }

    FileDialog {
        id: fileDialog
        objectName: "attachDialog"
        title: qsTr("Send files")
        fileMode: FileDialog.OpenFiles
        onAccepted: composer.filesChosen(selectedFiles)
    }

    EmojiPicker {
        id: emojiPopup
        objectName: "emojiPicker"
        x: Theme.spacingS
        y: -height - Theme.spacingXs
        recent: composer.recentEmoji
        onPicked: emoji => composer.insertEmoji(emoji)
        // Typing goes on in the message once the picker closes.
        onClosed: input.forceActiveFocus()
    }

    // Drafts are written a moment after typing pauses, so a crash loses little.
    Timer {
        id: saveTimer
        interval: 800
        onTriggered: composer.saveDraft(composer.loadedId)
    }
    // Typing stops counting a few seconds after the last key.
    Timer {
        id: typingTimer
        interval: 5000
        onTriggered: composer.setTyping(false)
    }

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.verticalCenter: parent.verticalCenter
        anchors.leftMargin: Theme.spacingM
        anchors.rightMargin: Theme.spacingM
        spacing: Theme.spacingS

        RowLayout {
            objectName: "replyBar"
            Layout.fillWidth: true
            visible: composer.replyToSeq > 0 || composer.editing
            spacing: Theme.spacingS

            Icon {
                name: composer.editing ? "compose" : "reply"
                color: Theme.accentFg
                width: 18
                height: 18
            }
            Rectangle {
                Layout.preferredWidth: 3
                Layout.fillHeight: true
                color: Theme.accentFg
                radius: 1.5
            }
            ColumnLayout {
                Layout.fillWidth: true
                spacing: 0
                Label {
                    Layout.fillWidth: true
                    text: composer.editing ? qsTr("Edit message") : qsTr("Reply to %1").arg(composer.replySender)
                    color: Theme.accentFg
                    font.pixelSize: Theme.fontSmall
                    font.weight: Font.DemiBold
                    elide: Text.ElideRight
                }
                Label {
                    Layout.fillWidth: true
                    text: composer.replyText.replace(/\s+/g, " ")
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                    elide: Text.ElideRight
                }
            }
            IconButton {
                iconName: "close"
                tip: composer.editing ? qsTr("Cancel edit (Esc)") : qsTr("Cancel reply (Esc)")
                width: 28
                height: 28
                onClicked: composer.replyCancelled()
            }
        }

        RowLayout {
            Layout.fillWidth: true
            spacing: Theme.spacingS

            IconButton {
                id: attachButton
                objectName: "attachButton"
                visible: !composer.recording
                Layout.alignment: Qt.AlignBottom
                Layout.bottomMargin: 2
                enabled: composer.enabled && composer.canSend
                iconName: "attach"
                tip: qsTr("Attach files (Ctrl+O)")
                onClicked: fileDialog.open()
            }

            IconButton {
                id: emojiButton
                objectName: "emojiButton"
                visible: !composer.recording
                Layout.alignment: Qt.AlignBottom
                Layout.bottomMargin: 2
                enabled: composer.enabled
                iconName: "smile"
                tip: qsTr("Emoji")
                tipSuppressed: emojiPopup.visible
                onClicked: emojiPopup.visible ? emojiPopup.close() : emojiPopup.open()
            }

            ScrollView {
                id: scroller
                visible: !composer.recording
                Layout.fillWidth: true
                Layout.preferredHeight: Math.min(input.implicitHeight, 160)
                ScrollBar.horizontal.policy: ScrollBar.AlwaysOff

                TextArea {
                    id: input
                    objectName: "composerInput"
                    enabled: composer.enabled
                    placeholderText: qsTr("Write a message…")
                    placeholderTextColor: Theme.placeholder
                    color: Theme.text
                    selectionColor: Theme.accent
                    selectedTextColor: Theme.accentText
                    font.pixelSize: Theme.fontBody
                    // Emoji in colour as they are typed (see MessageText.textFamily).
                    font.family: MessageText.textFamily.length > 0 ? MessageText.textFamily : Qt.application.font.family
                    wrapMode: TextEdit.Wrap
                    textFormat: TextEdit.PlainText
                    leftPadding: Theme.spacingM
                    rightPadding: Theme.spacingM
                    topPadding: 10
                    bottomPadding: 10
                    Accessible.name: qsTr("Message")
                    background: Rectangle {
                        radius: 20
                        color: Theme.field
                    }

                    onTextChanged: {
                        if (composer.loadedId !== composer.conversationId)
                            return;
                        saveTimer.restart();
                        if (text.length > 0) {
                            composer.setTyping(true);
                            typingTimer.restart();
                        } else {
                            composer.setTyping(false);
                        }
                    }

                    Keys.onPressed: event => {
                        if (event.matches(StandardKey.Paste) && composer.pasteImage()) {
                            event.accepted = true;
                            return;
                        }
                        if (composer.mentionMatches.length > 0) {
                            const count = composer.mentionMatches.length;
                            if (event.key === Qt.Key_Return || event.key === Qt.Key_Enter || event.key === Qt.Key_Tab) {
                                composer.completeMention(composer.mentionMatches[Math.min(composer.mentionIndex, count - 1)]);
                                event.accepted = true;
                                return;
                            }
                            if (event.key === Qt.Key_Up || event.key === Qt.Key_Down) {
                                composer.mentionIndex = (composer.mentionIndex + (event.key === Qt.Key_Down ? 1 : count - 1)) % count;
                                event.accepted = true;
                                return;
                            }
                            if (event.key === Qt.Key_Escape) {
                                composer.mentionDismissed = true;
                                event.accepted = true;
                                return;
                            }
                        }
                        const page = event.key === Qt.Key_PageUp || event.key === Qt.Key_PageDown;
                        const ends = (event.key === Qt.Key_Home || event.key === Qt.Key_End) && (event.modifiers & Qt.ControlModifier);
                        if (page || ends) {
                            composer.scrollKeyPressed(event.key);
                            event.accepted = true;
                            return;
                        }
                        if (event.key !== Qt.Key_Return && event.key !== Qt.Key_Enter) {
                            if (event.key === Qt.Key_Escape && (composer.replyToSeq > 0 || composer.editing)) {
                                composer.replyCancelled();
                                event.accepted = true;
                            }
                            return;
                        }
                        const ctrl = (event.modifiers & Qt.ControlModifier) !== 0;
                        const newLine = (event.modifiers & Qt.ShiftModifier) || (composer.ctrlEnterSends && !ctrl);
                        if (newLine)
                            input.insert(input.cursorPosition, "\n");
                        else
                            composer.send();
                        event.accepted = true;
                    }
                }
            }

            // Recording: a bin, a red dot, the time, and what is going on.
            FocusScope {
                id: recordingBar
                objectName: "recordingBar"
                visible: composer.recording
                Layout.fillWidth: true
                Layout.preferredHeight: 40
                Layout.alignment: Qt.AlignBottom
                Accessible.name: qsTr("Recording a voice note")

                Keys.onPressed: event => {
                    if (event.key === Qt.Key_Escape) {
                        composer.cancelRecording();
                        event.accepted = true;
                    } else if (event.key === Qt.Key_Return || event.key === Qt.Key_Enter) {
                        composer.sendRecording();
                        event.accepted = true;
                    }
                }

                Rectangle {
                    anchors.fill: parent
                    radius: 20
                    color: Theme.field
                }
                RowLayout {
                    anchors.fill: parent
                    anchors.leftMargin: Theme.spacingXs
                    anchors.rightMargin: Theme.spacingM
                    spacing: Theme.spacingS

                    IconButton {
                        objectName: "cancelRecording"
                        iconName: "trash"
                        iconColor: Theme.danger
                        tip: qsTr("Cancel (Esc)")
                        onClicked: composer.cancelRecording()
                    }
                    Rectangle {
                        id: recordingDot
                        objectName: "recordingDot"
                        visible: composer.recorder.state !== VoiceRecorder.Failed
                        Layout.preferredWidth: 10
                        Layout.preferredHeight: 10
                        radius: 5
                        color: Theme.dangerFill
                        SequentialAnimation on opacity {
                            running: composer.recorder.state === VoiceRecorder.Recording && recordingBar.visible
                            loops: Animation.Infinite
                            alwaysRunToEnd: true
                            NumberAnimation {
                                to: 0.25
                                duration: 600
                                easing.type: Easing.InOutSine
                            }
                            NumberAnimation {
                                to: 1
                                duration: 600
                                easing.type: Easing.InOutSine
                            }
                        }
                    }
                    Label {
                        objectName: "recordingTime"
                        visible: composer.recorder.state !== VoiceRecorder.Failed
                        text: composer.clock(composer.recorder.elapsed)
                        color: Theme.text
                        font.pixelSize: Theme.fontBody
                        // Wide enough for "00:00": the status beside it does not jitter.
                        Layout.preferredWidth: Math.max(implicitWidth, timeMetrics.advanceWidth)
                        TextMetrics {
                            id: timeMetrics
                            text: "00:00"
                            font.pixelSize: Theme.fontBody
                        }
                    }
                    // How loud the microphone is: five bars, lit from the
                    // left, so that a muted or wrong microphone shows at once.
                    Row {
                        id: levelMeter
                        objectName: "levelMeter"
                        readonly property real level: composer.recorder.level || 0
                        readonly property int lit: composer.recorder.state === VoiceRecorder.Recording ? Math.round(level * 5) : 0
                        visible: composer.recorder.state === VoiceRecorder.Recording
                        Layout.alignment: Qt.AlignVCenter
                        spacing: 2
                        Accessible.role: Accessible.ProgressBar
                        Accessible.name: qsTr("Microphone level")
                        Repeater {
                            model: 5
                            Rectangle {
                                required property int index
                                anchors.bottom: parent ? parent.bottom : undefined
                                width: 3
                                height: 6 + index * 3
                                radius: 1.5
                                color: index < levelMeter.lit ? Theme.accent : Theme.border
                            }
                        }
                    }
                    Label {
                        objectName: "recordingStatus"
                        Layout.fillWidth: true
                        text: {
                            switch (composer.recorder.state) {
                            case VoiceRecorder.Failed:
                                return composer.recorder.error;
                            case VoiceRecorder.Finished:
                                return composer.recorder.limitReached ? qsTr("Limit of %1 reached").arg(composer.clock(composer.recorder.maxDurationMs)) : "";
                            case VoiceRecorder.Stopping:
                                return composer.sendWhenFinished ? qsTr("Sending…") : "";
                            default:
                                return qsTr("Recording…");
                            }
                        }
                        color: composer.recorder.state === VoiceRecorder.Failed ? Theme.danger : Theme.textMuted
                        font.pixelSize: Theme.fontSmall
                        elide: Text.ElideRight
                    }
                }
            }

            AbstractButton {
                id: sendButton
                objectName: "sendButton"
                // The microphone takes its place while there is nothing to send.
                visible: !micButton.visible
                Layout.alignment: Qt.AlignBottom
                implicitWidth: 40
                implicitHeight: 40
                enabled: composer.recording ? composer.recorder.state === VoiceRecorder.Recording || composer.recorder.state === VoiceRecorder.Finished : composer.enabled && input.text.trim().length > 0
                Accessible.name: composer.recording ? qsTr("Send voice note") : qsTr("Send")
                focusPolicy: Qt.NoFocus
                onClicked: composer.recording ? composer.sendRecording() : composer.send()
                background: Rectangle {
                    radius: width / 2
                    color: sendButton.enabled ? (sendButton.pressed ? Theme.accentPressed : Theme.accent) : Theme.field
                }
                contentItem: Item {
                    Icon {
                        anchors.centerIn: parent
                        anchors.horizontalCenterOffset: -1
                        width: 20
                        height: 20
                        name: "send"
                        color: sendButton.enabled ? Theme.accentText : Theme.placeholder
                    }
                }
            }

            // Disabled without an input device; the tooltip says why, so it
            // hovers on the wrapper (a disabled button gets no hover).
            Item {
                id: micButton
                visible: composer.canRecord && !composer.recording && input.text.trim().length === 0 && !composer.editing
                Layout.alignment: Qt.AlignBottom
                implicitWidth: 40
                implicitHeight: 40
                readonly property bool usable: composer.enabled && composer.canSend && composer.recorder.hasInput
                HoverHandler {
                    id: micHover
                }
                ToolTip.visible: micHover.hovered
                ToolTip.delay: 600
                ToolTip.text: composer.recorder.hasInput ? qsTr("Record a voice note") : qsTr("No microphone found")
                AbstractButton {
                    objectName: "micButton"
                    anchors.fill: parent
                    enabled: micButton.usable
                    Accessible.name: micButton.ToolTip.text
                    focusPolicy: Qt.NoFocus
                    onClicked: composer.startRecording()
                    background: Rectangle {
                        radius: width / 2
                        color: parent.enabled ? (parent.pressed ? Theme.accentPressed : Theme.accent) : Theme.field
                    }
                    contentItem: Item {
                        Icon {
                            anchors.centerIn: parent
                            width: 20
                            height: 20
                            name: "mic"
                            color: micButton.usable ? Theme.accentText : Theme.placeholder
                        }
                    }
                }
            }
        }
    }
}
