import QtQuick
import QtTest
import Kith.Login

// The trust prompt: the fingerprint as the admin printed it, the words to
// compare, and, when the key changed, a warning whose accept button stays off
// until the user says the admin confirmed the new key. Screenshots of both,
// wide and phone-sized, go to the test's working folder.
Item {
    id: root
    width: 800
    height: 700

    TrustPrompt {
        id: prompt
        anchors.fill: parent
        serverUrl: "wss://192.168.1.20:7400/"
        fingerprint: "E418 35DA 6C92 0C64 7823 85E8 40D6 3D41 746E 5F3C 6B6F C3E3 F618 5A08 0476 4CFB"
        words: "scarf badge budget rainbow elbow jelly ankle dinner"
    }
    SignalSpy {
        id: trustSpy
        target: prompt
        signalName: "trustAccepted"
    }
    SignalSpy {
        id: cancelSpy
        target: prompt
        signalName: "cancelled"
    }

    TestCase {
        name: "TrustPrompt"
        when: windowShown

        function init() {
            root.width = 800;
            root.height = 700;
            prompt.keyChanged = false;
            prompt.announcedFingerprint = "";
            trustSpy.clear();
            cancelSpy.clear();
        }

        function shoot(name) {
            waitForRendering(prompt);
            grabImage(prompt).save(name + ".png");
        }

        function test_firstUseShowsFingerprintAndAsksToCompare() {
            const explanation = findChild(prompt, "trustExplanation");
            verify(explanation.text.indexOf("Compare this with what your admin printed") >= 0);
            const shown = findChild(prompt, "trustFingerprint").text;
            compare(shown.split("\n").length, 4);
            compare(shown.replace(/\n/g, " "), prompt.fingerprint);
            compare(findChild(prompt, "trustWords").text, prompt.words);
            verify(!findChild(prompt, "trustConfirmChange").visible);
            shoot("trust_prompt_wide");
            mouseClick(findChild(prompt, "trustButton"));
            compare(trustSpy.count, 1);
            compare(trustSpy.signalArguments[0][0], prompt.fingerprint);
        }

        function test_changedKeyIsAWarningAndAcceptingIsDeliberate() {
            prompt.keyChanged = true;
            compare(findChild(prompt, "trustTitle").text, "This server's key changed");
            verify(findChild(prompt, "trustExplanation").text.indexOf("compare this with what your admin printed") >= 0);
            const accept = findChild(prompt, "trustButton");
            verify(!accept.enabled);
            mouseClick(accept);
            compare(trustSpy.count, 0);
            shoot("trust_prompt_changed_wide");
            root.width = 360;
            root.height = 640;
            const card = findChild(prompt, "trustCard");
            waitForRendering(prompt);
            verify(card.width <= 360);
            shoot("trust_prompt_changed_phone");
            mouseClick(findChild(prompt, "trustConfirmChange"));
            verify(accept.enabled);
            mouseClick(accept);
            compare(trustSpy.count, 1);
        }

        // Picked from the LAN: the announced key is mentioned, never trusted for the user.
        function test_announcedKeyIsMentionedOnly() {
            const note = findChild(prompt, "trustAnnounced");
            verify(!note.visible);
            prompt.announcedFingerprint = prompt.fingerprint.replace(/ /g, "").toLowerCase();
            compare(prompt.announced, "same");
            verify(note.visible);
            verify(findChild(prompt, "trustExplanation").text.indexOf("Compare this with what your admin printed") >= 0);
            compare(trustSpy.count, 0);

            prompt.announcedFingerprint = "0000" + prompt.fingerprint.replace(/ /g, "").substring(4);
            compare(prompt.announced, "different");
            verify(note.visible);
            verify(note.children[0].text.indexOf("different key (0000 35DA 6C92 0C64 …)") >= 0, note.children[0].text);
            shoot("trust_prompt_announced_different_wide");
            // Still the user's own decision.
            mouseClick(findChild(prompt, "trustButton"));
            compare(trustSpy.count, 1);
            compare(trustSpy.signalArguments[0][0], prompt.fingerprint);
        }

        function test_cancel() {
            mouseClick(findChild(prompt, "trustCancel"));
            compare(cancelSpy.count, 1);
            compare(trustSpy.count, 0);
        }
    }
}
