#pragma once

// Names and priorities of kithd's own threads (Linux; elsewhere, no-ops).
//
// The session loop and the store's writer and flusher carry the messages and
// keep the default priority. Work that may wait (pages of history, file
// transfers, the store's checkpoints) lowers its own thread, so that on a
// box with one core a send never waits behind it for the CPU or the disk.

namespace kith::server::threads {

// The calling thread's name in top, ps -L and /proc (at most 15 characters).
void nameThisThread(const char *name);

// Lowers the calling thread's CPU priority by `steps` nice levels (relative:
// a kithd started under nice keeps its order), at most to 19.
void lowerThisThreadsCpu(int steps);

// SCHED_IDLE for the calling thread: it runs only when no other thread of
// the machine wants the CPU. Where that is refused, `fallbackSteps` nice
// levels lower instead.
void makeThisThreadIdle(int fallbackSteps);

// The calling thread's disk requests go after others' in the disk's queue:
// best-effort class at `level` (0 first .. 7 last), where the I/O scheduler
// honours it.
void lowerThisThreadsDisk(int level);

} // namespace kith::server::threads
