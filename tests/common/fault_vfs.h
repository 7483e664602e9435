#pragma once
// FaultVfs: a test-only SQLite VFS over the default one, registered as the
// process's default so every connection (kithd's store, Qt's SQLite driver)
// goes through it without a hook. It can
//  - record what was written to each database and log file since that file
//    was last synced, and "lose power": every later call fails as a dead disk
//    would, and after the connections are closed the files are rewritten as
//    the disk might hold them — each 512-byte sector written since its file's
//    last sync keeps its durable bytes or any of the versions written to it
//    since (so writes are dropped, reordered, or torn at a sector boundary);
//  - refuse writes that grow a file with SQLITE_FULL (a full disk);
//  - fail the next syncs of a file (a COMMIT that cannot be made durable).
// One instance per process, owned by itself; tests reach it with install().

#include <QString>
#include <QStringList>

#include <cstdint>
#include <random>

namespace kith::test {

class FaultVfs
{
public:
    // How the sectors written since their file's last sync come out of a power cut.
    enum class Persistence {
        LoseAll,   // none reached the disk
        KeepAll,   // all did (a crash of the process, not of the machine)
        RandomEach // each sector independently: its durable bytes or one of its later versions
    };

    struct PowerCutReport
    {
        int files = 0;          // files that had writes since their last sync
        int pendingSectors = 0; // sectors written since their file's last sync
        int keptSectors = 0;    // ... that came back with their newest version
        int lostSectors = 0;    // ... that came back as they were at the last sync
        int olderSectors = 0;   // ... that came back with a version between the two
        QStringList errors;     // what could not be done (the files are then suspect)
    };

    // Registers the shim as the default VFS on first use.
    static FaultVfs &install();

    // ---- power loss -------------------------------------------------------------
    // Whether syncs reach the real file system. A simulation does not need
    // them (durability is what this shim says it is) and runs faster without.
    void setRealSync(bool on);
    // Treats every file as it is now as durable (as if the OS had flushed it).
    void markAllDurable();
    // The disk dies at the write or sync that is this many writes and syncs
    // from now: that write may or may not reach it, that sync does not.
    void armPowerCut(std::uint64_t afterSteps);
    void cutPowerNow();
    [[nodiscard]] bool powerIsOut() const;
    // Files opened through the shim and not closed yet.
    [[nodiscard]] int openFiles() const;
    // With every connection closed: rewrites each file as the disk holds it
    // after the cut, removes the shared-memory index files (memory does not
    // survive) and powers the disk back on.
    PowerCutReport restorePower(Persistence persistence, std::mt19937_64 &random);

    // ---- storage faults ------------------------------------------------------------
    // Ends a failure made with armPowerCut/cutPowerNow as an outage rather
    // than a power cut: the disk comes back holding everything written to it,
    // and open connections may go on.
    void endOutage();
    // While on, a write that would make a file longer fails with SQLITE_FULL
    // (overwriting space a file already has still works, as on a real disk).
    void setDiskFull(bool full);
    // The next `count` syncs of files whose name ends with `suffix` fail with SQLITE_IOERR_FSYNC.
    void failSyncs(int count, const QString &suffix);

    // ---- counters ----------------------------------------------------------------------
    [[nodiscard]] std::uint64_t writes() const;
    [[nodiscard]] std::uint64_t syncs() const;
    [[nodiscard]] std::uint64_t refusedForSpace() const;
    [[nodiscard]] std::uint64_t failedSyncs() const;

    FaultVfs(const FaultVfs &) = delete;
    FaultVfs &operator=(const FaultVfs &) = delete;

private:
    FaultVfs() = default;
};

} // namespace kith::test
