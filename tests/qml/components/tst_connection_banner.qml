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

    TestCase {
        name: "ConnectionBanner"

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
            compare(banner.message, "Server not reachable at ws://10.0.0.5:7400/ — retrying in 4 s");
        }

        function test_offline() {
            compare(banner.message, "Offline — showing saved messages");
        }
    }
}
