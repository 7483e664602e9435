#include "chat_text.h"

#include <array>
#include <cctype>
#include <string_view>

namespace kith::bench {

namespace {

constexpr size_t kMinChars = 20;
// The last word and the closing mark may overshoot this by at most 14
// characters, which keeps every text within 300.
constexpr size_t kMaxTargetChars = 280;

constexpr std::array<std::string_view, 160> kWords = {
    "the",      "a",        "and",      "to",       "of",        "in",      "is",      "it",
    "you",      "that",     "we",       "for",      "on",        "was",     "with",    "be",
    "this",     "have",     "are",      "not",      "but",       "at",      "they",    "so",
    "just",     "do",       "can",      "if",       "will",      "my",      "all",     "what",
    "there",    "about",    "up",       "out",      "get",       "like",    "know",    "think",
    "time",     "see",      "going",    "maybe",    "yes",       "no",      "okay",    "thanks",
    "sorry",    "today",    "tomorrow", "tonight",  "yesterday", "morning", "evening", "weekend",
    "meeting",  "lunch",    "dinner",   "coffee",   "train",     "bus",     "late",    "early",
    "soon",     "later",    "again",    "still",    "already",   "really",  "pretty",  "good",
    "great",    "nice",     "fine",     "busy",     "free",      "home",    "office",  "work",
    "project",  "release",  "build",    "server",   "laptop",    "phone",   "message", "call",
    "send",     "check",    "look",     "fix",      "test",      "review",  "merge",   "branch",
    "ticket",   "deadline", "plan",     "idea",     "question",  "answer",  "problem", "issue",
    "photo",    "picture",  "link",     "file",     "document",  "slides",  "notes",   "list",
    "Anna",     "Ben",      "Chloe",    "David",    "Emma",      "Farid",   "Greta",   "Hiro",
    "kids",     "school",   "park",     "beach",    "rain",      "sun",     "snow",    "cold",
    "warm",     "pizza",    "cake",     "birthday", "party",     "tickets", "concert", "movie",
    "game",     "match",    "score",    "won",      "lost",      "funny",   "weird",   "honestly",
    "probably", "actually", "anyway",   "everyone", "someone",   "nobody",  "here",    "there",
    "need",     "want",     "should",   "could",    "would",     "around",  "before",  "after",
};

constexpr std::array<std::string_view, 4> kSentenceEnds = {".", "?", "!", "..."};

// splitmix64: small, fast and good enough to vary texts.
uint64_t nextRandom(uint64_t &state)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

} // namespace

std::string chatText(uint64_t n)
{
    uint64_t state = n * 0x2545f4914f6cdd1dULL + 1;
    // Squaring a uniform draw makes short texts common and long ones rare.
    const double u = double(nextRandom(state) >> 11) / double(1ULL << 53);
    const size_t target = kMinChars + size_t(u * u * double(kMaxTargetChars - kMinChars));
    std::string text;
    text.reserve(target + 16);
    bool sentenceStart = true;
    while (text.size() < target) {
        const uint64_t r = nextRandom(state);
        std::string_view word = kWords[r % kWords.size()];
        if (!text.empty())
            text += ' ';
        const size_t wordStart = text.size();
        text += word;
        if (sentenceStart)
            text[wordStart] = char(std::toupper(static_cast<unsigned char>(text[wordStart])));
        sentenceStart = false;
        const uint64_t mark = (r >> 32) % 16;
        if (mark == 0 && text.size() < target) {
            text += kSentenceEnds[(r >> 40) % kSentenceEnds.size()];
            sentenceStart = true;
        } else if (mark == 1 && text.size() < target) {
            text += ',';
        }
    }
    if (!sentenceStart)
        text += kSentenceEnds[nextRandom(state) % kSentenceEnds.size()];
    return text;
}

} // namespace kith::bench
