#include "base/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define FILES_PATH_MAX (PATH_MAX + 8)

int files_sync_dir(const char *dir, err_t *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, errno, "open", dir);
    int rc = 0;
    if (fsync(fd) != 0)
        rc = err_sys(e, errno, "fsync", dir);
    close(fd);
    return rc;
}

/* The directory part of `path` ("." when it has none) into `out`. */
static int files_dir_of(const char *path, char *out, size_t outlen, err_t *e)
{
    const char *slash = strrchr(path, '/');
    int n = slash == NULL   ? snprintf(out, outlen, ".")
            : slash == path ? snprintf(out, outlen, "/")
                            : snprintf(out, outlen, "%.*s", (int)(slash - path), path);
    if (n < 0 || (size_t)n >= outlen)
        return err_set(e, ERR_STORAGE, NULL, ENAMETOOLONG, "path too long: %.200s", path);
    return 0;
}

/* Write every piece of `iov` to `fd`, across short writes and EINTR. */
static int files_write_all(int fd, const char *path, const struct iovec *iov, int n, err_t *e)
{
    for (int i = 0; i < n; i++) {
        const char *p = iov[i].iov_base;
        for (size_t off = 0; off < iov[i].iov_len;) {
            ssize_t w = write(fd, p + off, iov[i].iov_len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return err_sys(e, errno, "write", path);
            off += (size_t)w;
        }
    }
    return 0;
}

int files_writev(const char *path, const struct iovec *iov, int n, int flags, err_t *e)
{
    char tmp[FILES_PATH_MAX], dir[FILES_PATH_MAX];
    int rc = -1, fd = -1;

    int len = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (len < 0 || (size_t)len >= sizeof(tmp) || files_dir_of(path, dir, sizeof(dir), e) != 0)
        return err_set(e, ERR_STORAGE, NULL, ENAMETOOLONG, "path too long: %.200s", path);
    /* A leftover temp file of another mode must not keep it: start afresh. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_sys(e, errno, "open", tmp);
    if (files_write_all(fd, tmp, iov, n, e) != 0)
        goto done;
    if (fsync(fd) != 0) {
        err_sys(e, errno, "fsync", tmp);
        goto done;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        err_sys(e, errno, "close", tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        err_sys(e, errno, "rename", tmp);
        goto done;
    }
    rc = (flags & FILES_SYNC_DIR) ? files_sync_dir(dir, e) : 0;
    /* A failed directory sync leaves the new file in place: it is whole,
     * only its durability is in doubt, so there is nothing to undo. */
    return rc;
done:
    if (fd >= 0)
        close(fd);
    /* Half a temp file must not keep a full disk full. */
    unlink(tmp);
    return rc;
}

int files_write(const char *path, const void *data, size_t len, int flags, err_t *e)
{
    struct iovec one = {.iov_base = (void *)data, .iov_len = len};
    return files_writev(path, &one, 1, flags, e);
}

int files_append(int fd, const char *path, const struct iovec *iov, int n, err_t *e)
{
    size_t want = 0;
    ssize_t w;
    for (int i = 0; i < n; i++)
        want += iov[i].iov_len;
    /* A signal before anything was written leaves nothing to undo: retry.
     * A part written cannot be completed without splitting the append. */
    do
        w = writev(fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return err_sys(e, errno, "writev", path);
    if ((size_t)w != want)
        return err_sys(e, ENOSPC, "writev", path);
    return 0;
}

int files_read_fd(int fd, const char *path, buf_t *out, err_t *e)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_sys(e, errno, "read", path);
        if (n == 0)
            return 0;
        buf_rc rc = buf_append(out, chunk, (size_t)n);
        if (rc == BUF_TOO_BIG)
            return err_set(e, ERR_STORAGE, NULL, EFBIG, "%s is larger than %zu bytes", path,
                           out->max);
        if (rc != BUF_OK)
            return err_sys(e, ENOMEM, "read", path);
    }
}

int files_read(const char *path, buf_t *out, err_t *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int sys = errno;
        if (sys == ENOENT)
            return err_set(e, ERR_NOT_FOUND, NULL, sys, "%s does not exist", path);
        return err_sys(e, sys, "open", path);
    }
    int rc = files_read_fd(fd, path, out, e);
    close(fd);
    return rc;
}

/* Milliseconds on clock `id`. */
static long long files_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define FILES_PROC_LOCKS_MAX (1024 * 1024)

/* The pid holding a flock(LOCK_EX) on the file `st` describes, as the
 * text of /proc/locks says, or 0 when none does. Waiters ("->") do not
 * hold it. */
static long files_holder(const char *locks, const struct stat *st)
{
    for (const char *line = locks; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        char l[256], kind[16], adv[16], mode[16];
        unsigned maj, min;
        unsigned long ino;
        long pid;
        /* A line longer than `l` is no flock line of ours: cut is fine. */
        snprintf(l, sizeof(l), "%.*s", (int)(len < sizeof(l) ? len : sizeof(l) - 1), line);
        if (strstr(l, "->") == NULL &&
            sscanf(l, "%*d: %15s %15s %15s %ld %x:%x:%lu", kind, adv, mode, &pid, &maj, &min,
                   &ino) == 7 &&
            strcmp(kind, "FLOCK") == 0 && strcmp(mode, "WRITE") == 0 && maj == major(st->st_dev) &&
            min == minor(st->st_dev) && ino == st->st_ino)
            return pid > 0 ? pid : 1; /* 0: a holder in another pid namespace */
        if (end == NULL)
            break;
        line = end + 1;
    }
    return 0;
}

/* Milliseconds process `pid` has been running, or -1 when unknown. */
static long long files_process_age(long pid)
{
    char path[64], stat[1024];
    int n = snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (got <= 0)
        return -1;
    stat[got] = '\0';
    /* Field 22, counted after the command's closing parenthesis (field 2,
     * which may hold spaces): starttime, in clock ticks since boot. */
    const char *p = strrchr(stat, ')');
    unsigned long long start;
    long hz = sysconf(_SC_CLK_TCK);
    if (p == NULL || hz <= 0 ||
        sscanf(p + 1,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &start) != 1)
        return -1;
    return files_ms(CLOCK_BOOTTIME) - (long long)(start * 1000 / (unsigned long long)hz);
}

int files_lock_held(const char *path, files_hold *h)
{
    struct stat st;
    buf_t locks;
    err_t e;
    int held = 0;

    memset(h, 0, sizeof(*h));
    if (stat(path, &st) != 0)
        return 0;
    buf_init(&locks, FILES_PROC_LOCKS_MAX);
    if (files_read("/proc/locks", &locks, &e) == 0 && locks.data != NULL &&
        (h->pid = files_holder(locks.data, &st)) > 0) {
        held = 1;
        h->stamp = st.st_mtim;
        h->held_ms = files_ms(CLOCK_REALTIME) -
                     ((long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
        long long lived = files_process_age(h->pid);
        if (lived >= 0 && lived < h->held_ms)
            h->held_ms = lived;
    }
    buf_free(&locks);
    return held;
}

int files_lock(const char *path, err_t *e)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_sys(e, errno, "open", path);
    /* A blocking flock cannot be given up on: try, then sleep a little
     * longer each time (1 ms up to 10 ms), looking at the holder. */
    long long start = files_ms(CLOCK_MONOTONIC);
    long pause_us = 1000;
    files_hold last = {0};
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int sys = errno;
        files_hold h;
        if (sys == EINTR)
            continue;
        if (sys != EWOULDBLOCK) {
            err_sys(e, sys, "flock", path);
            close(fd);
            return -1;
        }
        /* Held too long, seen twice: the stamp of a holder that has just
         * taken it may still be its predecessor's at the first look. */
        if (files_lock_held(path, &h) && h.held_ms > FILES_LOCK_HELD_MS) {
            if (last.pid == h.pid && last.stamp.tv_sec == h.stamp.tv_sec &&
                last.stamp.tv_nsec == h.stamp.tv_nsec) {
                close(fd);
                return err_set(e, ERR_BUSY, NULL, EWOULDBLOCK,
                               "%.200s is held by pid %ld for %lld ms, longer than a write takes; "
                               "retry shortly",
                               path, h.pid, h.held_ms);
            }
            last = h;
        } else {
            memset(&last, 0, sizeof(last));
        }
        long long waited = files_ms(CLOCK_MONOTONIC) - start;
        if (waited >= FILES_LOCK_WAIT_MAX_MS) {
            close(fd);
            return err_set(e, ERR_BUSY, NULL, EWOULDBLOCK,
                           "%.200s: waited %lld ms for other writers; retry shortly", path, waited);
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = pause_us * 1000};
        nanosleep(&ts, NULL);
        pause_us = pause_us * 2 > 10000 ? 10000 : pause_us * 2;
    }
    /* Each taking changes the mtime, so that one long hold is told from
     * many short ones. Only a hint: a failure changes nothing. */
    if (futimens(fd, NULL) != 0)
        errno = 0;
    return fd;
}

int files_trylock(const char *path, int *fd, err_t *e)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return err_sys(e, errno, "open", path);
    while (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int sys = errno;
        if (sys == EINTR)
            continue;
        close(f);
        if (sys == EWOULDBLOCK)
            return 0;
        return err_sys(e, sys, "flock", path);
    }
    *fd = f;
    return 1;
}

void files_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the last descriptor releases the flock */
}

int files_mkdir_mode(const char *path, mode_t mode, err_t *e)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return err_sys(e, errno, "mkdir", path);
    return 0;
}

int files_mkdir(const char *path, err_t *e)
{
    return files_mkdir_mode(path, 0700, e);
}

/* files_make_private of the directory open at `fd` (closed here), named
 * `path`, `depth` levels down. */
static long files_private_dir(int fd, const char *path, const char *skip, int depth, err_t *e)
{
    struct stat st;
    long changed = 0;
    if (fstat(fd, &st) != 0) {
        int sys = errno;
        close(fd);
        return err_sys(e, sys, "fstat", path);
    }
    if ((st.st_mode & 07777) != 0700) {
        if (fchmod(fd, 0700) != 0) {
            int sys = errno;
            close(fd);
            return err_sys(e, sys, "chmod", path);
        }
        changed++;
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int sys = errno;
        close(fd);
        return err_sys(e, sys, "opendir", path);
    }
    struct dirent *ent;
    while (changed >= 0 && (ent = readdir(d)) != NULL) {
        char sub[FILES_PATH_MAX];
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        int n = snprintf(sub, sizeof(sub), "%s/%s", path, ent->d_name);
        if (n < 0 || (size_t)n >= sizeof(sub) ||
            fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone meanwhile, or a name no file of ours has */
        if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600) {
            if (fchmodat(dirfd(d), ent->d_name, 0600, 0) != 0 && errno != ENOENT) {
                changed = err_sys(e, errno, "chmod", sub);
                break;
            }
            changed++;
        } else if (S_ISDIR(st.st_mode) && depth < 32 && (skip == NULL || strcmp(sub, skip) != 0)) {
            int sfd =
                openat(dirfd(d), ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd < 0)
                continue;
            long got = files_private_dir(sfd, sub, skip, depth + 1, e);
            changed = got < 0 ? -1 : changed + got;
        }
    }
    closedir(d);
    return changed;
}

long files_make_private(const char *dir, const char *skip, err_t *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, errno, "open", dir);
    return files_private_dir(fd, dir, skip, 0, e);
}

void files_stamp_init(files_stamp *st)
{
    memset(st, 0, sizeof(*st));
    st->fd = -1;
}

int files_stamp_check(const files_stamp *st, const char *path, int *fd, files_stamp *next, err_t *e)
{
    struct stat sb;
    files_stamp_init(next);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0 && errno != ENOENT)
        return err_sys(e, errno, "open", path);
    if (*fd >= 0 && fstat(*fd, &sb) != 0) {
        int sys = errno;
        close(*fd);
        *fd = -1;
        return err_sys(e, sys, "fstat", path);
    }
    if (*fd < 0)
        memset(&sb, 0, sizeof(sb));
    next->known = true;
    next->dev = sb.st_dev;
    next->ino = sb.st_ino;
    next->size = sb.st_size;
    next->mtime = sb.st_mtim;
    next->fd = *fd;
    if (st->known && st->dev == next->dev && st->ino == next->ino && st->size == next->size &&
        st->mtime.tv_sec == next->mtime.tv_sec && st->mtime.tv_nsec == next->mtime.tv_nsec) {
        files_stamp_drop(next);
        *fd = -1;
        return 0;
    }
    return 1;
}

void files_stamp_take(files_stamp *st, files_stamp *next)
{
    files_stamp_drop(st);
    *st = *next;
    files_stamp_init(next);
}

void files_stamp_drop(files_stamp *st)
{
    if (st->fd >= 0)
        close(st->fd);
    files_stamp_init(st);
}

int files_keep(const char *path, const char *copy, err_t *e)
{
    char tmp[FILES_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", copy);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return err_set(e, ERR_STORAGE, NULL, ENAMETOOLONG, "path too long: %.200s", copy);
    unlink(tmp);
    if (link(path, tmp) != 0) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, errno, "link", tmp);
    }
    if (rename(tmp, copy) != 0) {
        int sys = errno;
        unlink(tmp);
        return err_sys(e, sys, "rename", tmp);
    }
    return 0;
}

int files_sweep_tmp(const char *dir, err_t *e)
{
    char path[FILES_PATH_MAX];
    int n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return err_sys(e, errno, "opendir", dir);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len <= 4 || strcmp(ent->d_name + len - 4, ".tmp") != 0)
            continue;
        int w = snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
        if (w > 0 && (size_t)w < sizeof(path) && unlink(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}
