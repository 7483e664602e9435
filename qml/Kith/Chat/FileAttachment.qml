import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Shapes
import Kith.Theme
import Kith.Chat

// A file in a message: an image inline at its real aspect ratio, or a card
// (icon, name, size, progress ring, open / show in folder). The image shows
// the sender's thumbnail at once and the file itself once it is on this
// device; the size the sender claimed only shapes the box, and is kept within
// sane bounds here too. Voice notes and other audio play inline with a seek
// bar (where the app has Qt Multimedia; else they open elsewhere). Transfer
// states follow MessageListModel.FileState.
Item {
    id: attachment

    // MessageListModel.FileState, in its order.
    enum Transfer {
        NoFile,
        Remote,
        Queued,
        Uploading,
        Downloading,
        Paused,
        Failed,
        Ready
    }

    property string fileName
    property real fileSize: 0
    property string mime
    property bool isImage: false
    property int imageWidth: 0
    property int imageHeight: 0
    // The thumbnail's image source (Media.thumbnailSource), may be empty.
    property string thumbnailSource
    // The file on this device once it is there (a file: URL).
    property url fileUrl
    property int fileState: FileAttachment.Remote
    property real progress: 0
    property bool own: false
    property real maxWidth: 320
    // Images up to this size are fetched as soon as they are shown.
    property real autoFetchBytes: 0
    property bool isVoiceNote: false
    // The sender's word; the player's own reading replaces it once loaded.
    property int durationMs: 0
    readonly property bool isAudio: !isImage && (isVoiceNote || mime.indexOf("audio/") === 0)
    readonly property var player: playerLoader.item ? playerLoader.item.player : null
    readonly property bool playable: isAudio && ready && fileState === FileAttachment.Ready && player !== null && player.available

    signal fetchRequested
    signal openRequested
    signal viewRequested
    signal showInFolderRequested
    signal retryRequested
    signal cancelRequested

    readonly property bool transferring: fileState === FileAttachment.Queued || fileState === FileAttachment.Uploading || fileState === FileAttachment.Downloading
    readonly property bool ready: String(fileUrl).length > 0
    readonly property string sizeText: Media.formatSize(fileSize)
    readonly property string stateText: {
        switch (fileState) {
        case FileAttachment.Uploading:
        case FileAttachment.Downloading:
            return qsTr("%1 of %2").arg(Media.formatSize(fileSize * progress)).arg(sizeText);
        case FileAttachment.Queued:
            return qsTr("Waiting… · %1").arg(sizeText);
        case FileAttachment.Paused:
            return qsTr("Paused · %1").arg(sizeText);
        case FileAttachment.Failed:
            return qsTr("Failed · %1").arg(sizeText);
        default:
            return sizeText;
        }
    }

    // The box an image takes: its aspect ratio (the real one once loaded,
    // else the claimed one, else the thumbnail's), kept to 1:8..8:1, fitted
    // into maxWidth × maxImageHeight and never smaller than 96 px across.
    readonly property real maxImageHeight: 360
    readonly property real aspect: {
        let r = 4 / 3;
        if (full.status === Image.Ready && full.implicitHeight > 0)
            r = full.implicitWidth / full.implicitHeight;
        else if (imageWidth > 0 && imageHeight > 0)
            r = imageWidth / imageHeight;
        else if (thumb.status === Image.Ready && thumb.implicitHeight > 0)
            r = thumb.implicitWidth / thumb.implicitHeight;
        return Math.max(1 / 8, Math.min(8, r));
    }
    readonly property real boxWidth: {
        const natural = full.status === Image.Ready ? full.implicitWidth : imageWidth > 0 ? imageWidth : maxWidth;
        let w = Math.min(maxWidth, natural, maxImageHeight * aspect);
        return Math.max(96, Math.round(w));
    }

    implicitWidth: isImage ? boxWidth : isAudio ? Math.min(maxWidth, 280) : Math.min(maxWidth, Math.max(220, nameMetrics.advanceWidth + 44 + 36 + 3 * Theme.spacingM))
    implicitHeight: isImage ? Math.round(boxWidth / aspect) : isAudio ? audioCard.implicitHeight : card.implicitHeight

    function activate() {
        if (fileState === FileAttachment.Failed)
            retryRequested();
        else if (fileState === FileAttachment.Remote || fileState === FileAttachment.Paused)
            fetchRequested();
        else if (transferring)
            cancelRequested();
        else if (isImage && ready)
            viewRequested();
        else if (playable)
            player.toggle();
        else if (ready)
            openRequested();
    }

    // Small images come by themselves when shown.
    Component.onCompleted: maybeFetch()
    onFileStateChanged: maybeFetch()
    function maybeFetch() {
        if ((isImage || isAudio) && fileState === FileAttachment.Remote && fileSize > 0 && fileSize <= autoFetchBytes)
            fetchRequested();
    }

    TextMetrics {
        id: nameMetrics
        text: attachment.fileName
        font.pixelSize: Theme.fontBody
        font.weight: Font.DemiBold
    }

    component ProgressRing: Item {
        id: ring
        property real value: 0
        property color color: "white"
        property bool spinning: false
        implicitWidth: 40
        implicitHeight: 40
        Shape {
            anchors.fill: parent
            layer.enabled: true
            layer.samples: 4
            rotation: ring.spinning ? spin.angle : 0
            ShapePath {
                strokeColor: ring.color
                strokeWidth: 2.5
                fillColor: "transparent"
                capStyle: ShapePath.RoundCap
                PathAngleArc {
                    centerX: ring.width / 2
                    centerY: ring.height / 2
                    radiusX: ring.width / 2 - 2
                    radiusY: ring.height / 2 - 2
                    startAngle: -90
                    sweepAngle: ring.spinning ? 90 : Math.max(4, 360 * ring.value)
                }
            }
        }
        QtObject {
            id: spin
            property real angle: 0
        }
        NumberAnimation {
            target: spin
            property: "angle"
            from: 0
            to: 360
            duration: 1000
            loops: Animation.Infinite
            running: ring.spinning && ring.visible
        }
    }

    // An image: thumbnail, then the file.
    Rectangle {
        id: frame
        objectName: "imageFrame"
        visible: attachment.isImage
        anchors.fill: parent
        radius: Theme.bubbleRadius - 4
        color: Theme.pill
        clip: true

        Image {
            id: thumb
            objectName: "thumbnail"
            anchors.fill: parent
            source: attachment.isImage ? attachment.thumbnailSource : ""
            fillMode: Image.PreserveAspectCrop
            smooth: true
            asynchronous: true
            visible: full.status !== Image.Ready
        }
        Image {
            id: full
            objectName: "fullImage"
            anchors.fill: parent
            source: attachment.isImage && attachment.ready ? Media.imageSource(attachment.fileUrl) : ""
            // Decoded at the size shown (twice, for sharp high-DPI screens).
            sourceSize.width: 2 * attachment.maxWidth
            sourceSize.height: 2 * attachment.maxImageHeight
            fillMode: Image.PreserveAspectCrop
            asynchronous: true
            smooth: true
            opacity: status === Image.Ready ? 1 : 0
            Behavior on opacity {
                NumberAnimation {
                    duration: 150
                }
            }
        }
        // Neither the thumbnail nor the file could be shown: say what it is.
        Column {
            anchors.centerIn: parent
            visible: thumb.status !== Image.Ready && full.status !== Image.Ready && !overlay.visible
            spacing: 2
            Icon {
                anchors.horizontalCenter: parent.horizontalCenter
                name: "file"
                color: Theme.textMuted
            }
            Text {
                width: Math.min(implicitWidth, frame.width - 16)
                text: attachment.fileName
                color: Theme.textMuted
                font.pixelSize: Theme.fontTiny
                elide: Text.ElideMiddle
            }
        }
        MouseArea {
            anchors.fill: parent
            cursorShape: Qt.PointingHandCursor
            onClicked: attachment.activate()
        }

        // Progress, a retry or a fetch button over the image.
        Rectangle {
            id: overlay
            objectName: "imageOverlay"
            visible: attachment.transferring || attachment.fileState === FileAttachment.Failed || attachment.fileState === FileAttachment.Paused || (attachment.fileState === FileAttachment.Remote && !attachment.ready)
            anchors.centerIn: parent
            width: 48
            height: 48
            radius: 24
            color: Qt.rgba(0, 0, 0, 0.5)
            ProgressRing {
                anchors.centerIn: parent
                visible: attachment.transferring
                value: attachment.progress
                spinning: attachment.fileState === FileAttachment.Queued
            }
            Icon {
                anchors.centerIn: parent
                width: 20
                height: 20
                color: "white"
                name: attachment.fileState === FileAttachment.Failed ? "retry" : attachment.transferring ? "close" : "download"
            }
        }
        Rectangle {
            visible: attachment.fileState === FileAttachment.Remote || attachment.transferring || attachment.fileState === FileAttachment.Failed
            anchors.left: parent.left
            anchors.top: parent.top
            anchors.margins: Theme.spacingS
            width: sizeLabel.implicitWidth + 2 * Theme.spacingS
            height: sizeLabel.implicitHeight + 4
            radius: height / 2
            color: Qt.rgba(0, 0, 0, 0.5)
            Text {
                id: sizeLabel
                anchors.centerIn: parent
                text: attachment.stateText
                color: "white"
                font.pixelSize: Theme.fontTiny
            }
        }
    }

    function clock(ms) {
        const s = Math.max(0, Math.round(ms / 1000));
        return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }

    Loader {
        id: playerLoader
        active: attachment.isAudio
        sourceComponent: Item {
            property alias player: voice
            VoicePlayer {
                id: voice
                source: attachment.fileState === FileAttachment.Ready ? attachment.fileUrl : ""
            }
        }
    }

    // Audio: play / pause, a seek bar and the time.
    Row {
        id: audioCard
        objectName: "audioCard"
        visible: attachment.isAudio
        spacing: Theme.spacingM
        width: attachment.width

        AbstractButton {
            id: playButton
            objectName: "playButton"
            width: 44
            height: 44
            Accessible.name: attachment.playable ? (attachment.player.playing ? qsTr("Pause") : qsTr("Play")) : cardButton.Accessible.name
            onClicked: attachment.activate()
            background: Rectangle {
                radius: width / 2
                color: attachment.own ? Qt.rgba(1, 1, 1, playButton.hovered ? 0.28 : 0.2) : (playButton.hovered ? Theme.accentPressed : Theme.accent)
            }
            contentItem: Item {
                ProgressRing {
                    anchors.fill: parent
                    anchors.margins: 2
                    visible: attachment.transferring
                    value: attachment.progress
                    spinning: attachment.fileState === FileAttachment.Queued
                }
                Icon {
                    anchors.centerIn: parent
                    anchors.horizontalCenterOffset: name === "play" ? 1 : 0
                    width: 20
                    height: 20
                    color: "white"
                    name: attachment.fileState === FileAttachment.Failed ? "retry" : attachment.transferring ? "close" : attachment.playable ? (attachment.player.playing ? "pause" : "play") : attachment.ready ? "open" : "download"
                }
            }
        }
        Column {
            anchors.verticalCenter: parent.verticalCenter
            width: audioCard.width - playButton.width - audioCard.spacing
            spacing: 0
            Text {
                visible: !attachment.isVoiceNote
                width: parent.width
                text: attachment.fileName
                color: attachment.own ? Theme.accentText : Theme.text
                font.pixelSize: Theme.fontSmall
                font.weight: Font.DemiBold
                elide: Text.ElideMiddle
                textFormat: Text.PlainText
            }
            Slider {
                id: seekBar
                objectName: "seekBar"
                width: parent.width
                height: 20
                padding: 0
                enabled: attachment.playable
                from: 0
                to: Math.max(1, attachment.player && attachment.player.duration > 0 ? attachment.player.duration : attachment.durationMs)
                value: attachment.player ? attachment.player.position : 0
                onMoved: if (attachment.player) attachment.player.seek(value)
                Accessible.name: qsTr("Position")
                background: Rectangle {
                    x: seekBar.leftPadding
                    y: seekBar.topPadding + seekBar.availableHeight / 2 - height / 2
                    width: seekBar.availableWidth
                    height: 4
                    radius: 2
                    color: attachment.own ? Qt.rgba(1, 1, 1, 0.3) : Theme.pill
                    Rectangle {
                        width: seekBar.visualPosition * parent.width
                        height: parent.height
                        radius: 2
                        color: attachment.own ? Theme.accentText : Theme.accentFg
                    }
                }
                handle: Rectangle {
                    x: seekBar.leftPadding + seekBar.visualPosition * (seekBar.availableWidth - width)
                    y: seekBar.topPadding + seekBar.availableHeight / 2 - height / 2
                    width: 12
                    height: 12
                    radius: 6
                    visible: seekBar.enabled
                    color: attachment.own ? Theme.accentText : Theme.accentFg
                }
            }
            Text {
                objectName: "audioTime"
                width: parent.width
                text: {
                    const total = attachment.player && attachment.player.duration > 0 ? attachment.player.duration : attachment.durationMs;
                    if (!attachment.playable)
                        return total > 0 ? attachment.clock(total) + " · " + attachment.stateText : attachment.stateText;
                    if (attachment.player.playing || attachment.player.position > 0)
                        return attachment.clock(attachment.player.position) + " / " + attachment.clock(total);
                    return attachment.clock(total);
                }
                color: attachment.own ? Theme.accentTextMuted : Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
        }
    }

    // Any other file: a card.
    Row {
        id: card
        objectName: "fileCard"
        visible: !attachment.isImage && !attachment.isAudio
        spacing: Theme.spacingM
        width: attachment.width

        AbstractButton {
            id: cardButton
            objectName: "fileCardButton"
            width: 44
            height: 44
            Accessible.name: attachment.fileState === FileAttachment.Failed ? qsTr("Retry") : attachment.transferring ? qsTr("Cancel") : attachment.ready ? qsTr("Open %1").arg(attachment.fileName) : qsTr("Download %1").arg(attachment.fileName)
            onClicked: attachment.activate()
            background: Rectangle {
                radius: width / 2
                color: attachment.own ? Qt.rgba(1, 1, 1, cardButton.hovered ? 0.28 : 0.2) : (cardButton.hovered ? Theme.accentPressed : Theme.accent)
            }
            contentItem: Item {
                ProgressRing {
                    anchors.fill: parent
                    anchors.margins: 2
                    visible: attachment.transferring
                    value: attachment.progress
                    spinning: attachment.fileState === FileAttachment.Queued
                }
                Icon {
                    anchors.centerIn: parent
                    width: 20
                    height: 20
                    color: "white"
                    name: attachment.fileState === FileAttachment.Failed ? "retry" : attachment.transferring ? "close" : attachment.ready ? "file" : "download"
                }
            }
        }
        Column {
            anchors.verticalCenter: parent.verticalCenter
            width: card.width - cardButton.width - card.spacing - (folderButton.visible ? folderButton.width + card.spacing : 0)
            spacing: 2
            Text {
                objectName: "fileName"
                width: parent.width
                text: attachment.fileName
                color: attachment.own ? Theme.accentText : Theme.text
                font.pixelSize: Theme.fontBody
                font.weight: Font.DemiBold
                elide: Text.ElideMiddle
                textFormat: Text.PlainText
            }
            Text {
                objectName: "fileSize"
                width: parent.width
                text: attachment.stateText
                color: attachment.fileState === FileAttachment.Failed ? (attachment.own ? Theme.accentText : Theme.danger) : attachment.own ? Theme.accentTextMuted : Theme.textMuted
                font.pixelSize: Theme.fontSmall
                elide: Text.ElideRight
            }
        }
        IconButton {
            id: folderButton
            objectName: "showInFolder"
            visible: attachment.ready && attachment.fileState === FileAttachment.Ready
            anchors.verticalCenter: parent.verticalCenter
            iconName: "folder"
            iconColor: attachment.own ? Theme.accentText : Theme.textMuted
            tip: qsTr("Show in folder")
            onClicked: attachment.showInFolderRequested()
        }
    }
}
