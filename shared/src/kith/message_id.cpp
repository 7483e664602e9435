#include "message_id.h"

#include <QDateTime>
#include <QRandomGenerator>

#include <algorithm>
#include <atomic>

namespace kith {

QString clientMessageIdFor(std::uint64_t unixMs, std::uint16_t counter, std::uint64_t random)
{
    const std::uint64_t high = (unixMs & 0xFFFF'FFFF'FFFFULL) << 16 | 0x7000U | (counter & 0x0FFFU);
    const std::uint64_t low = 0x8000'0000'0000'0000ULL | (random & 0x3FFF'FFFF'FFFF'FFFFULL);
    const QString hex = QStringLiteral("%1%2")
                            .arg(high, 16, 16, QLatin1Char('0'))
                            .arg(low, 16, 16, QLatin1Char('0'));
    return hex.left(8) + u'-' + hex.mid(8, 4) + u'-' + hex.mid(12, 4) + u'-' + hex.mid(16, 4) +
           u'-' + hex.mid(20);
}

QString newClientMessageId()
{
    // (milliseconds << 12 | counter) of the last id made: the next one is
    // the clock's reading or one past the last, whichever is later.
    static std::atomic<std::uint64_t> last{0};
    const auto now = std::uint64_t(QDateTime::currentMSecsSinceEpoch()) << 12;
    std::uint64_t previous = last.load(std::memory_order_relaxed);
    std::uint64_t next = 0;
    do {
        next = std::max(now, previous + 1);
    } while (!last.compare_exchange_weak(previous, next, std::memory_order_relaxed));
    return clientMessageIdFor(next >> 12, std::uint16_t(next & 0x0FFFU),
                              QRandomGenerator::system()->generate64());
}

} // namespace kith
