/*
 * files: the one home for durable file mechanics, shared by every store of
 * records (functions, async invocations, and later keys):
 *
 *   - an atomic, durable replace: write path.tmp, fsync it, rename it over
 *     path, fsync the directory; a failed write removes its temp file;
 *   - reading a whole file into a bounded buffer;
 *   - an exclusive flock on a lock file, never waited for behind a holder
 *     that has held it more than FILES_LOCK_HELD_MS, nor in all more than
 *     FILES_LOCK_WAIT_MAX_MS;
 *   - directory fsync and mkdir.
 *
 * Every failure fills the err_t (naming the call, the path and errno; a
 * full disk is ERR_STORAGE_FULL) and returns -1. Nothing here logs.
 */
#ifndef MINILAMBDA_FILES_H
#define MINILAMBDA_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/err.h"

/* files_write flags. */
enum {
    FILES_SYNC_DIR = 1 /* fsync the directory after the rename; without it
                        * the new name is durable once something else
                        * syncs the directory */
};

/*
 * Replace `path` atomically with the `n` pieces of `iov` (written in order)
 * and make it durable as `flags` say. The file gets mode 0600 from its
 * creation on: everything in the data dir is the pool user's alone. On failure
 * `path` is unchanged, `path`.tmp is removed, and -1 is returned with `e`
 * filled in.
 */
int files_writev(const char *path, const struct iovec *iov, int n, int flags, err_t *e);

/* files_writev of one piece. */
int files_write(const char *path, const void *data, size_t len, int flags, err_t *e);

/*
 * Append the `n` pieces of `iov` to `fd` (opened with O_APPEND; named `path`
 * in errors) with one writev(2), so that what other processes append to the
 * same file never lands inside them. No fsync: the bytes are as durable as
 * the page cache. Returns 0, or -1 with `e`: a short write (a full disk) is
 * reported as ENOSPC, and the file may then end with part of the pieces.
 */
int files_append(int fd, const char *path, const struct iovec *iov, int n, err_t *e);

/*
 * Append the whole file behind `fd` (named `path` in errors) to `out`, up to
 * its bound. Returns 0, or -1 with `e` filled in: a file past the bound is
 * ERR_STORAGE with errno EFBIG. `fd` stays open and is read from its
 * current offset.
 */
int files_read_fd(int fd, const char *path, buf_t *out, err_t *e);

/* Open `path` and files_read_fd it. A missing file is -1 with e->sys ==
 * ENOENT (kind ERR_NOT_FOUND), so callers can tell "absent" apart. */
int files_read(const char *path, buf_t *out, err_t *e);

/* A hold longer than this (milliseconds) is a stuck holder (a process
 * stopped or hung, or a human's flock): files_lock gives up on it, and
 * /healthz names it. The pool's own writers hold a lock for one re-read
 * and write. */
#define FILES_LOCK_HELD_MS 2000

/* No files_lock waits longer than this in all, however many writers take
 * their turn before it (milliseconds). */
#define FILES_LOCK_WAIT_MAX_MS 15000

/* Take flock(LOCK_EX) on `path`, creating it (mode 0644) if needed, and
 * stamp the file's mtime with the time it was taken (what tells one hold
 * from the next). Waits while other writers take their turns, but gives
 * up once the holder has held it more than FILES_LOCK_HELD_MS (seen twice:
 * the same holder, the same stamp), or after FILES_LOCK_WAIT_MAX_MS.
 * Returns the descriptor holding the lock (files_unlock), or -1 with `e`:
 * ERR_BUSY (errno EWOULDBLOCK) when it gave up. */
int files_lock(const char *path, err_t *e);

/* Who holds the flock of `path` now, and since when at most. */
typedef struct {
    long pid;              /* the holder (1 when it is in another pid namespace) */
    long long held_ms;     /* how long it has held it, at most */
    struct timespec stamp; /* the lock file's mtime (files_lock's stamp) */
} files_hold;

/* Whether another holds the flock(LOCK_EX) of `path`, as /proc/locks says;
 * 1 with `h` filled in, else 0 (also when /proc/locks or the file cannot be
 * read). The hold's age is the least of the time since the file's mtime
 * (files_lock stamps it at each taking: exact for the pool's holders, an
 * upper bound for another's) and the holder process's age. Takes no lock. */
int files_lock_held(const char *path, files_hold *h);

/* Try flock(LOCK_EX) on `path` without waiting, creating it (mode 0600)
 * if needed. Returns 1 with the descriptor holding the lock in `*fd`
 * (files_unlock), 0 when another holds it, or -1 with `e`. */
int files_trylock(const char *path, int *fd, err_t *e);

/* Release a lock taken by files_lock or files_trylock (closing its descriptor). -1 is a
 * no-op, so a cleanup path may call it unconditionally. */
void files_unlock(int fd);

/*
 * What a reader's cache knows of the file it parsed, to tell a newer
 * version cheaply: device, inode, size and mtime, and the file kept open
 * so that its inode cannot be reused by a later version with the same size
 * and mtime.
 */
typedef struct {
    bool known; /* a version was taken */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int fd; /* the taken version, kept open; -1 when none */
} files_stamp;

/* An empty stamp (nothing known). */
void files_stamp_init(files_stamp *st);

/*
 * Compare `path` with what `st` knows. Returns 0 when it is the same
 * version (nothing is opened); 1 when it is new or changed: `*fd` is the
 * open file to read (or -1 when it does not exist) and `next` its stamp,
 * for files_stamp_take once it parsed (else files_stamp_drop); -1 with `e`.
 */
int files_stamp_check(const files_stamp *st, const char *path, int *fd, files_stamp *next,
                      err_t *e);

/* Make `next` the known version, closing the one `st` kept. */
void files_stamp_take(files_stamp *st, files_stamp *next);

/* Forget `st`'s version and close its file. */
void files_stamp_drop(files_stamp *st);

/* Make `copy` another name of the file `path` is now (a hard link,
 * replacing `copy` atomically), so that the version survives `path`'s next
 * replacement: the last good file kept beside a store. 0 (also when `path`
 * does not exist), or -1 with `e`. */
int files_keep(const char *path, const char *copy, err_t *e);

/* Remove the temp files (*.tmp) that writes interrupted by a crash left in
 * `dir`. Returns how many, or -1 with `e` when `dir` cannot be read. */
int files_sweep_tmp(const char *dir, err_t *e);

/* fsync the directory `dir`. 0 or -1. */
int files_sync_dir(const char *dir, err_t *e);

/* Create directory `path` (mode 0700) unless it exists. 0 or -1. */
int files_mkdir(const char *path, err_t *e);

/* Create directory `path` with `mode` unless it exists (the run dir, which
 * nginx must be able to enter). 0 or -1. */
int files_mkdir_mode(const char *path, mode_t mode, err_t *e);

/*
 * Make the tree at `dir` the owner's alone: `dir` and every directory in
 * it 0700, every regular file 0600 (what older versions left 0755 and
 * 0644), 32 levels down at most. Symbolic links are not followed; the
 * directory `skip` (NULL: none) and what it holds are left as they are. Returns how many entries
 * were changed, or -1 with `e` when `dir` cannot be read or changed.
 */
long files_make_private(const char *dir, const char *skip, err_t *e);

#endif
