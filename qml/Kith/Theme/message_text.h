#pragma once
// MessageText: how a message's plain text is shown — escaped markup for a QML
// Text with links (URLs, e-mail addresses) as anchors that wrap at sensible
// places, search words marked, and emoji in the colour emoji font. Qt 6.4's
// font fallback takes a black-and-white glyph from the text font when it has
// one, so emoji runs are put in the colour font by name (which needs
// Text.RichText: needsRichText). The QML singleton MessageText of Kith.Theme.

#include <QColor>
#include <QObject>
#include <QStringList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

namespace kith::app {

class MessageText : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
    // The colour emoji font found on this system ("" when there is none).
    Q_PROPERTY(QString emojiFamily READ emojiFamily CONSTANT)
    // The family to ask for where plain text holds emoji (the composer): the
    // application's own, which falls back to the colour emoji font first once
    // preferColourEmoji() ran; "" before, or without such a font.
    Q_PROPERTY(QString textFamily READ textFamily CONSTANT)
public:
    explicit MessageText(QObject *parent = nullptr);

    // Puts the colour emoji font first among the fallbacks of the family
    // behind the application's font (textFamily), so plain text asking for
    // it (the composer) draws emoji in colour too; call before any text is
    // laid out. Returns the emoji font's family ("" when there is none).
    static QString preferColourEmoji();
    [[nodiscard]] static QString textFamily() { return s_textFamily; }
    // Whether text in `family` falls back to the colour emoji font first.
    Q_INVOKABLE bool prefersColourEmoji(const QString &family) const;

    [[nodiscard]] QString emojiFamily() const { return m_emojiFamily; }

    // Markup for a Text item (StyledText, or RichText when needsRichText).
    // Links get linkColor and an underline; words of query (prefixes, as the
    // search matches them) get matchColor behind them; emoji are drawn at
    // emojiPixels (0: the text's size; colour emoji look small beside text).
    // mentions ({start, length} in QString positions, as MessageListModel's
    // mentions role gives them) are drawn bold in mentionColor.
    Q_INVOKABLE QString markup(const QString &text, const QColor &linkColor,
                               const QString &query = {}, const QColor &matchColor = {},
                               int emojiPixels = 0, const QVariantList &mentions = {},
                               const QColor &mentionColor = {}) const;
    // Emoji (to put in the colour font) or search words (to mark) need
    // Text.RichText; anything else renders as StyledText, which is lighter.
    Q_INVOKABLE bool needsRichText(const QString &text, const QString &query = {}) const;
    // 1..3 when the text is nothing but that many emoji (shown large), else 0.
    Q_INVOKABLE int emojiOnlyCount(const QString &text) const;
    // The links in the text as they open: http(s) URLs, "www." with
    // http:// put in front, e-mail addresses as mailto:.
    Q_INVOKABLE QStringList links(const QString &text) const;
    // About maxChars of text around its first match of query, with "…" where
    // it was cut, so a hit deep in a long message is in the line shown.
    Q_INVOKABLE QString snippet(const QString &text, const QString &query, int maxChars) const;

    [[nodiscard]] static bool isEmojiText(QStringView text);

private:
    QString m_emojiFamily;
    static QString s_textFamily;
};

} // namespace kith::app
