import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// The composer's emoji picker: a search box (by name: "thumbs", "heart",
// "party"), the ones used lately first, then all of them, drawn in the colour
// emoji font. A pick stays open for the next one; Esc closes.
Popup {
    id: picker

    // The emoji used lately, most recent first.
    property var recent: []
    property string query
    readonly property var matches: {
        const needle = query.trim().toLowerCase();
        if (needle.length === 0)
            return all;
        return all.filter(e => e[1].indexOf(needle) >= 0);
    }

    signal picked(string emoji)

    // [emoji, words to find it by]
    readonly property var all: [
        ["😀", "grinning face smile happy"], ["😃", "smiley face happy"], ["😄", "smile face laugh happy"],
        ["😁", "grin beaming face"], ["😆", "laughing squinting face"], ["😅", "sweat smile face relief"],
        ["🤣", "rofl rolling floor laughing"], ["😂", "joy tears laughing face"], ["🙂", "slight smile face"],
        ["🙃", "upside down face"], ["😉", "wink face"], ["😊", "blush smiling eyes face"],
        ["😇", "innocent halo angel face"], ["🥰", "smiling hearts love face"], ["😍", "heart eyes love face"],
        ["🤩", "star struck eyes face"], ["😘", "kiss blowing face"], ["😋", "yum tongue delicious face"],
        ["😛", "tongue face"], ["😜", "wink tongue crazy face"], ["🤪", "zany crazy face"],
        ["🤗", "hug hugging face"], ["🤭", "hand over mouth giggle"], ["🤫", "shush quiet face"],
        ["🤔", "thinking hmm face"], ["🤐", "zipper mouth secret face"], ["🤨", "raised eyebrow doubt face"],
        ["😐", "neutral face meh"], ["😑", "expressionless face"], ["😶", "no mouth silent face"],
        ["😏", "smirk face"], ["😒", "unamused face"], ["🙄", "eye roll face"],
        ["😬", "grimace awkward face"], ["😌", "relieved face"], ["😔", "pensive sad face"],
        ["😪", "sleepy face"], ["😴", "sleeping zzz face"], ["😷", "mask sick face"],
        ["🤒", "thermometer ill sick face"], ["🤯", "mind blown exploding head"], ["🥳", "party partying face celebrate"],
        ["😎", "cool sunglasses face"], ["🤓", "nerd glasses face"], ["😕", "confused face"],
        ["😟", "worried face"], ["😮", "open mouth wow surprised face"], ["😲", "astonished shocked face"],
        ["😳", "flushed embarrassed face"], ["🥺", "pleading puppy eyes face"], ["😢", "cry tear sad face"],
        ["😭", "sob crying loudly face"], ["😱", "scream fear face"], ["😖", "confounded face"],
        ["😞", "disappointed face"], ["😩", "weary tired face"], ["🥱", "yawn bored face"],
        ["😤", "triumph huff steam face"], ["😡", "angry pout rage face"], ["🤬", "cursing swearing face"],
        ["😈", "devil smiling horns"], ["💀", "skull dead"], ["💩", "poop"],
        ["🤡", "clown face"], ["👻", "ghost"], ["👽", "alien"], ["🤖", "robot bot"],
        ["👋", "wave hello bye hand"], ["🤚", "raised back hand"], ["✋", "raised hand stop high five"],
        ["👌", "ok hand"], ["🤌", "pinched fingers"], ["✌️", "victory peace hand"],
        ["🤞", "crossed fingers luck"], ["🤟", "love you gesture"], ["🤘", "rock horns"],
        ["🤙", "call me hand"], ["👈", "point left"], ["👉", "point right"],
        ["👆", "point up"], ["👇", "point down"], ["☝️", "index up"],
        ["👍", "thumbs up yes like ok"], ["👎", "thumbs down no dislike"], ["✊", "raised fist"],
        ["👊", "fist bump punch"], ["👏", "clap applause hands"], ["🙌", "raising hands hooray celebrate"],
        ["👐", "open hands"], ["🤝", "handshake deal agree"], ["🙏", "pray please thanks folded hands"],
        ["💪", "muscle strong flex"], ["👀", "eyes look see"], ["🧠", "brain think"],
        ["❤️", "red heart love"], ["🧡", "orange heart"], ["💛", "yellow heart"],
        ["💚", "green heart"], ["💙", "blue heart"], ["💜", "purple heart"],
        ["🖤", "black heart"], ["🤍", "white heart"], ["💔", "broken heart"],
        ["💕", "two hearts love"], ["💯", "hundred points perfect"], ["💥", "collision boom"],
        ["💫", "dizzy"], ["💬", "speech bubble chat"], ["💤", "zzz sleep"],
        ["🔥", "fire hot lit"], ["✨", "sparkles shiny new"], ["⭐", "star"],
        ["🌟", "glowing star"], ["⚡", "lightning zap high voltage"], ["☀️", "sun sunny weather"],
        ["🌈", "rainbow"], ["☔", "umbrella rain"], ["❄️", "snowflake cold winter"],
        ["🎉", "party popper tada celebrate"], ["🎊", "confetti ball"], ["🎈", "balloon birthday"],
        ["🎁", "gift present"], ["🎂", "birthday cake"], ["🏆", "trophy win"],
        ["🥇", "gold medal first"], ["⚽", "soccer football"], ["🎮", "video game controller"],
        ["🎵", "music note"], ["🎧", "headphones music"], ["📷", "camera photo"],
        ["☕", "coffee hot beverage tea"], ["🍵", "tea cup"], ["🍺", "beer"],
        ["🍷", "wine glass"], ["🥂", "cheers clinking glasses toast"], ["🍕", "pizza"],
        ["🍔", "burger hamburger"], ["🍟", "fries"], ["🌮", "taco"],
        ["🍣", "sushi"], ["🍜", "ramen noodles"], ["🍰", "cake shortcake"],
        ["🍩", "doughnut donut"], ["🍪", "cookie"], ["🍎", "apple red"],
        ["🍌", "banana"], ["🥑", "avocado"], ["🌶️", "hot pepper chili"],
        ["🐶", "dog puppy"], ["🐱", "cat kitten"], ["🐭", "mouse"],
        ["🦊", "fox"], ["🐻", "bear"], ["🐼", "panda"],
        ["🐨", "koala"], ["🦁", "lion"], ["🐸", "frog"],
        ["🐵", "monkey"], ["🐔", "chicken"], ["🐧", "penguin"],
        ["🦄", "unicorn"], ["🐝", "bee"], ["🦋", "butterfly"],
        ["🐢", "turtle slow"], ["🐍", "snake python"], ["🐙", "octopus"],
        ["🌸", "cherry blossom flower"], ["🌹", "rose flower"], ["🌻", "sunflower"],
        ["🌱", "seedling plant grow"], ["🌲", "evergreen tree"], ["🍀", "four leaf clover luck"],
        ["🚀", "rocket launch ship"], ["✈️", "airplane flight travel"], ["🚗", "car"],
        ["🚲", "bicycle bike"], ["🏠", "house home"], ["🏢", "office building work"],
        ["⏰", "alarm clock time"], ["⌛", "hourglass wait"], ["📅", "calendar date"],
        ["📌", "pushpin pin"], ["📎", "paperclip attach"], ["✏️", "pencil write edit"],
        ["📝", "memo note"], ["📚", "books read"], ["💡", "light bulb idea"],
        ["💻", "laptop computer"], ["📱", "phone mobile"], ["🔒", "lock locked secure"],
        ["🔑", "key"], ["🔔", "bell notification"], ["📣", "megaphone announce"],
        ["✅", "check mark done yes"], ["❌", "cross mark no wrong"], ["⚠️", "warning caution"],
        ["❓", "question mark"], ["❗", "exclamation mark"], ["➕", "plus add"],
        ["🆗", "ok button"], ["🆕", "new button"], ["🐛", "bug insect"],
        ["🚧", "construction work in progress"], ["🛠️", "tools hammer wrench fix"], ["🏁", "chequered flag finish"]
    ]

    padding: Theme.spacingS
    width: Math.min(344, (parent ? parent.width : 344) - 2 * Theme.spacingS)
    height: 340
    modal: false
    focus: true
    closePolicy: Popup.CloseOnEscape | Popup.CloseOnPressOutsideParent

    onOpened: {
        query = "";
        search.text = "";
        search.forceActiveFocus();
    }

    background: Rectangle {
        radius: Theme.radiusM
        color: Theme.surface
        border.color: Theme.border
    }

    contentItem: ColumnLayout {
        spacing: Theme.spacingS

        SearchField {
            id: search
            objectName: "emojiSearch"
            Layout.fillWidth: true
            placeholderText: qsTr("Search emoji")
            onTextEdited: picker.query = text
            onAccepted: if (picker.matches.length > 0) picker.picked(picker.matches[0][0])
        }

        Flickable {
            id: flick
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            contentHeight: sections.implicitHeight
            boundsBehavior: Flickable.StopAtBounds
            ScrollBar.vertical: ScrollBar {}

            Column {
                id: sections
                width: flick.width
                spacing: Theme.spacingXs

                Label {
                    visible: recentGrid.visible
                    text: qsTr("Recently used")
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                }
                Flow {
                    id: recentGrid
                    objectName: "recentEmoji"
                    width: parent.width
                    visible: picker.query.trim().length === 0 && picker.recent.length > 0
                    Repeater {
                        model: recentGrid.visible ? picker.recent : []
                        delegate: emojiButton
                    }
                }
                Label {
                    visible: picker.query.trim().length === 0
                    text: qsTr("All")
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontSmall
                }
                Flow {
                    id: allGrid
                    objectName: "allEmoji"
                    width: parent.width
                    Repeater {
                        model: picker.matches.map(e => e[0])
                        delegate: emojiButton
                    }
                }
                Label {
                    objectName: "noEmoji"
                    visible: picker.matches.length === 0
                    text: qsTr("No emoji called “%1”").arg(picker.query.trim())
                    color: Theme.textMuted
                    font.pixelSize: Theme.fontBody
                }
            }
        }
    }

    Component {
        id: emojiButton
        AbstractButton {
            required property string modelData
            objectName: "emojiChoice"
            width: 36
            height: 36
            hoverEnabled: true
            focusPolicy: Qt.NoFocus
            Accessible.name: modelData
            contentItem: Text {
                text: parent.modelData
                font.family: MessageText.emojiFamily
                font.pixelSize: 22
                horizontalAlignment: Text.AlignHCenter
                verticalAlignment: Text.AlignVCenter
            }
            background: Rectangle {
                radius: Theme.radiusS
                color: parent.hovered ? Theme.hover : "transparent"
            }
            onClicked: picker.picked(modelData)
        }
    }
}
