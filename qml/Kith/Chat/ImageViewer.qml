import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Dialogs
import Kith.Theme
import Kith.Chat

// An image over the whole window: fitted at first; the wheel, a pinch, +/-
// or the buttons zoom (drag to move), 0 fits again; Save keeps a copy where
// the user chooses; Esc or a click beside the image closes.
Popup {
    id: viewer

    property url fileUrl
    property string fileName
    property real zoom: 1
    readonly property real minZoom: 0.25
    readonly property real maxZoom: 8

    function show(url, name) {
        fileUrl = url;
        fileName = name;
        zoom = 1;
        open();
    }
    function zoomBy(factor) {
        zoom = Math.max(minZoom, Math.min(maxZoom, zoom * factor));
    }

    x: 0
    y: 0
    width: parent ? parent.width : 0
    height: parent ? parent.height : 0
    modal: true
    focus: true
    padding: 0
    closePolicy: Popup.CloseOnEscape
    background: Rectangle {
        color: Qt.rgba(0, 0, 0, 0.92)
    }

    contentItem: Item {
        focus: true
        Keys.onPressed: event => {
            if (event.key === Qt.Key_Plus || event.key === Qt.Key_Equal)
                viewer.zoomBy(1.25);
            else if (event.key === Qt.Key_Minus)
                viewer.zoomBy(0.8);
            else if (event.key === Qt.Key_0)
                viewer.zoom = 1;
            else
                return;
            event.accepted = true;
        }

        Flickable {
            id: flick
            anchors.fill: parent
            anchors.topMargin: 56
            contentWidth: Math.max(width, picture.paintedWidth * viewer.zoom)
            contentHeight: Math.max(height, picture.paintedHeight * viewer.zoom)
            clip: true
            boundsBehavior: Flickable.StopAtBounds

            MouseArea {
                // Beside the image: close.
                width: flick.contentWidth
                height: flick.contentHeight
                onClicked: viewer.close()
            }
            Image {
                id: picture
                objectName: "viewerImage"
                width: flick.width
                height: flick.height
                anchors.centerIn: parent
                scale: viewer.zoom
                source: viewer.opened || viewer.visible ? Media.imageSource(viewer.fileUrl) : ""
                // Decoded up to a size a screen can use, however large the file.
                sourceSize.width: 4096
                sourceSize.height: 4096
                fillMode: Image.PreserveAspectFit
                asynchronous: true
                smooth: true
                mipmap: true
            }
            WheelHandler {
                acceptedModifiers: Qt.NoModifier | Qt.ControlModifier
                onWheel: event => viewer.zoomBy(event.angleDelta.y > 0 ? 1.15 : 1 / 1.15)
            }
            PinchHandler {
                target: null
                onActiveScaleChanged: viewer.zoom = Math.max(viewer.minZoom, Math.min(viewer.maxZoom, activeScale))
            }
        }

        Text {
            anchors.centerIn: parent
            visible: picture.status === Image.Error
            text: qsTr("This image cannot be shown.")
            color: "white"
            font.pixelSize: Theme.fontBody
        }

        Row {
            id: bar
            anchors.top: parent.top
            anchors.left: parent.left
            anchors.right: parent.right
            anchors.margins: Theme.spacingS
            spacing: Theme.spacingXs
            layoutDirection: Qt.RightToLeft

            IconButton {
                objectName: "viewerClose"
                iconName: "close"
                iconColor: "white"
                tip: qsTr("Close (Esc)")
                onClicked: viewer.close()
            }
            IconButton {
                objectName: "viewerSave"
                iconName: "download"
                iconColor: "white"
                tip: qsTr("Save a copy…")
                onClicked: saveDialog.open()
            }
            IconButton {
                objectName: "viewerZoomIn"
                iconName: "zoom-in"
                iconColor: "white"
                tip: qsTr("Zoom in (+)")
                onClicked: viewer.zoomBy(1.25)
            }
            IconButton {
                objectName: "viewerZoomOut"
                iconName: "zoom-out"
                iconColor: "white"
                tip: qsTr("Zoom out (−)")
                onClicked: viewer.zoomBy(0.8)
            }
            Text {
                height: 36
                verticalAlignment: Text.AlignVCenter
                text: Math.round(viewer.zoom * 100) + " %"
                color: "white"
                font.pixelSize: Theme.fontSmall
                rightPadding: Theme.spacingS
            }
            Text {
                width: bar.width - 4 * 36 - 80
                height: 36
                verticalAlignment: Text.AlignVCenter
                horizontalAlignment: Text.AlignLeft
                leftPadding: Theme.spacingS
                text: viewer.fileName
                textFormat: Text.PlainText
                elide: Text.ElideMiddle
                color: "white"
                font.pixelSize: Theme.fontBody
            }
        }
    }

    FileDialog {
        id: saveDialog
        fileMode: FileDialog.SaveFile
        currentFile: "file:///" + viewer.fileName
        onAccepted: Media.saveCopy(viewer.fileUrl, selectedFile)
    }
}
