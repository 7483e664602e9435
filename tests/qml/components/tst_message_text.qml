import QtQuick
import QtTest
import Kith.Theme

// How a message's text becomes markup: links found and made anchors,
// whatever the sender typed stays text, emoji go to the colour font, search
// words are marked, long links may wrap but never after "https:".
TestCase {
    name: "MessageText"

    function test_linksAreFoundAsTheyOpen() {
        compare(MessageText.links("see https://example.com/a/b?x=1."), ["https://example.com/a/b?x=1"]);
        compare(MessageText.links("(https://kith.example.org/docs)"), ["https://kith.example.org/docs"]);
        compare(MessageText.links("www.example.com/x, please"), ["http://www.example.com/x"]);
        compare(MessageText.links("write to ann.lee@example.org!"), ["mailto:ann.lee@example.org"]);
        compare(MessageText.links("no link here, just 3.14"), []);
    }

    function test_markupEscapesAndLinks() {
        const m = MessageText.markup("<b>bold?</b> & https://example.com/?a=1&b=2", "#2560c0");
        verify(m.indexOf("&lt;b&gt;bold?&lt;/b&gt; &amp; ") === 0, m);
        verify(m.indexOf("<a href=\"https://example.com/?a=1&amp;b=2\">") > 0, m);
        verify(m.indexOf("#2560c0") > 0, m);
        verify(m.indexOf("<u>") > 0, m);
        const lines = MessageText.markup("one\ntwo  three", "#000000");
        compare(lines, "one<br>two &nbsp;three");
    }

    // A long link breaks after its separators, never inside "https://".
    function test_longLinksWrapSensibly() {
        const m = MessageText.markup("https://example.com/very/long/path", "#000000");
        verify(m.indexOf("h\u2060t\u2060t\u2060p\u2060s\u2060:\u2060/\u2060/\u2060example") > 0, m);
        verify(m.indexOf("\u200bexample") < 0, m);
        verify(m.indexOf("very/\u200blong/\u200bpath") > 0, m);
        // ...and the link it opens has none of the breaks.
        verify(m.indexOf("href=\"https://example.com/very/long/path\"") > 0, m);
    }

    // A mention is bold in the colour given, only over its place; without a
    // colour, or with places outside the text, nothing breaks.
    function test_mentionsAreMarked() {
        const text = "hi @ann & @bob!";
        const m = MessageText.markup(text, "#000000", "", "", 0, [{ start: 3, length: 4 }, { start: 10, length: 4 }], "#123456");
        compare(m, "hi <font color=\"#123456\"><b>@ann</b></font> &amp; <font color=\"#123456\"><b>@bob</b></font>!");
        compare(MessageText.markup(text, "#000000", "", "", 0, [{ start: 3, length: 4 }]), "hi @ann &amp; @bob!");
        compare(MessageText.markup("@ann", "#000000", "", "", 0, [{ start: 2, length: 40 }], "#123456"), "@a<font color=\"#123456\"><b>nn</b></font>");
    }

    function test_emojiGoToTheColourFont() {
        if (MessageText.emojiFamily.length === 0)
            skip("no colour emoji font on this system");
        verify(MessageText.needsRichText("thanks ❤️"));
        verify(!MessageText.needsRichText("thanks!"));
        const m = MessageText.markup("ship it 🎉 now", "#000000");
        verify(m.indexOf("<span style=\"font-family:'" + MessageText.emojiFamily + "'\">🎉</span>") > 0, m);
        // A digit is text, unless it is a keycap.
        verify(MessageText.markup("4 people", "#000000").indexOf("font-family") < 0);
        verify(MessageText.markup("4\ufe0f\u20e3", "#000000").indexOf("font-family") >= 0);
    }

    function test_emojiOnlyMessages() {
        compare(MessageText.emojiOnlyCount("🎉"), 1);
        compare(MessageText.emojiOnlyCount(" 👍 👍 "), 2);
        compare(MessageText.emojiOnlyCount("👨\u200d👩\u200d👧"), 1);
        compare(MessageText.emojiOnlyCount("❤️"), 1);
        compare(MessageText.emojiOnlyCount("🎉🎉🎉🎉"), 0);
        compare(MessageText.emojiOnlyCount("ok 👍"), 0);
        compare(MessageText.emojiOnlyCount("42"), 0);
        compare(MessageText.emojiOnlyCount(""), 0);
    }

    function test_searchWordsAreMarked() {
        verify(MessageText.needsRichText("the deploy went fine", "depl"));
        const m = MessageText.markup("Deploy done; redeploy later", "#000000", "depl", "#ffe58a");
        // The prefix at the start of a word is marked, not inside "redeploy".
        compare(m.split("background-color:#ffe58a").length - 1, 1, m);
        verify(m.indexOf("<span style=\"background-color:#ffe58a\">Depl</span>oy") === 0, m);
    }

    function test_snippetCentresOnTheHit() {
        const text = "word ".repeat(60) + "needle in the middle " + "tail ".repeat(60);
        const s = MessageText.snippet(text, "needle", 80);
        verify(s.indexOf("needle") > 0 && s.indexOf("needle") < 40, s);
        verify(s.startsWith("…") && s.endsWith("…"), s);
        compare(MessageText.snippet("short text", "text", 80), "short text");
    }
}
