import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme
import Kith.Chat

// Before files go: what was picked, dropped or pasted, with a caption.
// Images show as they will be seen; other files by name and size. Enter
// sends, Esc cancels; files that are not there any more are left out.
Sheet {
    id: sheet

    // Media.describe() of each file: {name, size, url, isImage, width, height}.
    property var files: []
    readonly property alias caption: captionField.text

    signal sendRequested(var urls, string caption)

    function openWith(urls) {
        const list = [];
        for (let i = 0; i < urls.length; ++i) {
            const d = Media.describe(urls[i]);
            if (d.url)
                list.push(d);
        }
        if (list.length === 0)
            return false;
        files = list;
        captionField.text = "";
        open();
        return true;
    }

    function send() {
        if (files.length === 0)
            return;
        sendRequested(files.map(f => f.url), captionField.text.trim());
        close();
    }

    function removeAt(i) {
        const list = files.slice();
        list.splice(i, 1);
        files = list;
        if (list.length === 0)
            close();
    }

    // As tall as what it shows, up to the window.
    height: fullScreen ? parent.height : Math.min(parent.height - 2 * Theme.spacingXl, Theme.headerHeight + list.contentHeight + 40 + 40 + 2 * Theme.spacingM + 2 * Theme.spacingL + 8)
    title: files.length === 1 ? (files[0].isImage ? qsTr("Send an image") : qsTr("Send a file")) : qsTr("Send %n files", "", files.length)
    onOpened: captionField.forceActiveFocus()

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacingL
        spacing: Theme.spacingM

        ListView {
            id: list
            objectName: "sendFilesList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredHeight: contentHeight
            clip: true
            spacing: Theme.spacingS
            model: sheet.files
            delegate: Item {
                id: entry
                required property var modelData
                required property int index
                width: ListView.view.width
                height: modelData.isImage ? Math.min(280, Math.max(96, width * modelData.height / Math.max(1, modelData.width))) : 56

                Rectangle {
                    anchors.fill: parent
                    radius: Theme.radiusS
                    color: Theme.field
                    clip: true

                    Image {
                        objectName: "previewImage"
                        visible: entry.modelData.isImage
                        anchors.fill: parent
                        source: entry.modelData.isImage ? Media.imageSource(entry.modelData.url) : ""
                        sourceSize.width: 2 * entry.width
                        sourceSize.height: 2 * entry.height
                        fillMode: Image.PreserveAspectFit
                        asynchronous: true
                    }
                    RowLayout {
                        visible: !entry.modelData.isImage
                        anchors.fill: parent
                        anchors.leftMargin: Theme.spacingM
                        anchors.rightMargin: 44
                        spacing: Theme.spacingM
                        Rectangle {
                            Layout.preferredWidth: 36
                            Layout.preferredHeight: 36
                            radius: 18
                            color: Theme.accent
                            Icon {
                                anchors.centerIn: parent
                                name: "file"
                                color: Theme.accentText
                            }
                        }
                        ColumnLayout {
                            Layout.fillWidth: true
                            spacing: 0
                            Label {
                                Layout.fillWidth: true
                                text: entry.modelData.name
                                textFormat: Text.PlainText
                                elide: Text.ElideMiddle
                                color: Theme.text
                                font.pixelSize: Theme.fontBody
                                font.weight: Font.DemiBold
                            }
                            Label {
                                text: Media.formatSize(entry.modelData.size)
                                color: Theme.textMuted
                                font.pixelSize: Theme.fontSmall
                            }
                        }
                    }
                    IconButton {
                        objectName: "removeFile"
                        visible: sheet.files.length > 1
                        anchors.right: parent.right
                        anchors.top: parent.top
                        anchors.margins: Theme.spacingXs
                        iconName: "close"
                        tip: qsTr("Leave this one out")
                        onClicked: sheet.removeAt(entry.index)
                    }
                }
            }
        }

        TextField {
            id: captionField
            objectName: "captionField"
            Layout.fillWidth: true
            placeholderText: qsTr("Add a caption…")
            placeholderTextColor: Theme.placeholder
            color: Theme.text
            font.pixelSize: Theme.fontBody
            leftPadding: Theme.spacingM
            rightPadding: Theme.spacingM
            topPadding: 10
            bottomPadding: 10
            background: Rectangle {
                radius: 20
                color: Theme.field
            }
            Keys.onReturnPressed: sheet.send()
            Keys.onEnterPressed: sheet.send()
        }

        RowLayout {
            Layout.fillWidth: true
            spacing: Theme.spacingS
            Item {
                Layout.fillWidth: true
            }
            PrimaryButton {
                flat: true
                text: qsTr("Cancel")
                onClicked: sheet.close()
            }
            PrimaryButton {
                objectName: "sendFilesButton"
                text: qsTr("Send")
                onClicked: sheet.send()
            }
        }
    }
}
