#pragma once
// A certificate's SHA-256 fingerprint in the forms people compare: 16 groups
// of 4 hex digits to read off a screen, and a few words (one per byte of its
// start) to read aloud over the phone. kithd prints it at start and in
// `kithd fingerprint`; the clients show it when they ask to trust a server
// and store it, normalised, as the server's pin.

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace kith {

// Bytes of the fingerprint the word form covers: 64 bits, enough that making
// a key whose words match is out of reach of anyone on the LAN.
constexpr int kFingerprintWords = 8;

// SHA-256 of a certificate in DER form.
[[nodiscard]] QByteArray certificateFingerprint(const QByteArray &der);

// "AB12 CD34 ..." (16 groups, upper case) of a 32-byte SHA-256.
[[nodiscard]] QString fingerprintHex(const QByteArray &sha256);

// The words of the first kFingerprintWords bytes, e.g. "coral eagle ...".
[[nodiscard]] QStringList fingerprintWords(const QByteArray &sha256);

// Both forms on one line: "AB12 CD34 ... (coral eagle ...)".
[[nodiscard]] QString fingerprintDisplay(const QByteArray &sha256);

// Reads a fingerprint typed in any usual way (spaces, colons, either case);
// empty when the text does not hold exactly 32 bytes of hex.
[[nodiscard]] QByteArray parseFingerprint(const QString &text);

// The fixed list: one word per byte value, in byte order.
[[nodiscard]] const char *fingerprintWord(quint8 byte);

} // namespace kith
