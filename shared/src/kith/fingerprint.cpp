#include "kith/fingerprint.h"

#include <QCryptographicHash>

#include <array>

namespace kith {

namespace {
constexpr int kSha256Bytes = 32;

// Short, concrete and unlike each other when said aloud; sorted, so the
// list's order is its byte value. Never reorder: pins and printed
// fingerprints of running servers depend on it.
constexpr std::array<const char *, 256> kWords{
    "acid",     "acorn",   "actor",   "adapt",    "agent",    "alarm",   "album",   "alert",
    "alley",    "amber",   "anchor",  "angle",    "ankle",    "anvil",   "apple",   "apron",
    "arena",    "arrow",   "atlas",   "attic",    "autumn",   "avenue",  "award",   "bacon",
    "badge",    "bagel",   "baker",   "bamboo",   "banjo",    "barley",  "basin",   "basket",
    "beach",    "beacon",  "beaver",  "bench",    "berry",    "bishop",  "blanket", "blossom",
    "boat",     "bonus",   "border",  "bottle",   "boxer",    "bread",   "breeze",  "brick",
    "bridge",   "bronze",  "brush",   "bubble",   "bucket",   "budget",  "buffalo", "bundle",
    "butter",   "cabin",   "cactus",  "camel",    "candle",   "canoe",   "canyon",  "carbon",
    "carpet",   "castle",  "cattle",  "cedar",    "cement",   "cereal",  "chalk",   "chapel",
    "cherry",   "chess",   "chimney", "circus",   "citrus",   "clover",  "coast",   "cobalt",
    "coffee",   "comet",   "copper",  "coral",    "cotton",   "cousin",  "coyote",  "cradle",
    "crayon",   "cricket", "crystal", "cupboard", "curtain",  "cushion", "dairy",   "daisy",
    "dancer",   "delta",   "desert",  "diesel",   "dinner",   "dolphin", "donkey",  "dragon",
    "drum",     "eagle",   "echo",    "eclipse",  "elbow",    "ember",   "engine",  "falcon",
    "feather",  "ferry",   "fiddle",  "finch",    "flame",    "flute",   "forest",  "fossil",
    "fountain", "fox",     "galaxy",  "garden",   "garlic",   "geyser",  "ginger",  "glacier",
    "globe",    "goblet",  "gravel",  "guitar",   "hammer",   "harbor",  "harvest", "hazel",
    "helmet",   "hermit",  "honey",   "horizon",  "hotel",    "island",  "ivory",   "jacket",
    "jaguar",   "jasmine", "jelly",   "jigsaw",   "jungle",   "kernel",  "kettle",  "kitten",
    "ladder",   "lagoon",  "lantern", "laser",    "lemon",    "lettuce", "lily",    "linen",
    "lizard",   "lobster", "locket",  "lotus",    "lumber",   "magnet",  "mango",   "maple",
    "marble",   "meadow",  "melon",   "mirror",   "mitten",   "monkey",  "mosaic",  "muffin",
    "mustard",  "napkin",  "nectar",  "needle",   "nickel",   "noodle",  "nutmeg",  "oasis",
    "ocean",    "olive",   "onion",   "orbit",    "orchard",  "otter",   "oyster",  "paddle",
    "palace",   "panda",   "paper",   "parrot",   "peanut",   "pebble",  "pencil",  "pepper",
    "piano",    "pickle",  "pigeon",  "pillow",   "pilot",    "planet",  "plum",    "pocket",
    "pony",     "potato",  "prism",   "pumpkin",  "puzzle",   "quartz",  "rabbit",  "radar",
    "radish",   "raft",    "rainbow", "raven",    "ribbon",   "river",   "robin",   "rocket",
    "saddle",   "salmon",  "sandal",  "satin",    "scarf",    "shadow",  "shovel",  "silver",
    "sketch",   "sleigh",  "spider",  "spoon",    "squirrel", "statue",  "sugar",   "summit",
    "sunset",   "temple",  "thistle", "tiger",    "tomato",   "tulip",   "tunnel",  "turtle",
    "velvet",   "violin",  "walnut",  "window",   "wizard",   "yogurt",  "zebra",   "zipper",
};
} // namespace

QByteArray certificateFingerprint(const QByteArray &der)
{
    return QCryptographicHash::hash(der, QCryptographicHash::Sha256);
}

QString fingerprintHex(const QByteArray &sha256)
{
    const QString hex = QString::fromLatin1(sha256.toHex()).toUpper();
    QStringList groups;
    for (qsizetype i = 0; i < hex.size(); i += 4)
        groups.append(hex.mid(i, 4));
    return groups.join(QLatin1Char(' '));
}

const char *fingerprintWord(quint8 byte)
{
    return kWords[byte];
}

QStringList fingerprintWords(const QByteArray &sha256)
{
    QStringList words;
    for (qsizetype i = 0; i < qMin<qsizetype>(kFingerprintWords, sha256.size()); ++i)
        words.append(QString::fromLatin1(kWords[quint8(sha256.at(i))]));
    return words;
}

QString fingerprintDisplay(const QByteArray &sha256)
{
    return QStringLiteral("%1 (%2)").arg(fingerprintHex(sha256),
                                         fingerprintWords(sha256).join(QLatin1Char(' ')));
}

QByteArray parseFingerprint(const QString &text)
{
    QByteArray hex;
    for (const QChar c : text) {
        if (c.isSpace() || c == QLatin1Char(':'))
            continue;
        const char l = c.toLatin1();
        const bool isHex =
            (l >= '0' && l <= '9') || (l >= 'a' && l <= 'f') || (l >= 'A' && l <= 'F');
        if (!isHex)
            return {};
        hex.append(l);
    }
    if (hex.size() != 2 * kSha256Bytes)
        return {};
    return QByteArray::fromHex(hex);
}

} // namespace kith
