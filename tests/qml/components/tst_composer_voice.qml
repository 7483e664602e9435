import QtQuick
import QtTest
import Kith.Chat

// The composer's voice notes with a scripted recorder: the microphone stands
// where Send is while the message is empty (disabled, saying why, without an
// input device; absent without Qt Multimedia), a click records and the bar
// with the time replaces the text field, Enter or Send sends once the file is
// finished, Esc or the bin drops it, the cap leaves it to be sent, a failure
// shows its sentence, switching chats drops it.
Item {
    id: root
    width: 600
    height: 200

    // Stands in for VoiceRecorder: the same properties and methods.
    QtObject {
        id: fake
        property bool available: true
        property bool hasInput: true
        property int state: VoiceRecorder.Idle
        property real elapsed: 0
        property real level: 0
        property real maxDurationMs: 15 * 60 * 1000
        property bool limitReached: false
        property url fileUrl
        property string error
        property var calls: []
        // finish() completes at once unless told to wait.
        property bool finishLater: false

        function start() {
            calls.push("start");
            elapsed = 0;
            state = VoiceRecorder.Recording;
            return true;
        }
        function finish() {
            calls.push("finish");
            state = VoiceRecorder.Stopping;
            if (!finishLater)
                complete();
        }
        function complete() {
            fileUrl = "file:///tmp/Voice note.m4a";
            state = VoiceRecorder.Finished;
        }
        function cancel() {
            calls.push("cancel");
            state = VoiceRecorder.Idle;
        }
        function reset() {
            calls.push("reset");
            state = VoiceRecorder.Idle;
        }
    }

    Composer {
        id: composer
        width: parent.width
        conversationId: "d:1:2"
        recorder: fake
    }

    SignalSpy {
        id: voiceSpy
        target: composer
        signalName: "voiceNoteRecorded"
    }

    TestCase {
        name: "ComposerVoice"
        when: windowShown

        function item(name) {
            return findChild(composer, name);
        }

        // The bar is laid out before anything on it is clicked.
        function record() {
            mouseClick(item("micButton"));
            waitForRendering(composer);
        }

        function init() {
            fake.available = true;
            fake.hasInput = true;
            fake.state = VoiceRecorder.Idle;
            fake.elapsed = 0;
            fake.level = 0;
            fake.limitReached = false;
            fake.error = "";
            fake.calls = [];
            fake.finishLater = false;
            composer.conversationId = "d:1:2";
            composer.text = "";
            voiceSpy.clear();
            composer.focusInput();
        }

        function test_micStandsWhereSendIsWhileEmpty() {
            const mic = item("micButton");
            const send = item("sendButton");
            verify(mic.visible);
            verify(mic.enabled);
            verify(!send.visible);
            composer.text = "hello";
            verify(!mic.visible);
            verify(send.visible);
            composer.text = "   ";
            verify(mic.visible);
        }

        function test_noInputDeviceDisablesAndSaysWhy() {
            fake.hasInput = false;
            const mic = item("micButton");
            verify(mic.visible);
            verify(!mic.enabled);
            compare(mic.Accessible.name, "No microphone found");
            mouseClick(mic);
            compare(fake.calls.length, 0);
            fake.hasInput = true;
            verify(mic.enabled);
        }

        function test_noMicrophoneWithoutMultimedia() {
            fake.available = false;
            verify(!item("micButton").visible);
            verify(item("sendButton").visible);
            verify(!item("sendButton").enabled);
        }

        function test_recordAndSendWithEnter() {
            record();
            compare(fake.calls, ["start"]);
            const bar = item("recordingBar");
            verify(bar.visible);
            verify(!item("composerInput").visible);
            verify(!item("attachButton").visible);
            verify(bar.activeFocus);
            fake.elapsed = 65400;
            compare(item("recordingTime").text, "1:05");
            compare(item("recordingStatus").text, "Recording…");
            // Send stands where the microphone was.
            verify(item("sendButton").visible);
            verify(item("sendButton").enabled);

            keyClick(Qt.Key_Return);
            compare(fake.calls, ["start", "finish", "reset"]);
            compare(voiceSpy.count, 1);
            compare(String(voiceSpy.signalArguments[0][0]), "file:///tmp/Voice note.m4a");
            compare(voiceSpy.signalArguments[0][1], 65400);
            verify(!bar.visible);
            verify(item("composerInput").visible);
            verify(composer.inputItem.activeFocus);
        }

        // The meter lights as many of its five bars as the input is loud,
        // and only while recording.
        function test_levelMeterFollowsTheInput() {
            record();
            const meter = item("levelMeter");
            verify(meter.visible);
            const lit = () => meter.lit;
            compare(lit(), 0);
            fake.level = 0.62;
            compare(lit(), 3);
            fake.level = 1;
            compare(lit(), 5);
            fake.level = 0.05;
            compare(lit(), 0);
            fake.level = 0.9;
            fake.finishLater = true;
            fake.finish();
            verify(!meter.visible);
            compare(lit(), 0);
            fake.complete();
            fake.level = 0;
            fake.finishLater = false;
            composer.cancelRecording();
        }

        function test_sendButtonWaitsForTheFile() {
            fake.finishLater = true;
            record();
            fake.elapsed = 3000;
            mouseClick(item("sendButton"));
            compare(fake.state, VoiceRecorder.Stopping);
            compare(voiceSpy.count, 0);
            compare(item("recordingStatus").text, "Sending…");
            fake.complete();
            compare(voiceSpy.count, 1);
            compare(voiceSpy.signalArguments[0][1], 3000);
            compare(fake.state, VoiceRecorder.Idle);
        }

        function test_escapeAndBinDrop() {
            record();
            keyClick(Qt.Key_Escape);
            compare(fake.calls, ["start", "cancel"]);
            verify(!item("recordingBar").visible);
            record();
            mouseClick(item("cancelRecording"));
            compare(fake.calls, ["start", "cancel", "start", "cancel"]);
            compare(voiceSpy.count, 0);
        }

        function test_capLeavesItToBeSent() {
            record();
            fake.elapsed = fake.maxDurationMs;
            fake.limitReached = true;
            fake.complete();
            compare(voiceSpy.count, 0);
            verify(item("recordingBar").visible);
            compare(item("recordingStatus").text, "Limit of 15:00 reached");
            compare(item("recordingTime").text, "15:00");
            mouseClick(item("sendButton"));
            compare(voiceSpy.count, 1);
            compare(voiceSpy.signalArguments[0][1], 15 * 60 * 1000);
        }

        function test_failureIsShownInPlace() {
            record();
            fake.error = "The microphone could not be recorded.";
            fake.state = VoiceRecorder.Failed;
            verify(item("recordingBar").visible);
            compare(item("recordingStatus").text, "The microphone could not be recorded.");
            verify(!item("recordingDot").visible);
            verify(!item("sendButton").enabled);
            keyClick(Qt.Key_Escape);
            compare(fake.calls, ["start", "reset"]);
            verify(!item("recordingBar").visible);
        }

        function test_switchingChatsDropsIt() {
            record();
            composer.conversationId = "d:1:3";
            compare(fake.calls, ["start", "cancel"]);
            verify(!item("recordingBar").visible);
        }
    }
}
