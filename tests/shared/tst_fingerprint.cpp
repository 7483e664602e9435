// The fingerprint people compare between kithd's output and a client's trust
// prompt: its hex groups, its words, and reading one back as typed.
#include "kith/fingerprint.h"

#include <QCryptographicHash>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

using namespace kith;

class TestFingerprint : public QObject
{
    Q_OBJECT
private slots:
    void hexIsSixteenGroupsOfFour()
    {
        QByteArray sha(32, '\0');
        for (int i = 0; i < 32; ++i)
            sha[i] = char(i * 8 + 1);
        const QString hex = fingerprintHex(sha);
        QCOMPARE(hex.left(14), QStringLiteral("0109 1119 2129"));
        static const QRegularExpression form(QStringLiteral("^([0-9A-F]{4} ){15}[0-9A-F]{4}$"));
        QVERIFY2(form.match(hex).hasMatch(), qPrintable(hex));
        QCOMPARE(QString(hex).remove(QLatin1Char(' ')).toLower(), QString::fromLatin1(sha.toHex()));
    }

    void wordsAreOnePerByteOfTheStart()
    {
        const QByteArray sha = QCryptographicHash::hash("kith", QCryptographicHash::Sha256);
        const QStringList words = fingerprintWords(sha);
        QCOMPARE(words.size(), kFingerprintWords);
        for (int i = 0; i < kFingerprintWords; ++i)
            QCOMPARE(words.at(i), QString::fromLatin1(fingerprintWord(quint8(sha.at(i)))));
        // Known values pin the list: reordering it would change every
        // printed fingerprint's words.
        QCOMPARE(QString::fromLatin1(fingerprintWord(0)), QStringLiteral("acid"));
        QCOMPARE(QString::fromLatin1(fingerprintWord(255)), QStringLiteral("zipper"));
        const QString display = fingerprintDisplay(sha);
        QVERIFY(display.startsWith(fingerprintHex(sha) + QStringLiteral(" (")));
        QVERIFY(display.endsWith(words.join(QLatin1Char(' ')) + QLatin1Char(')')));
    }

    // 256 different words, each a plain lower-case word: two bytes that
    // sound the same would make the spoken form worthless.
    void wordListIsDistinct()
    {
        QSet<QString> seen;
        for (int byte = 0; byte < 256; ++byte) {
            const QString word = QString::fromLatin1(fingerprintWord(quint8(byte)));
            QVERIFY2(!word.isEmpty() && word.size() <= 8, qPrintable(word));
            QCOMPARE(word, word.toLower());
            QVERIFY2(!seen.contains(word), qPrintable(word));
            seen.insert(word);
        }
        QCOMPARE(seen.size(), 256);
    }

    void parsesWhatPeopleType()
    {
        const QByteArray sha = QCryptographicHash::hash("kith", QCryptographicHash::Sha256);
        QCOMPARE(parseFingerprint(fingerprintHex(sha)), sha);
        QCOMPARE(parseFingerprint(QString::fromLatin1(sha.toHex())), sha);
        QCOMPARE(parseFingerprint(QString::fromLatin1(sha.toHex(':')).toUpper()), sha);
        QVERIFY(parseFingerprint(QStringLiteral("AB12 CD34")).isEmpty());
        QVERIFY(parseFingerprint(fingerprintHex(sha) + QStringLiteral(" 00")).isEmpty());
        QVERIFY(parseFingerprint(fingerprintHex(sha).replace(0, 1, QLatin1Char('g'))).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestFingerprint)
#include "tst_fingerprint.moc"
