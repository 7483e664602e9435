import QtQuick

// The send state of one's own message, drawn: a clock while pending, one
// tick once the server has it, two ticks when a device of the recipient has
// it, two ticks in the read colour once read, a red "!" when refused.
Item {
    id: ticks

    // "pending", "sent", "delivered", "read", "failed"; "" draws nothing.
    property string status
    // On an own (accent) bubble, or on a plain surface (the conversation list).
    property bool onAccent: true
    readonly property int tickCount: status === "sent" ? 1 : status === "delivered" || status === "read" ? 2 : 0

    readonly property color tint: {
        if (status === "failed")
            return onAccent ? "#ffd0d0" : Theme.danger;
        if (status === "read")
            return onAccent ? Theme.readTickOnAccent : Theme.accentFg;
        return onAccent ? Theme.accentTextMuted : Theme.textMuted;
    }

    visible: status.length > 0
    implicitWidth: status === "delivered" || status === "read" ? 18 : 14
    implicitHeight: 14
    Accessible.name: status === "pending" ? qsTr("Sending") : status === "sent" ? qsTr("Sent") : status === "delivered" ? qsTr("Delivered") : status === "read" ? qsTr("Read") : status === "failed" ? qsTr("Not sent") : ""

    Icon {
        anchors.fill: parent
        name: ticks.status === "pending" ? "clock" : ticks.tickCount === 2 ? "ticks" : ticks.tickCount === 1 ? "check" : ""
        visible: name.length > 0
        color: ticks.tint
        lineWidth: ticks.status === "read" ? 2.6 : 2.2
    }
    Text {
        anchors.centerIn: parent
        visible: ticks.status === "failed"
        text: "!"
        color: ticks.tint
        font.pixelSize: 13
        font.weight: Font.Black
    }
}
