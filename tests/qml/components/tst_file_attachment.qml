import QtQuick
import QtTest
import Kith.Chat
import Kith.Theme

// Files in messages: an image takes its real aspect ratio once decoded, the
// sender's claim only until then (and a file that claims 50,000 × 50,000
// pixels is refused by the bounded decoder without harm); a file card shows
// each transfer state and offers what fits it; a failed upload is marked
// like a failed text, with Retry.
Item {
    id: root
    width: 800
    height: 600

    readonly property url wide: Qt.resolvedUrl("data/wide.png")
    readonly property url claimsHuge: Qt.resolvedUrl("data/claims-huge.png")
    readonly property url tone: Qt.resolvedUrl("data/tone.wav") // half a second

    Component {
        id: attachmentComponent
        FileAttachment {
            maxWidth: 320
            fileName: "holiday.png"
            fileSize: 516
            mime: "image/png"
        }
    }

    Component {
        id: delegateComponent
        MessageDelegate {
            width: root.width
            senderName: "Ann Lee"
            senderKey: "17"
            timeMs: new Date(2026, 10, 24, 9, 41).getTime()
            isFile: true
            fileName: "report.pdf"
            fileSize: 2400000
            fileMime: "application/pdf"
        }
    }

    TestCase {
        name: "FileAttachment"
        when: windowShown

        function watch(target, signalName) {
            const spy = createTemporaryQmlObject("import QtTest; SignalSpy {}", root);
            spy.target = target;
            spy.signalName = signalName;
            return spy;
        }

        // Separate clicks, not a double click.
        function clickAgain(item) {
            wait(Qt.styleHints.mouseDoubleClickInterval + 50);
            mouseClick(item);
        }

        function make(props) {
            const item = createTemporaryObject(attachmentComponent, root, props);
            verify(item);
            return item;
        }

        function test_imageTakesItsRealAspectOnceDecoded() {
            // The sender claimed a square; the file is 2:1.
            const item = make({ isImage: true, imageWidth: 300, imageHeight: 300, fileUrl: root.wide, fileState: FileAttachment.Ready });
            const full = findChild(item, "fullImage");
            tryCompare(full, "status", Image.Ready, 5000);
            compare(item.aspect, 2);
            compare(item.implicitWidth, 240); // its own width, under maxWidth
            compare(item.implicitHeight, 120);
            verify(!findChild(item, "imageOverlay").visible);
        }

        function test_claimedSizeShapesTheBoxUntilThen() {
            const item = make({ isImage: true, imageWidth: 1600, imageHeight: 900, fileState: FileAttachment.Remote });
            compare(item.implicitWidth, 320);
            compare(item.implicitHeight, 180);
            verify(findChild(item, "imageOverlay").visible);
            // A sliver is kept to 8:1, however thin it claims to be.
            const thin = make({ isImage: true, imageWidth: 16384, imageHeight: 1, fileState: FileAttachment.Remote });
            compare(thin.aspect, 8);
            compare(thin.implicitHeight, 40);
        }

        function test_imageClaimingFiftyThousandSquaredIsRefused() {
            const item = make({ isImage: true, imageWidth: 16384, imageHeight: 16384, fileUrl: root.claimsHuge, fileState: FileAttachment.Ready });
            const full = findChild(item, "fullImage");
            tryCompare(full, "status", Image.Error, 5000);
            // The box keeps the (clamped) claim and a sane size.
            compare(item.implicitWidth, 320);
            compare(item.implicitHeight, 320);
        }

        function test_smallImagesAreFetchedWhenShown() {
            const small = createTemporaryObject(attachmentComponent, root, { isImage: true, fileSize: 1000, autoFetchBytes: 10000, fileState: FileAttachment.Remote });
            const big = createTemporaryObject(attachmentComponent, root, { isImage: true, fileSize: 100000, autoFetchBytes: 10000, fileState: FileAttachment.Remote });
            const smallSpy = watch(small, "fetchRequested");
            small.maybeFetch();
            compare(smallSpy.count, 1);
            const bigSpy = watch(big, "fetchRequested");
            big.maybeFetch();
            compare(bigSpy.count, 0);
            // A tap on the big one fetches it.
            mouseClick(big);
            compare(bigSpy.count, 1);
        }

        function test_cardStates() {
            const card = make({ isImage: false, fileName: "report.pdf", fileSize: 2000000, mime: "application/pdf", fileState: FileAttachment.Uploading, progress: 0.5 });
            verify(findChild(card, "fileCard").visible);
            verify(!findChild(card, "imageFrame").visible);
            compare(findChild(card, "fileName").text, "report.pdf");
            verify(findChild(card, "fileSize").text.indexOf(Media.formatSize(1000000)) === 0, findChild(card, "fileSize").text);
            const button = findChild(card, "fileCardButton");
            compare(button.Accessible.name, "Cancel");
            verify(!findChild(card, "showInFolder").visible);

            const retried = watch(card, "retryRequested");
            card.fileState = FileAttachment.Failed;
            compare(button.Accessible.name, "Retry");
            verify(findChild(card, "fileSize").text.indexOf("Failed") === 0);
            mouseClick(button);
            compare(retried.count, 1);

            const opened = watch(card, "openRequested");
            card.fileState = FileAttachment.Ready;
            card.fileUrl = root.wide;
            verify(findChild(card, "showInFolder").visible);
            clickAgain(button);
            compare(opened.count, 1);

            const fetched = watch(card, "fetchRequested");
            card.fileUrl = "";
            card.fileState = FileAttachment.Remote;
            clickAgain(button);
            compare(fetched.count, 1);
            compare(retried.count, 1);
            compare(opened.count, 1);
        }

        // A long, hostile name stays on one line inside the card.
        function test_longNameIsElided() {
            const card = make({ isImage: false, fileName: "x".repeat(300) + ".pdf", fileState: FileAttachment.Remote });
            const name = findChild(card, "fileName");
            verify(card.implicitWidth <= 320);
            verify(name.truncated);
            compare(name.lineCount, 1);
        }

        // A voice note: the sender's duration until the file is here, then a
        // player (where the app has Qt Multimedia) that reads its own.
        function test_voiceNotePlaysInline() {
            const note = make({ isImage: false, isVoiceNote: true, mime: "audio/ogg", fileName: "voice.ogg", fileSize: 4044, durationMs: 41000, fileState: FileAttachment.Remote });
            verify(findChild(note, "audioCard").visible);
            verify(!findChild(note, "fileCard").visible);
            verify(!note.playable);
            verify(findChild(note, "audioTime").text.indexOf("0:41") === 0, findChild(note, "audioTime").text);
            verify(!findChild(note, "seekBar").enabled);
            // Voice notes are small: they come by themselves like images.
            const fetched = watch(note, "fetchRequested");
            note.autoFetchBytes = 10000;
            note.maybeFetch();
            compare(fetched.count, 1);

            note.fileUrl = root.tone;
            note.fileState = FileAttachment.Ready;
            verify(note.player !== null);
            if (!note.player.available) {
                // Built without Qt Multimedia: the file opens elsewhere.
                const opened = watch(note, "openRequested");
                mouseClick(findChild(note, "playButton"));
                compare(opened.count, 1);
                return;
            }
            verify(note.playable);
            verify(findChild(note, "seekBar").enabled);
            // The file's own length replaces the claim.
            tryVerify(() => note.player.duration > 0, 10000);
            verify(Math.abs(note.player.duration - 500) < 100, note.player.duration);
            compare(findChild(note, "audioTime").text, "0:01"); // 0.5 s rounds up
            compare(findChild(note, "playButton").Accessible.name, "Play");
        }

        function test_audioFileShowsItsName() {
            const item = make({ isImage: false, mime: "audio/mpeg", fileName: "song.mp3", fileSize: 3000000, fileState: FileAttachment.Remote });
            verify(findChild(item, "audioCard").visible);
            verify(!item.isVoiceNote);
            // Over the size fetched by itself: a click fetches it.
            const fetched = watch(item, "fetchRequested");
            item.autoFetchBytes = 10000;
            item.maybeFetch();
            compare(fetched.count, 0);
            mouseClick(findChild(item, "playButton"));
            compare(fetched.count, 1);
        }

        function test_failedUploadIsMarkedWithRetry() {
            const item = createTemporaryObject(delegateComponent, root, { own: true, status: "failed", fileState: FileAttachment.Failed });
            verify(item);
            verify(findChild(item, "failedRow").visible);
            verify(findChild(item, "attachment").visible);
            // No caption: no text line in the bubble.
            verify(!findChild(item, "body").visible);
            const retried = watch(item, "retryRequested");
            mouseClick(findChild(item, "retryLink"));
            compare(retried.count, 1);
        }

        // The menu of a file offers what fits its state.
        function test_fileMenu() {
            const remote = createTemporaryObject(delegateComponent, root, { fileState: FileAttachment.Remote });
            remote.openMenu(10, 10);
            const menu = remote.menu;
            tryCompare(menu, "opened", true);
            verify(findChild(menu, "downloadAction").visible);
            verify(!findChild(menu, "saveAsAction").visible);
            verify(!findChild(menu, "copyAction").visible); // no caption
            const fetched = watch(remote, "fileFetchRequested");
            findChild(menu, "downloadAction").triggered();
            compare(fetched.count, 1);
            menu.close();

            const here = createTemporaryObject(delegateComponent, root, { text: "the report", fileState: FileAttachment.Ready, fileUrl: root.wide });
            here.openMenu(10, 10);
            tryCompare(here.menu, "opened", true);
            verify(findChild(here.menu, "saveAsAction").visible);
            verify(findChild(here.menu, "showInFolderAction").visible);
            verify(findChild(here.menu, "copyAction").visible);
            verify(!findChild(here.menu, "downloadAction").visible);
            const saving = watch(here, "saveAsRequested");
            findChild(here.menu, "saveAsAction").triggered();
            compare(saving.count, 1);
            here.menu.close();
        }

        function test_captionGoesUnderTheImage() {
            const item = createTemporaryObject(delegateComponent, root, { own: false, text: "the beach", isImage: true, fileMime: "image/png", fileName: "beach.png", imageWidth: 240, imageHeight: 120, fileUrl: root.wide, fileState: FileAttachment.Ready });
            verify(item);
            const body = findChild(item, "body");
            verify(body.visible);
            const attachment = findChild(item, "attachment");
            tryCompare(findChild(attachment, "fullImage"), "status", Image.Ready, 5000);
            compare(body.width, attachment.width);
            const bubble = findChild(item, "bubble");
            verify(bubble.width >= attachment.width && bubble.width <= attachment.width + 2 * Theme.spacingS);
        }
    }
}
