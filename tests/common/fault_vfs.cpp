#include "fault_vfs.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace kith::test {

namespace {

// What a disk writes atomically: a power cut leaves each such sector whole,
// old or new, never half of each.
constexpr sqlite3_int64 kSector = 512;

struct SectorImage
{
    std::string bytes;       // kSector bytes; zeros past `valid`
    sqlite3_int64 valid = 0; // how many of them are file content
};

struct SectorHistory
{
    SectorImage durable;              // as it was at the file's last sync
    std::vector<SectorImage> written; // after each write since, oldest first
};

// A database or log file with writes since its last sync (files without
// any have no entry: all of them is durable).
struct PendingFile
{
    sqlite3_int64 durableSize = 0;
    std::map<sqlite3_int64, SectorHistory> sectors; // by sector number
};

struct State
{
    sqlite3_vfs *real = nullptr;
    sqlite3_vfs vfs{};

    std::mutex mutex; // guards everything below
    bool realSync = true;
    bool dead = false;
    bool diskFull = false;
    std::uint64_t steps = 0;    // writes and syncs
    std::uint64_t cutAfter = 0; // the step at which the disk dies (0: not armed)
    int syncsToFail = 0;
    std::string failSyncSuffix;
    std::unordered_map<std::string, PendingFile> pending; // by path
    std::vector<std::string> databases; // main database files seen (their -shm goes at a cut)
    int openFiles = 0;
    std::uint64_t writes = 0;
    std::uint64_t syncs = 0;
    std::uint64_t refusedForSpace = 0;
    std::uint64_t failedSyncs = 0;
};

// Never destroyed: a connection may still be closed during exit.
State &state()
{
    static State *s = new State;
    return *s;
}

struct File
{
    sqlite3_file base;
    std::string *path; // set for the files whose durability is simulated
    sqlite3_file *real() { return reinterpret_cast<sqlite3_file *>(this + 1); }
};
static_assert(sizeof(File) % 8 == 0, "the real file follows the shim's header, aligned");

File *asFile(sqlite3_file *f)
{
    return reinterpret_cast<File *>(f);
}

// Records a write into `path` before it is made: the sector's durable bytes
// the first time it is written after a sync, then its bytes after this write.
void recordWrite(State &s, const std::string &path, sqlite3_file *real, sqlite3_int64 size,
                 const char *data, int amount, sqlite3_int64 offset)
{
    auto [entry, fresh] = s.pending.try_emplace(path);
    PendingFile &file = entry->second;
    if (fresh)
        file.durableSize = size;
    const sqlite3_int64 end = offset + amount;
    for (sqlite3_int64 sector = offset / kSector; sector * kSector < end; ++sector) {
        const sqlite3_int64 start = sector * kSector;
        auto [it, first] = file.sectors.try_emplace(sector);
        SectorHistory &history = it->second;
        if (first) {
            history.durable.bytes.assign(size_t(kSector), '\0');
            // A short read fills the rest with zeros, as the sector past the end is.
            const int rc =
                real->pMethods->xRead(real, history.durable.bytes.data(), int(kSector), start);
            if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
                history.durable.bytes.assign(size_t(kSector), '\0');
            history.durable.valid = std::clamp<sqlite3_int64>(size - start, 0, kSector);
        }
        SectorImage next = history.written.empty() ? history.durable : history.written.back();
        const sqlite3_int64 from = std::max(offset, start);
        const sqlite3_int64 to = std::min(end, start + kSector);
        std::copy(data + (from - offset), data + (to - offset),
                  next.bytes.begin() + (from - start));
        next.valid = std::max(next.valid, to - start);
        history.written.push_back(std::move(next));
    }
}

// ---- file methods -------------------------------------------------------------------

int fileClose(sqlite3_file *f)
{
    File *file = asFile(f);
    const int rc = file->real()->pMethods->xClose(file->real());
    {
        State &s = state();
        std::lock_guard lock(s.mutex);
        --s.openFiles;
    }
    delete file->path;
    file->path = nullptr;
    return rc;
}

int fileRead(sqlite3_file *f, void *buffer, int amount, sqlite3_int64 offset)
{
    State &s = state();
    {
        std::lock_guard lock(s.mutex);
        if (s.dead)
            return SQLITE_IOERR_READ;
    }
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xRead(real, buffer, amount, offset);
}

int fileWrite(sqlite3_file *f, const void *data, int amount, sqlite3_int64 offset)
{
    State &s = state();
    File *file = asFile(f);
    sqlite3_file *real = file->real();
    std::lock_guard lock(s.mutex);
    if (s.dead)
        return SQLITE_IOERR_WRITE;
    sqlite3_int64 size = 0;
    if (const int rc = real->pMethods->xFileSize(real, &size); rc != SQLITE_OK)
        return rc;
    if (s.diskFull && offset + amount > size) {
        ++s.refusedForSpace;
        return SQLITE_FULL;
    }
    if (file->path)
        recordWrite(s, *file->path, real, size, static_cast<const char *>(data), amount, offset);
    const int rc = real->pMethods->xWrite(real, data, amount, offset);
    ++s.writes;
    if (s.cutAfter != 0 && ++s.steps >= s.cutAfter) {
        // This write may or may not have reached the disk; nothing after it does.
        s.dead = true;
        s.cutAfter = 0;
        return SQLITE_IOERR_WRITE;
    }
    return rc;
}

int fileTruncate(sqlite3_file *f, sqlite3_int64 size)
{
    State &s = state();
    File *file = asFile(f);
    std::lock_guard lock(s.mutex);
    if (s.dead)
        return SQLITE_IOERR_TRUNCATE;
    const int rc = file->real()->pMethods->xTruncate(file->real(), size);
    if (rc != SQLITE_OK || !file->path)
        return rc;
    // Taken as durable at once (SQLite truncates only when the log starts
    // over or a checkpoint shrinks the file, after syncs): what was written
    // past the new end is gone.
    const auto it = s.pending.find(*file->path);
    if (it == s.pending.end())
        return rc;
    PendingFile &pending = it->second;
    pending.durableSize = std::min(pending.durableSize, size);
    for (auto sector = pending.sectors.begin(); sector != pending.sectors.end();) {
        const sqlite3_int64 start = sector->first * kSector;
        if (start >= size) {
            sector = pending.sectors.erase(sector);
            continue;
        }
        auto clip = [&](SectorImage &image) {
            image.valid = std::min(image.valid, size - start);
            std::fill(image.bytes.begin() + image.valid, image.bytes.end(), '\0');
        };
        clip(sector->second.durable);
        for (SectorImage &image : sector->second.written)
            clip(image);
        ++sector;
    }
    return rc;
}

int fileSync(sqlite3_file *f, int flags)
{
    State &s = state();
    File *file = asFile(f);
    std::lock_guard lock(s.mutex);
    if (s.dead)
        return SQLITE_IOERR_FSYNC;
    ++s.syncs;
    if (s.cutAfter != 0 && ++s.steps >= s.cutAfter) {
        // Everything written before is on its way to the disk; none of it is known to be there.
        s.dead = true;
        s.cutAfter = 0;
        return SQLITE_IOERR_FSYNC;
    }
    if (s.syncsToFail > 0 && file->path && file->path->ends_with(s.failSyncSuffix)) {
        --s.syncsToFail;
        ++s.failedSyncs;
        return SQLITE_IOERR_FSYNC;
    }
    if (s.realSync) {
        if (const int rc = file->real()->pMethods->xSync(file->real(), flags); rc != SQLITE_OK)
            return rc;
    }
    if (file->path)
        s.pending.erase(*file->path);
    return SQLITE_OK;
}

int fileSize(sqlite3_file *f, sqlite3_int64 *size)
{
    State &s = state();
    {
        std::lock_guard lock(s.mutex);
        if (s.dead)
            return SQLITE_IOERR_FSTAT;
    }
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xFileSize(real, size);
}

// Locks, file controls and the shared-memory index pass through: they are
// about this process's memory, not about what the disk holds.
int fileLock(sqlite3_file *f, int level)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xLock(real, level);
}

int fileUnlock(sqlite3_file *f, int level)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xUnlock(real, level);
}

int fileCheckReservedLock(sqlite3_file *f, int *out)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xCheckReservedLock(real, out);
}

int fileControl(sqlite3_file *f, int op, void *arg)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xFileControl(real, op, arg);
}

int fileSectorSize(sqlite3_file *f)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xSectorSize(real);
}

int fileDeviceCharacteristics(sqlite3_file *f)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xDeviceCharacteristics(real);
}

int fileShmMap(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xShmMap(real, region, size, extend, out);
}

int fileShmLock(sqlite3_file *f, int offset, int n, int flags)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xShmLock(real, offset, n, flags);
}

void fileShmBarrier(sqlite3_file *f)
{
    sqlite3_file *real = asFile(f)->real();
    real->pMethods->xShmBarrier(real);
}

int fileShmUnmap(sqlite3_file *f, int deleteFlag)
{
    sqlite3_file *real = asFile(f)->real();
    return real->pMethods->xShmUnmap(real, deleteFlag);
}

// Version 2: the shared-memory methods WAL needs, and no memory-mapped
// reads or writes that would bypass xRead and xWrite.
const sqlite3_io_methods kFileMethods = {
    2,
    fileClose,
    fileRead,
    fileWrite,
    fileTruncate,
    fileSync,
    fileSize,
    fileLock,
    fileUnlock,
    fileCheckReservedLock,
    fileControl,
    fileSectorSize,
    fileDeviceCharacteristics,
    fileShmMap,
    fileShmLock,
    fileShmBarrier,
    fileShmUnmap,
    nullptr,
    nullptr,
};

// ---- VFS methods -------------------------------------------------------------------------

int vfsOpen(sqlite3_vfs *, sqlite3_filename name, sqlite3_file *f, int flags, int *outFlags)
{
    State &s = state();
    File *file = new (f) File{};
    file->base.pMethods = nullptr;
    {
        std::lock_guard lock(s.mutex);
        if (s.dead)
            return SQLITE_CANTOPEN;
    }
    const int rc = s.real->xOpen(s.real, name, file->real(), flags, outFlags);
    if (rc != SQLITE_OK)
        return rc;
    const bool durable =
        name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL));
    if (durable)
        file->path = new std::string(name);
    file->base.pMethods = &kFileMethods;
    std::lock_guard lock(s.mutex);
    ++s.openFiles;
    if (durable && (flags & SQLITE_OPEN_MAIN_DB) &&
        std::find(s.databases.begin(), s.databases.end(), *file->path) == s.databases.end())
        s.databases.push_back(*file->path);
    return SQLITE_OK;
}

int vfsDelete(sqlite3_vfs *, const char *name, int syncDir)
{
    State &s = state();
    {
        std::lock_guard lock(s.mutex);
        if (s.dead)
            return SQLITE_IOERR_DELETE;
        s.pending.erase(name);
    }
    return s.real->xDelete(s.real, name, syncDir);
}

int vfsAccess(sqlite3_vfs *, const char *name, int flags, int *out)
{
    State &s = state();
    {
        std::lock_guard lock(s.mutex);
        if (s.dead)
            return SQLITE_IOERR_ACCESS;
    }
    return s.real->xAccess(s.real, name, flags, out);
}

int vfsFullPathname(sqlite3_vfs *, const char *name, int size, char *out)
{
    return state().real->xFullPathname(state().real, name, size, out);
}

void *vfsDlOpen(sqlite3_vfs *, const char *name)
{
    return state().real->xDlOpen(state().real, name);
}

void vfsDlError(sqlite3_vfs *, int size, char *out)
{
    state().real->xDlError(state().real, size, out);
}

void (*vfsDlSym(sqlite3_vfs *, void *handle, const char *symbol))(void)
{
    return state().real->xDlSym(state().real, handle, symbol);
}

void vfsDlClose(sqlite3_vfs *, void *handle)
{
    state().real->xDlClose(state().real, handle);
}

int vfsRandomness(sqlite3_vfs *, int size, char *out)
{
    return state().real->xRandomness(state().real, size, out);
}

int vfsSleep(sqlite3_vfs *, int microseconds)
{
    return state().real->xSleep(state().real, microseconds);
}

int vfsCurrentTime(sqlite3_vfs *, double *out)
{
    return state().real->xCurrentTime(state().real, out);
}

int vfsGetLastError(sqlite3_vfs *, int size, char *out)
{
    return state().real->xGetLastError(state().real, size, out);
}

int vfsCurrentTimeInt64(sqlite3_vfs *, sqlite3_int64 *out)
{
    return state().real->xCurrentTimeInt64(state().real, out);
}

int vfsSetSystemCall(sqlite3_vfs *, const char *name, sqlite3_syscall_ptr call)
{
    return state().real->xSetSystemCall(state().real, name, call);
}

sqlite3_syscall_ptr vfsGetSystemCall(sqlite3_vfs *, const char *name)
{
    return state().real->xGetSystemCall(state().real, name);
}

const char *vfsNextSystemCall(sqlite3_vfs *, const char *name)
{
    return state().real->xNextSystemCall(state().real, name);
}

} // namespace

FaultVfs &FaultVfs::install()
{
    static FaultVfs *instance = [] {
        State &s = state();
        sqlite3_initialize();
        s.real = sqlite3_vfs_find(nullptr);
        sqlite3_vfs &vfs = s.vfs;
        vfs.iVersion = 3;
        vfs.szOsFile = int(sizeof(File)) + s.real->szOsFile;
        vfs.mxPathname = s.real->mxPathname;
        vfs.zName = "kith-fault";
        vfs.xOpen = vfsOpen;
        vfs.xDelete = vfsDelete;
        vfs.xAccess = vfsAccess;
        vfs.xFullPathname = vfsFullPathname;
        vfs.xDlOpen = vfsDlOpen;
        vfs.xDlError = vfsDlError;
        vfs.xDlSym = vfsDlSym;
        vfs.xDlClose = vfsDlClose;
        vfs.xRandomness = vfsRandomness;
        vfs.xSleep = vfsSleep;
        vfs.xCurrentTime = vfsCurrentTime;
        vfs.xGetLastError = vfsGetLastError;
        vfs.xCurrentTimeInt64 = vfsCurrentTimeInt64;
        vfs.xSetSystemCall = vfsSetSystemCall;
        vfs.xGetSystemCall = vfsGetSystemCall;
        vfs.xNextSystemCall = vfsNextSystemCall;
        sqlite3_vfs_register(&vfs, 1);
        return new FaultVfs;
    }();
    return *instance;
}

void FaultVfs::setRealSync(bool on)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.realSync = on;
}

void FaultVfs::markAllDurable()
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.pending.clear();
}

void FaultVfs::armPowerCut(std::uint64_t afterSteps)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.steps = 0;
    s.cutAfter = std::max<std::uint64_t>(afterSteps, 1);
}

void FaultVfs::cutPowerNow()
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.dead = true;
    s.cutAfter = 0;
}

bool FaultVfs::powerIsOut() const
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    return s.dead;
}

int FaultVfs::openFiles() const
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    return s.openFiles;
}

FaultVfs::PowerCutReport FaultVfs::restorePower(Persistence persistence, std::mt19937_64 &random)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    PowerCutReport report;
    if (s.openFiles > 0) {
        report.errors << QStringLiteral("%1 files are still open").arg(s.openFiles);
        return report;
    }
    for (auto &[path, file] : s.pending) {
        ++report.files;
        sqlite3_int64 size = file.durableSize;
        std::vector<std::pair<sqlite3_int64, const SectorImage *>> outcome;
        for (const auto &[sector, history] : file.sectors) {
            const size_t versions = history.written.size();
            size_t kept = versions;
            if (persistence == Persistence::LoseAll)
                kept = 0;
            else if (persistence == Persistence::RandomEach)
                kept = std::uniform_int_distribution<size_t>(0, versions)(random);
            ++report.pendingSectors;
            if (kept == versions)
                ++report.keptSectors;
            else if (kept == 0)
                ++report.lostSectors;
            else
                ++report.olderSectors;
            const SectorImage &image = kept == 0 ? history.durable : history.written[kept - 1];
            outcome.emplace_back(sector * kSector, &image);
            // The file reaches as far as the furthest sector that kept content.
            if (image.valid > 0)
                size = std::max(size, sector * kSector + image.valid);
        }
        const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            report.errors << QStringLiteral("cannot open %1").arg(QString::fromStdString(path));
            continue;
        }
        for (const auto &[start, image] : outcome) {
            if (start >= size)
                continue;
            const size_t length = size_t(std::min(kSector, size - start));
            if (::pwrite(fd, image->bytes.data(), length, start) != ssize_t(length))
                report.errors
                    << QStringLiteral("cannot write %1").arg(QString::fromStdString(path));
        }
        if (::ftruncate(fd, size) != 0)
            report.errors << QStringLiteral("cannot truncate %1").arg(QString::fromStdString(path));
        ::close(fd);
    }
    // The wal-index lives in shared memory, which a power cut wipes; SQLite
    // rebuilds it from the log.
    for (const std::string &database : s.databases)
        ::unlink((database + "-shm").c_str());
    s.pending.clear();
    s.databases.clear();
    s.dead = false;
    s.cutAfter = 0;
    return report;
}

void FaultVfs::endOutage()
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.dead = false;
    s.cutAfter = 0;
}

void FaultVfs::setDiskFull(bool full)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.diskFull = full;
}

void FaultVfs::failSyncs(int count, const QString &suffix)
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    s.syncsToFail = count;
    s.failSyncSuffix = suffix.toStdString();
}

std::uint64_t FaultVfs::writes() const
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    return s.writes;
}

std::uint64_t FaultVfs::syncs() const
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    return s.syncs;
}

std::uint64_t FaultVfs::refusedForSpace() const
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    return s.refusedForSpace;
}

std::uint64_t FaultVfs::failedSyncs() const
{
    State &s = state();
    std::lock_guard lock(s.mutex);
    return s.failedSyncs;
}

} // namespace kith::test
