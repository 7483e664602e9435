import QtQuick
import QtTest
import Kith.Conversations

// What the connection banner says in each state.
Item {
    width: 400
    height: 100

    ConnectionBanner {
        id: banner
        width: parent.width
    }

    SignalSpy {
        id: retrySpy
        target: banner
        signalName: "retryNowRequested"
    }

    TestCase {
        name: "ConnectionBanner"
        when: windowShown

        function init() {
            banner.online = false;
            banner.connecting = false;
            banner.nextRetryIn = 0;
            banner.lastError = "";
        }

        function test_hiddenWhenOnline() {
            banner.online = true;
            verify(!banner.visible);
            compare(banner.message, "");
        }

        function test_connecting() {
            banner.connecting = true;
            verify(banner.visible);
            compare(banner.message, "Connecting…");
        }

        function test_reconnectingCountsDown() {
            banner.nextRetryIn = 4;
            compare(banner.message, "Reconnecting in 4 s…");
            banner.lastError = "Server not reachable at ws://10.0.0.5:7400/";
            compare(banner.message, "Reconnecting in 4 s…");
            compare(banner.reason, "Server not reachable at ws://10.0.0.5:7400/");
        }

        // On a list pane's width a long reason never cuts off the countdown,
        // and "Retry now" asks for a reconnect.
        function test_countdownIsNeverCutOff() {
            banner.width = 320;
            banner.nextRetryIn = 12;
            banner.lastError = "Server not reachable at ws://kith.example.org:7400/: Connection refused by the remote host";
            const text = findChild(banner, "bannerText");
            waitForItemPolished(banner);
            // Laid out in a later frame on a busy machine: wait for the layout,
            // not for a fixed time.
            const retryButton = findChild(banner, "retryNow");
            tryVerify(() => text.visible && !text.truncated && text.lineCount === 1
                      && text.mapToItem(banner, text.width, 0).x
                         <= retryButton.mapToItem(banner, 0, 0).x, 5000,
                      "the countdown fits on one line left of Retry now");
            verify(findChild(banner, "bannerReason").visible);
            const retry = findChild(banner, "retryNow");
            verify(retry.visible);
            retrySpy.clear();
            mouseClick(retry);
            compare(retrySpy.count, 1);
            banner.width = 400;
        }

        function test_offline() {
            compare(banner.message, "Offline — showing saved messages");
        }
    }
}
