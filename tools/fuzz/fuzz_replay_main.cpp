// The driver of a fuzz target where libFuzzer is not there (a GCC build):
// it runs the target on every file of the folders named on the command line
// (the seed corpus), then on a few thousand mutations of them made with a
// fixed seed, so that each build keeps the targets and their harness working.
// Real fuzzing needs clang: see tools/fuzz.sh and docs/operations.md.

#include <QByteArray>
#include <QDir>
#include <QFile>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
// Defined by a target that mutates its inputs its own way.
extern "C" __attribute__((weak)) size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                                                size_t maxSize, unsigned int seed);

namespace {
constexpr int kMutations = 3000;
constexpr size_t kMaxInput = 64 * 1024;
std::mt19937 g_rng(20240607);
} // namespace

// What libFuzzer offers targets: a plain mutation of bytes.
extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize)
{
    if (maxSize == 0)
        return 0;
    switch (g_rng() % 4) {
    case 0: // flip a bit
        if (size > 0)
            data[g_rng() % size] ^= uint8_t(1u << (g_rng() % 8));
        return size;
    case 1: // insert a byte
        if (size < maxSize) {
            const size_t at = size == 0 ? 0 : g_rng() % (size + 1);
            std::memmove(data + at + 1, data + at, size - at);
            data[at] = uint8_t(g_rng());
            return size + 1;
        }
        return size;
    case 2: // drop a byte
        if (size > 0) {
            const size_t at = g_rng() % size;
            std::memmove(data + at, data + at + 1, size - at - 1);
            return size - 1;
        }
        return size;
    default: // an interesting byte
        if (size > 0) {
            static const uint8_t interesting[] = {0, 1, 0x7E, 0x7F, 0x80, 0xFF, 0x88, 0x89};
            data[g_rng() % size] = interesting[g_rng() % sizeof interesting];
        }
        return size;
    }
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    std::vector<QByteArray> seeds;
    for (int i = 1; i < argc; ++i) {
        const QDir dir(QString::fromLocal8Bit(argv[i]));
        for (const QString &name : dir.entryList(QDir::Files, QDir::Name)) {
            QFile file(dir.filePath(name));
            if (file.open(QIODevice::ReadOnly))
                seeds.push_back(file.readAll());
        }
    }
    if (seeds.empty())
        seeds.emplace_back();
    for (const QByteArray &seed : seeds)
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(seed.constData()),
                               size_t(seed.size()));
    std::vector<uint8_t> input;
    for (int i = 0; i < kMutations; ++i) {
        const QByteArray &seed = seeds[size_t(i) % seeds.size()];
        input.assign(seed.cbegin(), seed.cend());
        size_t size = input.size();
        input.resize(kMaxInput);
        for (int round = int(g_rng() % 4); round >= 0; --round) {
            size = LLVMFuzzerCustomMutator
                       ? LLVMFuzzerCustomMutator(input.data(), size, kMaxInput, unsigned(g_rng()))
                       : LLVMFuzzerMutate(input.data(), size, kMaxInput);
        }
        LLVMFuzzerTestOneInput(input.data(), size);
    }
    std::printf("%zu seeds and %d mutations ran without a crash\n", seeds.size(), kMutations);
    return 0;
}
