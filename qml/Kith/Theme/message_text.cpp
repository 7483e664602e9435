#include "message_text.h"

#include <QFont>
#include <QFontDatabase>
#include <QFontInfo>
#include <QGuiApplication>
#include <QRegularExpression>
#include <QTextBoundaryFinder>

#include <algorithm>
#include <vector>

namespace kith::app {

namespace {

// Colour emoji fonts by the names the desktops ship them under.
constexpr const char *kEmojiFamilies[] = {"Noto Color Emoji", "Apple Color Emoji",
                                          "Segoe UI Emoji",   "Twemoji",
                                          "JoyPixels",        "EmojiOne Color"};

// A code point that starts an emoji whatever follows it.
bool isEmojiBase(char32_t c)
{
    return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) ||
           (c >= 0x2300 && c <= 0x23FF) || (c >= 0x2B00 && c <= 0x2BFF) || c == 0x3030 ||
           c == 0x303D || c == 0x3297 || c == 0x3299;
}

// Joins or modifies the emoji before it (ZWJ sequences, VS16, keycaps, tags).
bool isEmojiContinuation(char32_t c)
{
    return c == 0x200D || c == 0xFE0F || c == 0x20E3 || (c >= 0xE0020 && c <= 0xE007F) ||
           (c >= 0x1F3FB && c <= 0x1F3FF);
}

// A symbol that is an emoji only when VS16 or a keycap follows ("❤️" vs
// "❤" stays text; "1️⃣"): digits, #, *, ©, ®, ‼, ⁉, ™, arrows.
bool isEmojiWithSelector(char32_t c)
{
    return (c >= '0' && c <= '9') || c == '#' || c == '*' || c == 0xA9 || c == 0xAE ||
           c == 0x203C || c == 0x2049 || c == 0x2122 || (c >= 0x2190 && c <= 0x21FF);
}

struct CodePoint
{
    char32_t value = 0;
    qsizetype pos = 0; // UTF-16 index
    qsizetype len = 1;
};

std::vector<CodePoint> codePoints(QStringView text)
{
    std::vector<CodePoint> out;
    out.reserve(size_t(text.size()));
    for (qsizetype i = 0; i < text.size();) {
        CodePoint cp{text.at(i).unicode(), i, 1};
        if (text.at(i).isHighSurrogate() && i + 1 < text.size() &&
            text.at(i + 1).isLowSurrogate()) {
            cp.value = QChar::surrogateToUcs4(text.at(i), text.at(i + 1));
            cp.len = 2;
        }
        out.push_back(cp);
        i += cp.len;
    }
    return out;
}

// Per UTF-16 position: part of an emoji run.
std::vector<bool> emojiMask(QStringView text)
{
    std::vector<bool> mask(size_t(text.size()), false);
    const auto cps = codePoints(text);
    bool inRun = false;
    for (size_t k = 0; k < cps.size(); ++k) {
        const char32_t c = cps[k].value;
        const char32_t next = k + 1 < cps.size() ? cps[k + 1].value : 0;
        bool emoji = isEmojiBase(c) || (inRun && isEmojiContinuation(c)) ||
                     (isEmojiWithSelector(c) && (next == 0xFE0F || next == 0x20E3));
        // The code point after a zero-width joiner belongs to the sequence.
        if (!emoji && inRun && k > 0 && cps[k - 1].value == 0x200D)
            emoji = true;
        inRun = emoji;
        for (qsizetype p = 0; p < cps[k].len; ++p)
            mask[size_t(cps[k].pos + p)] = emoji;
    }
    return mask;
}

struct Link
{
    qsizetype start = 0;
    qsizetype length = 0;
    QString href;
};

QList<Link> findLinks(const QString &text)
{
    static const QRegularExpression pattern(
        QStringLiteral("(?:https?://|www\\.)[^\\s<>\"]+|"
                       "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}"),
        QRegularExpression::CaseInsensitiveOption);
    QList<Link> links;
    for (auto it = pattern.globalMatch(text); it.hasNext();) {
        const auto m = it.next();
        QString found = m.captured();
        // Sentence punctuation after a link is not part of it, nor a closing
        // bracket that opened before it.
        while (!found.isEmpty()) {
            const QChar last = found.back();
            if (QStringLiteral(".,;:!?'\"").contains(last)) {
                found.chop(1);
            } else if ((last == u')' && found.count(u'(') < found.count(u')')) ||
                       (last == u']' && found.count(u'[') < found.count(u']'))) {
                found.chop(1);
            } else {
                break;
            }
        }
        if (found.isEmpty())
            continue;
        QString href = found;
        if (found.contains(u'@') && !found.contains(QStringLiteral("://")))
            href = QStringLiteral("mailto:") + found;
        else if (found.startsWith(QStringLiteral("www."), Qt::CaseInsensitive))
            href = QStringLiteral("http://") + found;
        links << Link{m.capturedStart(), found.size(), href};
    }
    return links;
}

// Per UTF-16 position: inside a word that starts with one of the query's words.
std::vector<bool> matchMask(const QString &text, const QString &query)
{
    std::vector<bool> mask(size_t(text.size()), false);
    const QStringList words =
        query.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
    for (const QString &word : words) {
        for (qsizetype at = text.indexOf(word, 0, Qt::CaseInsensitive); at >= 0;
             at = text.indexOf(word, at + 1, Qt::CaseInsensitive)) {
            // Prefixes of words, as the full-text search matches them.
            if (at > 0 && text.at(at - 1).isLetterOrNumber())
                continue;
            for (qsizetype p = at; p < at + word.size(); ++p)
                mask[size_t(p)] = true;
        }
    }
    return mask;
}

QString escaped(QStringView run, bool inLink)
{
    QString out;
    out.reserve(run.size() + 8);
    bool previousSpace = false;
    for (qsizetype i = 0; i < run.size(); ++i) {
        const QChar c = run.at(i);
        const bool space = c == u' ';
        switch (c.unicode()) {
        case '&':
            out += QStringLiteral("&amp;");
            break;
        case '<':
            out += QStringLiteral("&lt;");
            break;
        case '>':
            out += QStringLiteral("&gt;");
            break;
        case '"':
            out += QStringLiteral("&quot;");
            break;
        case '\n':
            out += QStringLiteral("<br>");
            break;
        case ' ':
            // Markup folds runs of spaces: keep every one after the first.
            out += previousSpace ? QStringLiteral("&nbsp;") : QStringLiteral(" ");
            break;
        default:
            out += c;
        }
        previousSpace = space;
        if (!inLink)
            continue;
        // "https://" stays with the host: a word joiner after each of its
        // characters, since line breaking allows a break after "/".
        const qsizetype scheme = run.indexOf(QStringLiteral("://"));
        if (scheme >= 0 && i < scheme + 3) {
            out += QChar(0x2060);
            continue;
        }
        // Elsewhere a long link may break after its separators.
        if (QStringLiteral("/?&=#-_.").contains(c) && i + 1 < run.size() && run.at(i + 1) != u'/')
            out += QChar(0x200B);
    }
    return out;
}

// Per UTF-16 position: inside one of the mentions ({start, length} maps, as
// MessageListModel's mentions role gives them); places outside the text are
// cut to it.
std::vector<bool> mentionMask(const QString &text, const QVariantList &mentions)
{
    std::vector<bool> mask(size_t(text.size()), false);
    for (const QVariant &mention : mentions) {
        const QVariantMap place = mention.toMap();
        const qsizetype start =
            std::max<qsizetype>(0, place.value(QStringLiteral("start")).toInt());
        const qsizetype end = std::min<qsizetype>(
            text.size(), start + std::max(0, place.value(QStringLiteral("length")).toInt()));
        for (qsizetype p = start; p < end; ++p)
            mask[size_t(p)] = true;
    }
    return mask;
}

} // namespace

namespace {
QString colourEmojiFamily()
{
    const QStringList families = QFontDatabase::families();
    for (const char *name : kEmojiFamilies)
        if (families.contains(QLatin1String(name), Qt::CaseInsensitive))
            return QLatin1String(name);
    return {};
}
} // namespace

MessageText::MessageText(QObject *parent)
    : QObject(parent)
    , m_emojiFamily(colourEmojiFamily())
{}

QString MessageText::s_textFamily;

QString MessageText::preferColourEmoji()
{
    const QString emoji = colourEmojiFamily();
    if (emoji.isEmpty())
        return emoji;
    // The real family behind the application's font: a generic name ("Sans
    // Serif") that no font carries would make the emoji font the one for
    // every character, spaces and digits included.
    const QString family = QFontInfo(QGuiApplication::font()).family();
    if (family.isEmpty() || family.compare(emoji, Qt::CaseInsensitive) == 0)
        return {};
    QStringList substitutes = QFont::substitutes(family);
    if (substitutes.value(0).compare(emoji, Qt::CaseInsensitive) != 0) {
        substitutes.removeAll(emoji.toLower());
        substitutes.removeAll(emoji);
        substitutes.prepend(emoji);
        QFont::removeSubstitutions(family);
        QFont::insertSubstitutions(family, substitutes);
    }
    s_textFamily = family;
    return emoji;
}

bool MessageText::prefersColourEmoji(const QString &family) const
{
    // Qt keeps substitutes in lower case.
    return !m_emojiFamily.isEmpty() &&
           QFont::substitutes(family).value(0).compare(m_emojiFamily, Qt::CaseInsensitive) == 0;
}

bool MessageText::isEmojiText(QStringView text)
{
    for (const bool emoji : emojiMask(text))
        if (emoji)
            return true;
    return false;
}

bool MessageText::needsRichText(const QString &text, const QString &query) const
{
    return (!m_emojiFamily.isEmpty() && isEmojiText(text)) || !query.trimmed().isEmpty();
}

QString MessageText::markup(const QString &text, const QColor &linkColor, const QString &query,
                            const QColor &matchColor, int emojiPixels, const QVariantList &mentions,
                            const QColor &mentionColor) const
{
    const auto emoji = emojiMask(text);
    const auto match = matchMask(text, query);
    const auto mention = mentionMask(text, mentionColor.isValid() ? mentions : QVariantList{});
    std::vector<int> linkAt(size_t(text.size()), -1);
    const QList<Link> links = findLinks(text);
    for (int l = 0; l < links.size(); ++l)
        for (qsizetype p = links.at(l).start; p < links.at(l).start + links.at(l).length; ++p)
            linkAt[size_t(p)] = l;

    const bool colourEmoji = !m_emojiFamily.isEmpty();
    QString out;
    out.reserve(text.size() * 2);
    qsizetype i = 0;
    while (i < text.size()) {
        const int link = linkAt[size_t(i)];
        const bool isMatch = match[size_t(i)];
        const bool isEmoji = colourEmoji && emoji[size_t(i)];
        const bool isMention = mention[size_t(i)];
        qsizetype end = i + 1;
        while (end < text.size() && linkAt[size_t(end)] == link && match[size_t(end)] == isMatch &&
               (colourEmoji && emoji[size_t(end)]) == isEmoji && mention[size_t(end)] == isMention)
            ++end;
        // Every run closes what it opens, so the tags always nest.
        QString open;
        QString close;
        if (link >= 0) {
            QString href = links.at(link).href;
            href.replace(u'&', QStringLiteral("&amp;")).replace(u'"', QStringLiteral("&quot;"));
            open += QStringLiteral("<a href=\"%1\"><font color=\"%2\"><u>")
                        .arg(href, linkColor.name(QColor::HexRgb));
            close.prepend(QStringLiteral("</u></font></a>"));
        }
        if (isMention && link < 0) {
            open += QStringLiteral("<font color=\"%1\"><b>").arg(mentionColor.name(QColor::HexRgb));
            close.prepend(QStringLiteral("</b></font>"));
        }
        if (isMatch && matchColor.isValid()) {
            open += QStringLiteral("<span style=\"background-color:%1\">")
                        .arg(matchColor.name(QColor::HexRgb));
            close.prepend(QStringLiteral("</span>"));
        }
        if (isEmoji) {
            open += emojiPixels > 0
                        ? QStringLiteral("<span style=\"font-family:'%1'; font-size:%2px\">")
                              .arg(m_emojiFamily)
                              .arg(emojiPixels)
                        : QStringLiteral("<span style=\"font-family:'%1'\">").arg(m_emojiFamily);
            close.prepend(QStringLiteral("</span>"));
        }
        out += open + escaped(QStringView(text).mid(i, end - i), link >= 0) + close;
        i = end;
    }
    return out;
}

int MessageText::emojiOnlyCount(const QString &text) const
{
    const QString trimmed = text.simplified().remove(u' ');
    if (trimmed.isEmpty())
        return 0;
    for (const bool emoji : emojiMask(trimmed))
        if (!emoji)
            return 0;
    int clusters = 0;
    QTextBoundaryFinder finder(QTextBoundaryFinder::Grapheme, trimmed);
    while (finder.toNextBoundary() >= 0)
        ++clusters;
    return clusters <= 3 ? clusters : 0;
}

QStringList MessageText::links(const QString &text) const
{
    QStringList out;
    for (const Link &link : findLinks(text))
        out << link.href;
    return out;
}

QString MessageText::snippet(const QString &text, const QString &query, int maxChars) const
{
    const QString flat = text.simplified();
    if (flat.size() <= maxChars)
        return flat;
    const auto mask = matchMask(flat, query);
    qsizetype first = 0;
    while (first < flat.size() && !mask[size_t(first)])
        ++first;
    if (first == flat.size() || first < maxChars / 2)
        return flat.left(maxChars).trimmed() + QChar(0x2026);
    // A third of the room before the hit, from the start of a word.
    qsizetype start = first - maxChars / 3;
    while (start > 0 && !flat.at(start - 1).isSpace())
        --start;
    const QString cut = flat.mid(start, maxChars).trimmed();
    return QChar(0x2026) + cut +
           (start + maxChars < flat.size() ? QString(QChar(0x2026)) : QString());
}

} // namespace kith::app
