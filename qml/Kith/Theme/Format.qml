pragma Singleton
import QtQuick

// How times and days read in the lists and the chat. `now` is a parameter so
// the labels are testable without a clock.
QtObject {
    function startOfDay(ms) {
        const d = new Date(ms);
        d.setHours(0, 0, 0, 0);
        return d.getTime();
    }

    function daysBetween(earlierMs, laterMs) {
        return Math.round((startOfDay(laterMs) - startOfDay(earlierMs)) / 86400000);
    }

    // "14:05"
    function time(ms) {
        return Qt.formatTime(new Date(ms), "hh:mm");
    }

    // "Today", "Yesterday", "Mon 24 Nov", or "24 Nov 2025" in another year.
    function day(ms, now) {
        const reference = now === undefined ? Date.now() : now;
        const days = daysBetween(ms, reference);
        if (days === 0)
            return qsTr("Today");
        if (days === 1)
            return qsTr("Yesterday");
        const d = new Date(ms);
        if (d.getFullYear() !== new Date(reference).getFullYear())
            return Qt.formatDate(d, "d MMM yyyy");
        return Qt.formatDate(d, "ddd d MMM");
    }

    // The conversation list's time column: time today, weekday this week, else the date.
    function listTime(ms, now) {
        if (!ms)
            return "";
        const reference = now === undefined ? Date.now() : now;
        const days = daysBetween(ms, reference);
        if (days === 0)
            return time(ms);
        if (days > 0 && days < 7)
            return Qt.formatDate(new Date(ms), "ddd");
        return Qt.formatDate(new Date(ms), "d MMM");
    }

    // "online", "last seen today at 14:05", "last seen Mon 24 Nov"
    function presence(online, lastSeenMs, now) {
        if (online)
            return qsTr("online");
        if (!lastSeenMs)
            return qsTr("offline");
        const label = day(lastSeenMs, now);
        if (daysBetween(lastSeenMs, now === undefined ? Date.now() : now) === 0)
            return qsTr("last seen today at %1").arg(time(lastSeenMs));
        return qsTr("last seen %1").arg(label);
    }
}
