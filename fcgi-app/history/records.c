#include "history/records.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "run/invoke.h"
#include "state/func.h"

/* One index line and one id line, '\n' included. Fixed widths, so a
 * reader can count records from a file's size. */
#define RECORDS_IDX_LEN 192
#define RECORDS_ID_LEN 128
#define RECORDS_PATH (CONFIG_PATH_MAX + 160)
/* Functions whose newest segment a process keeps open. */
#define RECORDS_OPEN 64
/* How far apart in time appends of different processes may land out of
 * order in one index: each reads the time just before its write (under its
 * process's lock), so only a process stalled between the two lands late. */
#define RECORDS_SKEW_MS 1000
/* The retention prunes at most one in this many of a function's segments
 * per pass (at least one). */
#define RECORDS_PRUNE_SHARE 4
/* The longest a call can take: a record is written at most this long after
 * it was created. */
#define RECORDS_RUN_MAX_MS ((FUNC_TIMEOUT_MAX + 60) * 1000LL)
#define RECORDS_BLOCK 65536
/* How far back in time a listing's first pass reads. */
#define RECORDS_WINDOW_MS 60000LL
/* Bounds on what a reader loads: one record line, one id shard. */
#define RECORDS_LINE_MAX (64u * 1024 * 1024)
#define RECORDS_SHARD_MAX (256u * 1024 * 1024)
/* An id shard is compacted once it is past twice its live size plus this. */
#define RECORDS_SHARD_SLACK 4096
#define RECORDS_NAME_MAX 128

static const int records_json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/* Two lanes of segments a function: the calls that ran, and the ones
 * refused before running anything (REJECTED), each with its own cap, so a
 * flood of refusals never pushes out a record of a call that ran. */
enum { RECORDS_RAN = 0, RECORDS_REJ = 1, RECORDS__LANES };
static const char *const records_log_ext[RECORDS__LANES] = {".log", ".rj.log"};
static const char *const records_idx_ext[RECORDS__LANES] = {".idx", ".rj.idx"};

/*
 * The two fixed-width line formats, each defined once as a column table
 * that both records_line_put (the writer) and the readers below use.
 * Columns follow each other with one space between them; the rest of the
 * line is spaces up to its '\n'. A number is right-aligned (zero-padded
 * or space-padded as the format always had it), a word left-aligned and
 * cut to its width ("-" when empty), a char one byte.
 */
typedef enum { RECORDS_COL_NUM0, RECORDS_COL_NUM, RECORDS_COL_WORD, RECORDS_COL_CHAR } records_kind;
typedef struct {
    int width;
    records_kind kind;
} records_col;
typedef union {
    long long n;
    const char *s;
    char c;
} records_val;

/* An index line: one record of a segment, what a listing shows of it. */
enum {
    RX_CREATED,  /* ms on the pool's clock */
    RX_DONE,     /* ms on the pool's clock */
    RX_ID,       /* the invocation id */
    RX_STATUS,   /* status_record */
    RX_START,    /* records_start_char */
    RX_DURATION, /* ms */
    RX_OFF,      /* of its JSON line in the segment's log */
    RX_LEN,      /* of that line, '\n' not included */
    RX_EXIT,     /* -1: none */
    RX_TRUNC,    /* 1: output cut at its cap */
    RX_HTTP,     /* the answer's status */
    RX_CREATOR,  /* the key id that called, "" for none */
    RX_CODE,     /* the answer's error code, "" for none */
    RX_TIMEOUT,  /* s */
    RX__COLS
};
static const records_col records_idx_cols[RX__COLS] = {
    [RX_CREATED] = {13, RECORDS_COL_NUM0}, [RX_DONE] = {13, RECORDS_COL_NUM0},
    [RX_ID] = {36, RECORDS_COL_WORD},      [RX_STATUS] = {1, RECORDS_COL_NUM},
    [RX_START] = {1, RECORDS_COL_CHAR},    [RX_DURATION] = {10, RECORDS_COL_NUM0},
    [RX_OFF] = {12, RECORDS_COL_NUM0},     [RX_LEN] = {10, RECORDS_COL_NUM0},
    [RX_EXIT] = {4, RECORDS_COL_NUM},      [RX_TRUNC] = {1, RECORDS_COL_NUM},
    [RX_HTTP] = {3, RECORDS_COL_NUM0},     [RX_CREATOR] = {36, RECORDS_COL_WORD},
    [RX_CODE] = {24, RECORDS_COL_WORD},    [RX_TIMEOUT] = {3, RECORDS_COL_NUM0},
};

/* An id line: where the record of an invocation id is. */
enum {
    RI_ID,      /* the invocation id */
    RI_FID,     /* its function's id */
    RI_SEQ,     /* the segment */
    RI_OFF,     /* of its JSON line in the segment's log */
    RI_LEN,     /* of that line, '\n' included */
    RI_IDX_OFF, /* of its index line */
    RI_LANE,    /* 'r' refused; 's' ran (old lines have a space there: ran) */
    RI__COLS
};
static const records_col records_id_cols[RI__COLS] = {
    [RI_ID] = {36, RECORDS_COL_WORD},  [RI_FID] = {36, RECORDS_COL_WORD},
    [RI_SEQ] = {10, RECORDS_COL_NUM0}, [RI_OFF] = {12, RECORDS_COL_NUM0},
    [RI_LEN] = {10, RECORDS_COL_NUM0}, [RI_IDX_OFF] = {12, RECORDS_COL_NUM0},
    [RI_LANE] = {1, RECORDS_COL_CHAR},
};

/* A function's newest segment as one process appends to it. */
typedef struct {
    char fid[RUNTIME_ID_LEN]; /* "" when the slot is free */
    int lane;
    long long seq; /* -1: find the newest on disk */
    int log, idx;  /* -1 when closed */
} records_seg;

struct records {
    pthread_mutex_t mu; /* guards `open` and `next` */
    records_limits lim;
    long long seg_bytes; /* a segment takes no appends once past this */
    char fn[CONFIG_PATH_MAX + 32];
    char ids[CONFIG_PATH_MAX + 32];
    records_seg open[RECORDS_OPEN];
    int next; /* the slot to reuse next when all are taken */
    /* The janitor's: each id shard's size after its last compaction. */
    long long live[256];
    metrics_t *metrics; /* borrowed; NULL: nothing counted */
};

/* One index line, parsed. */
typedef struct {
    long long created, done, duration, off, len;
    int status; /* status_record */
    char start; /* 'c', 'w', 'r' or '-' */
    int exit;   /* -1: none */
    bool truncated;
    int http;
    int timeout; /* seconds */
    char id[RUNTIME_ID_LEN];
    char creator[RUNTIME_ID_LEN]; /* "" when none */
    char code[32];                /* "" when none */
} records_entry;

records_limits records_limits_of(const config_t *cfg)
{
    records_limits l = {.enabled = strcmp(cfg->records, "off") != 0,
                        .output_max = (size_t)cfg->record_output_max,
                        .per_function = cfg->records_per_function,
                        .max_bytes = cfg->records_max_bytes,
                        .retention_s = cfg->retention};
    return l;
}

records_t *records_open(const char *data_dir, const records_limits *lim, err_t *e)
{
    char root[CONFIG_PATH_MAX + 16];
    records_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->lim = *lim;
    if (r->lim.per_function < 1)
        r->lim.per_function = 1;
    /* Small enough that deleting whole segments keeps near the byte cap,
     * big enough that a busy function does not make thousands. */
    r->seg_bytes = r->lim.max_bytes / 16;
    if (r->seg_bytes < 4096)
        r->seg_bytes = 4096;
    if (r->seg_bytes > 8 * 1024 * 1024)
        r->seg_bytes = 8 * 1024 * 1024;
    for (int i = 0; i < RECORDS_OPEN; i++)
        r->open[i] = (records_seg){.seq = -1, .log = -1, .idx = -1};
    snprintf(root, sizeof(root), "%s/records", data_dir);
    snprintf(r->fn, sizeof(r->fn), "%s/fn", root);
    snprintf(r->ids, sizeof(r->ids), "%s/ids", root);
    if (files_mkdir(data_dir, e) != 0 || files_mkdir(root, e) != 0 || files_mkdir(r->fn, e) != 0 ||
        files_mkdir(r->ids, e) != 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

void records_set_metrics(records_t *r, metrics_t *m)
{
    r->metrics = m;
}

/* The bytes `st`'s file takes on disk: what every byte budget counts (a
 * 100-byte file takes a whole block). */
static long long records_blocks(const struct stat *st)
{
    return (long long)st->st_blocks * 512;
}

static void records_seg_close(records_seg *s)
{
    if (s->log >= 0)
        close(s->log);
    if (s->idx >= 0)
        close(s->idx);
    s->log = s->idx = -1;
}

void records_close(records_t *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < RECORDS_OPEN; i++)
        records_seg_close(&r->open[i]);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

bool records_enabled(const records_t *r)
{
    return r->lim.enabled;
}

/* fn/<fid>/<seq><ext> (ext NULL: the function's directory); "" when it
 * does not fit, which names no file. */
static void records_path(const records_t *r, const char *fid, long long seq, const char *ext,
                         char *out, size_t len)
{
    int n;
    if (ext == NULL)
        n = snprintf(out, len, "%s/%s", r->fn, fid);
    else if (seq < 0)
        n = snprintf(out, len, "%s/%s/%s", r->fn, fid, ext);
    else
        n = snprintf(out, len, "%s/%s/%010lld%s", r->fn, fid, seq, ext);
    if (n < 0 || (size_t)n >= len)
        out[0] = '\0';
}

/* The id shard of `id` (its first byte, two hex digits), `old` or not. */
static void records_shard(const records_t *r, const char *id, bool old, char *out, size_t len)
{
    snprintf(out, len, "%s/%.2s%s", r->ids, id, old ? ".old" : "");
}

/* The segment numbers of `lane` in function directory `dir`, ascending, into `*out`
 * (malloc'd; the caller frees it). 0 (none when the directory is gone), or
 * -1 with `e`. */
static int records_seqs(const char *dir, int lane, long long **out, size_t *n, err_t *e)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : err_sys(e, errno, "opendir", dir);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char *end;
        if (ent->d_name[0] < '0' || ent->d_name[0] > '9')
            continue;
        errno = 0;
        long long seq = strtoll(ent->d_name, &end, 10);
        if (errno != 0 || strcmp(end, records_idx_ext[lane]) != 0)
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            long long *grown = realloc(*out, ncap * sizeof(**out));
            if (grown == NULL) {
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return err_set(e, ERR_NOMEM, NULL, ENOMEM, "realloc() failed: out of memory");
            }
            *out = grown;
            cap = ncap;
        }
        (*out)[(*n)++] = seq;
    }
    closedir(d);
    /* Few segments, appended in order: an insertion sort is enough. */
    for (size_t i = 1; i < *n; i++)
        for (size_t k = i; k > 0 && (*out)[k - 1] > (*out)[k]; k--) {
            long long t = (*out)[k];
            (*out)[k] = (*out)[k - 1];
            (*out)[k - 1] = t;
        }
    return 0;
}

/* Make function `fid`'s directory and its name file, if missing. */
static int records_fn_ready(records_t *r, const char *fid, const char *name, err_t *e)
{
    char path[RECORDS_PATH];
    records_path(r, fid, -1, NULL, path, sizeof(path));
    if (files_mkdir(path, e) != 0)
        return -1;
    records_path(r, fid, -1, "name", path, sizeof(path));
    if (access(path, F_OK) == 0)
        return 0;
    return files_write(path, name, strlen(name), 0, e);
}

/* Open `s`'s segment for appending, moving past full ones. */
static int records_seg_open(records_t *r, records_seg *s, err_t *e)
{
    char path[RECORDS_PATH];
    struct stat st;
    for (;;) {
        records_path(r, s->fid, s->seq, records_log_ext[s->lane], path, sizeof(path));
        /* Read too: records_align checks its last byte. */
        s->log = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (s->log < 0)
            return err_sys(e, errno, "open", path);
        if (fstat(s->log, &st) != 0) {
            int sys = errno;
            records_seg_close(s);
            return err_sys(e, sys, "fstat", path);
        }
        if (st.st_size < r->seg_bytes)
            break;
        records_seg_close(s);
        s->seq++;
    }
    records_path(r, s->fid, s->seq, records_idx_ext[s->lane], path, sizeof(path));
    s->idx = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->idx < 0) {
        int sys = errno;
        records_seg_close(s);
        return err_sys(e, sys, "open", path);
    }
    return 0;
}

/* The open segment of function `fid` (named `name`) in `lane` to append to
 * (under r->mu), or NULL with `e`. */
static records_seg *records_seg_for(records_t *r, const char *fid, int lane, const char *name,
                                    err_t *e)
{
    char dir[RECORDS_PATH];
    records_seg *s = NULL;
    struct stat st;
    for (int i = 0; i < RECORDS_OPEN && s == NULL; i++)
        if (strcmp(r->open[i].fid, fid) == 0 && r->open[i].lane == lane)
            s = &r->open[i];
    if (s == NULL) {
        s = &r->open[r->next];
        r->next = (r->next + 1) % RECORDS_OPEN;
        records_seg_close(s);
        snprintf(s->fid, sizeof(s->fid), "%s", fid);
        s->lane = lane;
        s->seq = -1;
    }
    if (s->log >= 0 && fstat(s->log, &st) == 0) {
        if (st.st_nlink == 0) {
            /* The janitor deleted it (expired, or past the byte cap). */
            records_seg_close(s);
            s->seq = -1;
        } else if (st.st_size >= r->seg_bytes) {
            records_seg_close(s);
            s->seq++;
        }
    }
    if (s->log >= 0)
        return s;
    records_seg_close(s);
    if (records_fn_ready(r, fid, name, e) != 0)
        return NULL;
    if (s->seq < 0) {
        long long *seqs;
        size_t n;
        records_path(r, fid, -1, NULL, dir, sizeof(dir));
        if (records_seqs(dir, lane, &seqs, &n, e) != 0)
            return NULL;
        s->seq = n > 0 ? seqs[n - 1] : 1;
        free(seqs);
    }
    return records_seg_open(r, s, e) == 0 ? s : NULL;
}

/* A JSON string of `b` cut to `max` bytes (`*cut` set when it was). */
static json_object *records_text(const buf_t *b, size_t max, bool *cut)
{
    buf_t v = *b;
    if (v.len > max) {
        v.len = max;
        v.max = max; /* full: invoke_text drops a character cut in two */
        *cut = true;
    }
    return invoke_text(&v);
}

static void records_set_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v != NULL && v[0] != '\0' ? json_object_new_string(v) : NULL);
}

/* String field `key` of invocation record `rec`, or "" (borrowed). */
static const char *records_str(json_object *rec, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "";
}

/* The start letter and word of a run. */
static char records_start_char(const runtime_result *res)
{
    return res != NULL && res->started ? invoke_start_word(res->start)[0] : '-';
}

static const char *records_start_word(char c)
{
    return c == 'c' ? "cold" : c == 'w' ? "warm" : c == 'r' ? "reused" : NULL;
}

/* The seconds `c` had: its own, or the function's when it was refused
 * before its body was read. */
static int records_timeout(const records_call *c)
{
    long long t = c->timeout_s > 0 ? c->timeout_s : c->function->timeout;
    return t > 0 && t <= 999 ? (int)t : 0;
}

/* The full record of `c`, completed at `done_ms`. */
static json_object *records_json(const records_t *r, const records_call *c, status_record st,
                                 long long done_ms, bool *truncated)
{
    char created[CLOCK_RFC3339_LEN], done[CLOCK_RFC3339_LEN];
    const runtime_result *res = c->res;
    json_object *rec = json_object_new_object(), *result = NULL;
    clock_rfc3339(c->created_ms, created, sizeof(created));
    clock_rfc3339(done_ms, done, sizeof(done));
    *truncated = res != NULL && res->truncated;
    records_set_str(rec, "id", c->id);
    records_set_str(rec, "type", "sync");
    records_set_str(rec, "function_id", c->function->id);
    records_set_str(rec, "function_name", c->function->name);
    records_set_str(rec, "status", status_record_name(st));
    records_set_str(rec, "start", records_start_word(records_start_char(res)));
    records_set_str(rec, "created_at", created);
    records_set_str(rec, "started_at", res != NULL ? created : NULL);
    records_set_str(rec, "completed_at", done);
    json_object_object_add(rec, "attempts", json_object_new_int(res != NULL ? 1 : 0));
    json_object_object_add(rec, "max_attempts", json_object_new_int(1));
    json_object_object_add(rec, "timeout", json_object_new_int(records_timeout(c)));
    records_set_str(rec, "error",
                    res == NULL                       ? c->error
                    : res->status == STATUS_SUCCEEDED ? NULL
                                                      : res->message);
    records_set_str(rec, "code", c->code);
    json_object_object_add(rec, "http_status", json_object_new_int(c->http_status));
    records_set_str(rec, "created_by", c->creator);
    if (res != NULL) {
        bool exited = res->status == STATUS_SUCCEEDED || res->status == STATUS_FAILED;
        result = json_object_new_object();
        json_object_object_add(result, "output",
                               records_text(&res->out, r->lim.output_max, truncated));
        json_object_object_add(result, "logs",
                               records_text(&res->err, r->lim.output_max, truncated));
        json_object_object_add(result, "output_bytes",
                               json_object_new_int64((long long)res->out.len));
        json_object_object_add(result, "logs_bytes",
                               json_object_new_int64((long long)res->err.len));
        json_object_object_add(result, "duration_ms", json_object_new_int64(res->duration_ms));
        json_object_object_add(result, "exit_code",
                               exited ? json_object_new_int(res->exit_code) : NULL);
        json_object_object_add(result, "truncated", json_object_new_boolean(*truncated));
    }
    json_object_object_add(rec, "truncated", json_object_new_boolean(*truncated));
    json_object_object_add(rec, "result", result);
    return rec;
}

/* Where column `i` of `cols` starts. */
static int records_col_at(const records_col *cols, int i)
{
    int at = 0;
    for (int j = 0; j < i; j++)
        at += cols[j].width + 1;
    return at;
}

/* Write `v` (one value per column of `cols`, `ncols`) as a line of
 * `linelen` bytes, '\n' included, into `line` (the caller's, at least
 * `linelen`). 0, or -1 when a number does not fit its column or the
 * columns do not fit the line. */
static int records_line_put(const records_col *cols, int ncols, const records_val *v, char *line,
                            size_t linelen)
{
    char cell[40];
    size_t at = 0;
    memset(line, ' ', linelen - 1);
    line[linelen - 1] = '\n';
    for (int i = 0; i < ncols; i++) {
        size_t w = (size_t)cols[i].width;
        int n = 0;
        switch (cols[i].kind) {
        case RECORDS_COL_NUM0:
            n = snprintf(cell, sizeof(cell), "%0*lld", cols[i].width, v[i].n);
            break;
        case RECORDS_COL_NUM:
            n = snprintf(cell, sizeof(cell), "%*lld", cols[i].width, v[i].n);
            break;
        case RECORDS_COL_WORD:
            n = snprintf(cell, sizeof(cell), "%-*.*s", cols[i].width, cols[i].width,
                         v[i].s != NULL && v[i].s[0] != '\0' ? v[i].s : "-");
            break;
        case RECORDS_COL_CHAR:
            cell[0] = v[i].c;
            n = 1;
            break;
        }
        if (n < 0 || (size_t)n != w || at + w >= linelen)
            return -1;
        memcpy(line + at, cell, w);
        at += w + 1;
    }
    return 0;
}

/* Column `i` of `cols` in `line`, a number (leading spaces allowed). 0, or
 * -1. */
static int records_get_num(const records_col *cols, int i, const char *line, long long *out)
{
    char tmp[24], *end;
    const char *p = tmp;
    memcpy(tmp, line + records_col_at(cols, i), (size_t)cols[i].width);
    tmp[cols[i].width] = '\0';
    while (*p == ' ')
        p++;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || *end != '\0' || errno != 0)
        return -1;
    *out = v;
    return 0;
}

/* Column `i` of `cols` in `line`, a word, trailing spaces cut and "-" as
 * "", into `out` (the caller's). */
static void records_get_word(const records_col *cols, int i, const char *line, char *out,
                             size_t outlen)
{
    int at = records_col_at(cols, i), n = cols[i].width;
    while (n > 0 && line[at + n - 1] == ' ')
        n--;
    if (n == 1 && line[at] == '-')
        n = 0;
    snprintf(out, outlen, "%.*s", n, line + at);
}

/* Column `i` of `cols` in `line`, a char. */
static char records_get_char(const records_col *cols, int i, const char *line)
{
    return line[records_col_at(cols, i)];
}

/* Make the `n` characters written at `out` a fixed-width line: spaces up
 * to `width` - 1 bytes, then '\n'. */
static void records_pad(char *out, size_t width, int n)
{
    if (n < 0)
        n = 0;
    if ((size_t)n > width - 1)
        n = (int)width - 1;
    memset(out + n, ' ', width - 1 - (size_t)n);
    out[width - 1] = '\n';
}

/*
 * What to write before a line so that it starts on a line boundary of the
 * file behind `fd`: nothing when it is aligned, else the rest of a torn
 * tail (an append cut short by a full disk, or a crash mid-write) into
 * `pad` (at least `width` bytes, or 1), spaces then '\n'. Files of fixed
 * `width` lines are padded to the next multiple of it, so sizes still count
 * lines; a log (`width` 0) gets a newline after a last byte that is not
 * one. A torn tail is padded past, never truncated: another process may be
 * appending to the same file. Returns the pad's length.
 */
static size_t records_align(int fd, size_t width, char *pad)
{
    struct stat st;
    char last;
    size_t n = 1;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        return 0;
    if (width > 0) {
        size_t rem = (size_t)(st.st_size % (off_t)width);
        if (rem == 0)
            return 0; /* every write is whole lines: a multiple is whole lines */
        n = width - rem;
    } else if (pread(fd, &last, 1, st.st_size - 1) != 1 || last == '\n') {
        return 0;
    }
    memset(pad, ' ', n - 1);
    pad[n - 1] = '\n';
    return n;
}

/* Append `line` (`len` bytes) to `fd` (named `path`), after the pad that
 * re-aligns a torn tail (counted as `torn` once it is written, so a tail
 * that waits out a full disk counts once). */
static int records_put(records_t *r, int fd, const char *path, size_t width, const char *line,
                       size_t len, metrics_storage_event torn, err_t *e)
{
    char pad[RECORDS_IDX_LEN];
    size_t n = records_align(fd, width, pad);
    struct iovec v[3] = {{.iov_base = pad, .iov_len = n},
                         {.iov_base = (void *)line, .iov_len = len},
                         {.iov_base = "\n", .iov_len = width > 0 ? 0 : 1}};
    if (files_append(fd, path, v, 3, e) != 0)
        return -1;
    if (n > 0)
        metrics_storage(r->metrics, torn, 1);
    return 0;
}

/* Blank the index line at `off` of `path`, whose record's id line could
 * not be written: readers skip it, so no listing shows a record that
 * cannot be read by id. Overwriting allocated bytes needs no free space. */
static void records_void(const char *path, long long off)
{
    char blank[RECORDS_IDX_LEN];
    records_pad(blank, sizeof(blank), 0);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (pwrite(fd, blank, sizeof(blank), off) != (ssize_t)sizeof(blank))
        log_warn("records: an index line of %s could not be blanked: %s", path, strerror(errno));
    close(fd);
}

int records_append(records_t *r, const records_call *c, err_t *e)
{
    char idx[RECORDS_IDX_LEN + 1], idl[RECORDS_ID_LEN + 1], path[RECORDS_PATH];
    const char *fid = c->function->id;
    const runtime_result *res = c->res;
    bool truncated = false;
    size_t len;
    int rc = -1;

    if (!r->lim.enabled)
        return 0;
    err_clear(e);
    if (!func_is_id(c->id) || !func_is_id(fid))
        return err_set(e, ERR_INTERNAL, NULL, 0, "a record needs an invocation and function id");
    status_record st = res != NULL ? status_sync(res->status) : STATUS_REC_REJECTED;
    int lane = res != NULL ? RECORDS_RAN : RECORDS_REJ;
    pthread_mutex_lock(&r->mu);
    /* The completion time is read under the lock, just before the append,
     * so that within a process index lines are in time order. */
    long long done = c->done_ms > 0 ? c->done_ms : clock_pool_ms();
    json_object *rec = records_json(r, c, st, done, &truncated);
    const char *text = json_object_to_json_string_length(rec, records_json_flags, &len);
    if (text == NULL)
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "json_object_to_json_string() failed");
    /* A segment the janitor deleted between our check and our write took a
     * record nobody can read: write it once more into a fresh one. A write
     * that fails (a full disk) ends the attempt on the segment it was
     * made to: the next append pads past what it left, so a failure never
     * makes a segment of its own. */
    for (int attempt = 0; text != NULL && attempt < 2 && rc != 0; attempt++) {
        records_seg *s = records_seg_for(r, fid, lane, c->function->name, e);
        if (s == NULL)
            break;
        records_path(r, fid, s->seq, records_log_ext[lane], path, sizeof(path));
        if (records_put(r, s->log, path, 0, text, len, METRICS_RECORD_TORN_LOG, e) != 0)
            break;
        /* Appending moved our descriptor's offset to the end of our line
         * (under r->mu, nobody else in this process uses it). */
        long long end = (long long)lseek(s->log, 0, SEEK_CUR);
        long long off = end - (long long)len - 1;
        long long duration = res != NULL ? res->duration_ms : 0;
        int exit_code =
            res != NULL && (res->status == STATUS_SUCCEEDED || res->status == STATUS_FAILED)
                ? res->exit_code
                : -1;
        const records_val iv[RX__COLS] = {
            [RX_CREATED] = {.n = c->created_ms},
            [RX_DONE] = {.n = done},
            [RX_ID] = {.s = c->id},
            [RX_STATUS] = {.n = (int)st},
            [RX_START] = {.c = records_start_char(res)},
            [RX_DURATION] = {.n = duration},
            [RX_OFF] = {.n = off},
            [RX_LEN] = {.n = (long long)len},
            [RX_EXIT] = {.n = exit_code < -1 || exit_code > 9999 ? -1 : exit_code},
            [RX_TRUNC] = {.n = truncated ? 1 : 0},
            [RX_HTTP] = {.n = c->http_status % 1000},
            [RX_CREATOR] = {.s = c->creator},
            [RX_CODE] = {.s = c->code},
            [RX_TIMEOUT] = {.n = records_timeout(c)},
        };
        if (records_line_put(records_idx_cols, RX__COLS, iv, idx, RECORDS_IDX_LEN) != 0) {
            err_set(e, ERR_INTERNAL, NULL, 0, "records: a value does not fit its index column");
            break;
        }
        char ipath[RECORDS_PATH];
        records_path(r, fid, s->seq, records_idx_ext[lane], ipath, sizeof(ipath));
        if (records_put(r, s->idx, ipath, RECORDS_IDX_LEN, idx, RECORDS_IDX_LEN,
                        METRICS_RECORD_TORN_INDEX, e) != 0)
            break;
        long long idx_off = (long long)lseek(s->idx, 0, SEEK_CUR) - RECORDS_IDX_LEN;
        const records_val lv[RI__COLS] = {
            [RI_ID] = {.s = c->id},
            [RI_FID] = {.s = fid},
            [RI_SEQ] = {.n = s->seq},
            [RI_OFF] = {.n = off},
            [RI_LEN] = {.n = (long long)len + 1},
            [RI_IDX_OFF] = {.n = idx_off},
            [RI_LANE] = {.c = lane == RECORDS_REJ ? 'r' : 's'},
        };
        if (records_line_put(records_id_cols, RI__COLS, lv, idl, RECORDS_ID_LEN) != 0) {
            err_set(e, ERR_INTERNAL, NULL, 0, "records: a value does not fit its id column");
            records_void(ipath, idx_off);
            break;
        }
        records_shard(r, c->id, false, path, sizeof(path));
        /* Opened for each record: the janitor renames shards to compact
         * them, and a descriptor kept open would keep writing to the old. */
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        int w = fd < 0 ? err_sys(e, errno, "open", path)
                       : records_put(r, fd, path, RECORDS_ID_LEN, idl, RECORDS_ID_LEN,
                                     METRICS_RECORD_TORN_IDS, e);
        if (fd >= 0)
            close(fd);
        if (w != 0) {
            records_void(ipath, idx_off);
            break;
        }
        struct stat ls, is;
        if (fstat(s->log, &ls) == 0 && fstat(s->idx, &is) == 0 && ls.st_nlink > 0 &&
            is.st_nlink > 0)
            rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    json_object_put(rec);
    if (rc != 0 && e->kind == ERR_NONE)
        err_set(e, ERR_STORAGE, NULL, 0, "the record's segment was deleted while written");
    return rc;
}

/* Parse one index line (`len` bytes, '\n' not included). 0, or -1 for a
 * line that is not one (a torn append). */
static int records_parse(const char *line, size_t len, records_entry *en)
{
    const records_col *cols = records_idx_cols;
    long long v[RX__COLS];
    if (len != RECORDS_IDX_LEN - 1)
        return -1;
    for (int i = 0; i < RX__COLS; i++)
        if (cols[i].kind != RECORDS_COL_WORD && cols[i].kind != RECORDS_COL_CHAR &&
            records_get_num(cols, i, line, &v[i]) != 0)
            return -1;
    records_get_word(cols, RX_ID, line, en->id, sizeof(en->id));
    records_get_word(cols, RX_CREATOR, line, en->creator, sizeof(en->creator));
    records_get_word(cols, RX_CODE, line, en->code, sizeof(en->code));
    en->start = records_get_char(cols, RX_START, line);
    if (!func_is_id(en->id) || v[RX_STATUS] < 0 || v[RX_STATUS] >= STATUS__RECORDS ||
        strchr("cwr-", en->start) == NULL || en->start == '\0')
        return -1;
    en->created = v[RX_CREATED];
    en->done = v[RX_DONE];
    en->status = (int)v[RX_STATUS];
    en->duration = v[RX_DURATION];
    en->off = v[RX_OFF];
    en->len = v[RX_LEN];
    en->exit = (int)v[RX_EXIT];
    en->truncated = v[RX_TRUNC] != 0;
    en->http = (int)v[RX_HTTP];
    en->timeout = (int)v[RX_TIMEOUT];
    return 0;
}

/* Visit the lines of index file `path` from the last to the first; torn
 * ones (and padded or blanked ones) are skipped and counted in `*skipped`.
 * `visit` returns 0 to go on, 1 to stop. Returns 1 when stopped, 0 at the
 * start of the file (or when it does not exist), -1 with `e`. */
static int records_scan_back(const char *path, int (*visit)(const records_entry *, void *),
                             void *arg, long long *skipped, err_t *e)
{
    char *blk = NULL;
    int rc = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : err_sys(e, errno, "open", path);
    if (fstat(fd, &st) != 0) {
        rc = err_sys(e, errno, "fstat", path);
        goto done;
    }
    blk = malloc(RECORDS_BLOCK);
    if (blk == NULL) {
        rc = err_set(e, ERR_NOMEM, NULL, ENOMEM, "malloc() failed: out of memory");
        goto done;
    }
    long long end = st.st_size;
    bool first = true;
    while (end > 0 && rc == 0) {
        long long start = end > RECORDS_BLOCK ? end - RECORDS_BLOCK : 0;
        ssize_t got = pread(fd, blk, (size_t)(end - start), start);
        if (got != end - start) {
            rc = err_sys(e, got < 0 ? errno : EIO, "pread", path);
            break;
        }
        size_t p = (size_t)got;
        if (first) {
            /* A torn last line (an append cut short) is no record. */
            size_t whole = p;
            while (p > 0 && blk[p - 1] != '\n')
                p--;
            *skipped += p < whole;
            first = false;
        }
        size_t before = p;
        while (p > 0 && rc == 0) {
            size_t q = p - 1;
            while (q > 0 && blk[q - 1] != '\n')
                q--;
            if (q == 0 && start > 0)
                break; /* the line may begin in the block before */
            records_entry en;
            if (records_parse(blk + q, p - 1 - q, &en) == 0)
                rc = visit(&en, arg);
            else
                (*skipped)++;
            p = q;
        }
        if (p == before && start > 0) {
            p = 0; /* a "line" longer than a block: not ours, skip it */
            (*skipped)++;
        }
        end = start + (long long)p;
    }
done:
    free(blk);
    close(fd);
    return rc;
}

/* The first (oldest) line of index file `path`. 0, or -1 when it has none. */
static int records_first(const char *path, records_entry *en)
{
    char line[RECORDS_IDX_LEN];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = pread(fd, line, sizeof(line), 0);
    close(fd);
    if (got != (ssize_t)sizeof(line) || line[RECORDS_IDX_LEN - 1] != '\n')
        return -1;
    return records_parse(line, RECORDS_IDX_LEN - 1, en);
}

/* Records in index file `path`, from its size. */
static long long records_count(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size / RECORDS_IDX_LEN : 0;
}

int records_key_cmp(const records_key *a, const records_key *b)
{
    if (a->created_ms != b->created_ms)
        return a->created_ms > b->created_ms ? -1 : 1;
    int c = strcmp(a->id, b->id);
    return c > 0 ? -1 : c < 0 ? 1 : 0;
}

int records_key_of(json_object *rec, records_key *k)
{
    const char *id = records_str(rec, "id");
    if (!func_is_id(id) ||
        clock_parse_rfc3339_ms(records_str(rec, "created_at"), &k->created_ms) != 0)
        return -1;
    snprintf(k->id, sizeof(k->id), "%s", id);
    return 0;
}

int records_cursor_encode(const records_key *k, char *out, size_t outlen)
{
    char text[80];
    int n = snprintf(text, sizeof(text), "1.%lld.%s", k->created_ms, k->id);
    /* base64url without padding: opaque to clients, safe in a query. */
    if (n < 0 || (size_t)n >= sizeof(text) || b64_url_encode(text, (size_t)n, out, outlen) < 0)
        return -1;
    return 0;
}

int records_cursor_decode(const char *s, records_key *k)
{
    unsigned char text[80];
    char *end;
    if (b64_url_decode(s, text, sizeof(text)) < 0 || strncmp((char *)text, "1.", 2) != 0 ||
        text[2] < '0' || text[2] > '9')
        return -1;
    errno = 0;
    long long ms = strtoll((char *)text + 2, &end, 10);
    if (errno != 0 || *end != '.' || !func_is_id(end + 1))
        return -1;
    k->created_ms = ms;
    snprintf(k->id, sizeof(k->id), "%s", end + 1);
    return 0;
}

/* The name in function directory `fid`'s name file into `out` ("" when
 * it has none). */
static void records_name(const records_t *r, const char *fid, char *out, size_t outlen)
{
    char path[RECORDS_PATH];
    out[0] = '\0';
    records_path(r, fid, -1, "name", path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, outlen - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
}

/* A listed record of function `fid` named `name`, from its index line. */
static json_object *records_entry_json(const records_entry *en, const char *fid, const char *name)
{
    char created[CLOCK_RFC3339_LEN], done[CLOCK_RFC3339_LEN];
    json_object *o = json_object_new_object();
    clock_rfc3339(en->created, created, sizeof(created));
    clock_rfc3339(en->done, done, sizeof(done));
    records_set_str(o, "id", en->id);
    records_set_str(o, "type", "sync");
    records_set_str(o, "function_id", fid);
    records_set_str(o, "function_name", name);
    records_set_str(o, "status", status_record_name((status_record)en->status));
    records_set_str(o, "start", records_start_word(en->start));
    records_set_str(o, "created_at", created);
    records_set_str(o, "started_at", en->status == STATUS_REC_REJECTED ? NULL : created);
    records_set_str(o, "completed_at", done);
    json_object_object_add(o, "attempts",
                           json_object_new_int(en->status == STATUS_REC_REJECTED ? 0 : 1));
    json_object_object_add(o, "max_attempts", json_object_new_int(1));
    json_object_object_add(o, "timeout", json_object_new_int(en->timeout));
    /* The reason's text is in the record (by id); a listing has its code. */
    json_object_object_add(o, "error", NULL);
    json_object_object_add(o, "duration_ms", json_object_new_int64(en->duration));
    json_object_object_add(o, "exit_code", en->exit >= 0 ? json_object_new_int(en->exit) : NULL);
    json_object_object_add(o, "http_status", json_object_new_int(en->http));
    records_set_str(o, "code", en->code);
    json_object_object_add(o, "truncated", json_object_new_boolean(en->truncated));
    records_set_str(o, "created_by", en->creator);
    return o;
}

/* One candidate of a listing. */
typedef struct {
    records_key key;
    json_object *entry; /* owned */
} records_item;

/* A listing in progress: the best `limit` so far, newest first. */
typedef struct {
    records_t *r;
    const records_query *q;
    long long cutoff; /* completed before this: past the retention */
    const char *fid, *name;
    long long rank;  /* records of the current function seen, newest first */
    bool stop;       /* nothing older of this function can enter */
    long long floor; /* this pass reads lines completed after this only */
    bool cut;        /* a function had lines older than the floor */
    records_item *items;
    int n;
    long long skipped; /* lines read that were no record */
} records_listing;

static int records_list_visit(const records_entry *en, void *arg)
{
    records_listing *l = arg;
    const records_query *q = l->q;
    records_key key = {.created_ms = en->created};

    /* Past the cap: this one and every older one are pruned. */
    if (++l->rank > l->r->lim.per_function)
        return l->stop = true;
    /* Lines are in completion order to within the skew: once they are
     * older than the page's last (or `since`, or the retention) by more,
     * nothing further back can enter. */
    if (en->done < l->cutoff - RECORDS_SKEW_MS ||
        (q->since_ms >= 0 && en->done < q->since_ms - RECORDS_SKEW_MS) ||
        (l->n == q->limit && en->done < l->items[l->n - 1].key.created_ms - RECORDS_SKEW_MS))
        return l->stop = true;
    if (en->done < l->floor - RECORDS_SKEW_MS) {
        l->cut = true;
        return l->stop = true;
    }
    if (en->done < l->cutoff || (q->status >= 0 && en->status != q->status) ||
        (q->since_ms >= 0 && en->created < q->since_ms))
        return 0;
    snprintf(key.id, sizeof(key.id), "%s", en->id);
    if ((q->before != NULL && records_key_cmp(&key, q->before) <= 0) ||
        (l->n == q->limit && records_key_cmp(&key, &l->items[l->n - 1].key) >= 0))
        return 0;
    json_object *entry = records_entry_json(en, l->fid, l->name);
    if (q->keep != NULL && !q->keep(entry, q->arg)) {
        json_object_put(entry);
        return 0;
    }
    /* Insert in order; the last one falls off a full page. */
    if (l->n == q->limit)
        json_object_put(l->items[--l->n].entry);
    int i = l->n++;
    for (; i > 0 && records_key_cmp(&key, &l->items[i - 1].key) < 0; i--)
        l->items[i] = l->items[i - 1];
    l->items[i] = (records_item){.key = key, .entry = entry};
    return 0;
}

/* List the records of function `fid` (named `name`) in `lane` into `l`;
 * each lane has its own cap. */
static int records_list_lane(records_listing *l, const char *fid, int lane, err_t *e)
{
    char dir[RECORDS_PATH], path[RECORDS_PATH];
    long long *seqs;
    size_t n;
    records_path(l->r, fid, -1, NULL, dir, sizeof(dir));
    if (records_seqs(dir, lane, &seqs, &n, e) != 0)
        return -1;
    l->rank = 0;
    l->stop = false;
    int rc = 0;
    for (size_t i = n; i-- > 0 && !l->stop && rc == 0;) {
        records_entry first;
        records_path(l->r, fid, seqs[i], records_idx_ext[lane], path, sizeof(path));
        /* A page after a cursor: a segment whose oldest record completed
         * so late that none of its records can have been created before
         * the cursor is only counted. */
        if (l->q->before != NULL && records_first(path, &first) == 0 &&
            first.done - RECORDS_RUN_MAX_MS - RECORDS_SKEW_MS > l->q->before->created_ms) {
            l->rank += records_count(path);
            continue;
        }
        rc = records_scan_back(path, records_list_visit, l, &l->skipped, e) < 0 ? -1 : 0;
    }
    free(seqs);
    return rc;
}

/* List function `fid`'s records into `l`. */
static int records_list_fn(records_listing *l, const char *fid, err_t *e)
{
    char name[RECORDS_NAME_MAX];
    records_name(l->r, fid, name, sizeof(name));
    if (l->q->function != NULL && strcmp(l->q->function, fid) != 0 &&
        strcmp(l->q->function, name) != 0)
        return 0;
    l->fid = fid;
    l->name = name;
    int rc = 0;
    for (int lane = 0; lane < RECORDS__LANES && rc == 0; lane++)
        rc = records_list_lane(l, fid, lane, e);
    return rc;
}

int records_list(records_t *r, const records_query *q, json_object **out, err_t *e)
{
    records_listing l = {.r = r, .q = q};
    int rc = 0;
    *out = NULL;
    l.cutoff = clock_pool_ms() - r->lim.retention_s * 1000;
    l.items = calloc((size_t)(q->limit > 0 ? q->limit : 1), sizeof(*l.items));
    if (l.items == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
    DIR *d = opendir(r->fn);
    if (d == NULL) {
        free(l.items);
        return err_sys(e, errno, "opendir", r->fn);
    }
    /* With a function id, only its directory; else every one. Functions
     * are read one after the other, each back to a floor in time: a pass
     * whose page is not full at the floor (a filter few records match, a
     * function with none) goes again with a floor further back, so one
     * function is never read to its start before the others are read at
     * all. */
    bool by_id = q->function != NULL && func_is_id(q->function);
    long long anchor = q->before != NULL ? q->before->created_ms : clock_pool_ms();
    for (long long window = RECORDS_WINDOW_MS; rc == 0; window *= 8) {
        struct dirent *ent;
        l.floor = anchor - window;
        l.cut = false;
        for (int i = 0; i < l.n; i++)
            json_object_put(l.items[i].entry);
        l.n = 0;
        rewinddir(d);
        while (rc == 0 && (ent = readdir(d)) != NULL) {
            if (!func_is_id(ent->d_name) || (by_id && strcmp(ent->d_name, q->function) != 0))
                continue;
            rc = records_list_fn(&l, ent->d_name, e);
        }
        /* Done when no function had lines past the floor, or when the page
         * is full with records all created after it (no line completed
         * before the floor can have been created later). */
        if (!l.cut || (l.n == q->limit && l.items[l.n - 1].key.created_ms >= l.floor))
            break;
    }
    closedir(d);
    metrics_storage(r->metrics, METRICS_RECORD_SKIPPED, (unsigned long long)l.skipped);
    json_object *arr = json_object_new_array();
    for (int i = 0; i < l.n; i++)
        json_object_array_add(arr, l.items[i].entry);
    free(l.items);
    if (rc != 0) {
        json_object_put(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

int records_not_found(const char *id, err_t *e)
{
    return err_set(e, ERR_NOT_FOUND, NULL, 0, "invocation \"%.64s\" not found", id);
}

/* The lane an id line names. */
static int records_id_lane(const char *line)
{
    return records_get_char(records_id_cols, RI_LANE, line) == 'r' ? RECORDS_REJ : RECORDS_RAN;
}

/* Where the id line of `id` in shard `path` says its record is. 1 found,
 * 0 not, -1 with `e`. Lines read that are no id line (torn, padded) are
 * counted in `*skipped`. */
static int records_locate(const char *path, const char *id, char *fid, int *lane, long long *seq,
                          long long *off, long long *len, long long *idx_off, long long *skipped,
                          err_t *e)
{
    buf_t b;
    int found = 0;
    buf_init(&b, RECORDS_SHARD_MAX);
    if (files_read(path, &b, e) != 0) {
        buf_free(&b);
        return e->kind == ERR_NOT_FOUND ? 0 : -1;
    }
    /* The newest line first: a compaction may have copied an older one. */
    size_t p = b.len;
    while (p > 0 && b.data[p - 1] != '\n')
        p--;
    *skipped += p < b.len;
    while (p > 0 && found == 0) {
        size_t q = p - 1;
        while (q > 0 && b.data[q - 1] != '\n')
            q--;
        const char *line = b.data + q;
        char lid[RUNTIME_ID_LEN] = "";
        long long v;
        bool whole = p - 1 - q == RECORDS_ID_LEN - 1;
        const records_col *cols = records_id_cols;
        if (whole)
            records_get_word(cols, RI_ID, line, lid, sizeof(lid));
        if (!whole || !func_is_id(lid) || records_get_num(cols, RI_IDX_OFF, line, &v) != 0)
            (*skipped)++;
        else if (strcmp(lid, id) == 0 && records_get_num(cols, RI_SEQ, line, seq) == 0 &&
                 records_get_num(cols, RI_OFF, line, off) == 0 &&
                 records_get_num(cols, RI_LEN, line, len) == 0 &&
                 records_get_num(cols, RI_IDX_OFF, line, idx_off) == 0) {
            records_get_word(cols, RI_FID, line, fid, RUNTIME_ID_LEN);
            *lane = records_id_lane(line);
            found = func_is_id(fid) ? 1 : 0;
        }
        p = q;
    }
    buf_free(&b);
    return found;
}

/* How many records of function `fid` in `lane` are newer than the one at
 * `idx_off` of segment `seq`. */
static long long records_rank(records_t *r, const char *fid, int lane, long long seq,
                              long long idx_off)
{
    char dir[RECORDS_PATH], path[RECORDS_PATH];
    long long *seqs, rank;
    size_t n;
    err_t e;
    records_path(r, fid, seq, records_idx_ext[lane], path, sizeof(path));
    rank = records_count(path) - idx_off / RECORDS_IDX_LEN - 1;
    records_path(r, fid, -1, NULL, dir, sizeof(dir));
    if (records_seqs(dir, lane, &seqs, &n, &e) != 0)
        return rank;
    for (size_t i = 0; i < n; i++) {
        if (seqs[i] <= seq)
            continue;
        records_path(r, fid, seqs[i], records_idx_ext[lane], path, sizeof(path));
        rank += records_count(path);
    }
    free(seqs);
    return rank;
}

int records_get(records_t *r, const char *id, json_object **out, err_t *e)
{
    char path[RECORDS_PATH], fid[RUNTIME_ID_LEN];
    long long seq, off, len, idx_off, done;
    int found = 0, lane = RECORDS_RAN;
    *out = NULL;
    /* Ids are lowercase UUIDs: anything else can never name a record. */
    if (!func_is_id(id))
        return records_not_found(id, e);
    long long skipped = 0;
    for (int old = 0; old < 2 && found == 0; old++) {
        records_shard(r, id, old, path, sizeof(path));
        found = records_locate(path, id, fid, &lane, &seq, &off, &len, &idx_off, &skipped, e);
    }
    metrics_storage(r->metrics, METRICS_RECORD_SKIPPED, (unsigned long long)skipped);
    if (found <= 0)
        return found < 0 ? -1 : records_not_found(id, e);
    if (len < 2 || len > RECORDS_LINE_MAX)
        return records_not_found(id, e);
    records_path(r, fid, seq, records_log_ext[lane], path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? records_not_found(id, e) : err_sys(e, errno, "open", path);
    /* One line of known length: read it in one go. */
    char *line = malloc((size_t)len);
    json_object *rec = NULL;
    if (line != NULL && pread(fd, line, (size_t)len, off) == len && line[len - 1] == '\n') {
        line[len - 1] = '\0';
        rec = json_tokener_parse(line);
    }
    close(fd);
    free(line);
    if (line == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "malloc() failed: out of memory");
    /* The line must be the record the id line promised, still visible. */
    if (rec == NULL || !json_object_is_type(rec, json_type_object) ||
        strcmp(records_str(rec, "id"), id) != 0 ||
        clock_parse_rfc3339_ms(records_str(rec, "completed_at"), &done) != 0 ||
        done < clock_pool_ms() - r->lim.retention_s * 1000 ||
        records_rank(r, fid, lane, seq, idx_off) >= r->lim.per_function) {
        json_object_put(rec);
        return records_not_found(id, e);
    }
    *out = rec;
    return 0;
}

/* One segment as the janitor sees it. */
typedef struct {
    char fid[RUNTIME_ID_LEN];
    int lane;
    long long seq;
    long long bytes;   /* its .log and .idx */
    long long entries; /* records in it */
    long long mtime_ms;
} records_segment;

typedef struct {
    records_segment *v;
    size_t n, cap;
} records_segments;

static int records_seg_cmp_id(const void *x, const void *y)
{
    const records_segment *a = x, *b = y;
    int c = strcmp(a->fid, b->fid);
    if (c == 0)
        c = a->lane - b->lane;
    return c != 0 ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static int records_seg_cmp_age(const void *x, const void *y)
{
    const records_segment *a = x, *b = y;
    return (a->mtime_ms > b->mtime_ms) - (a->mtime_ms < b->mtime_ms);
}

/* Delete segment `seq` of `fid` in `lane`; its size into `*freed`. */
static void records_seg_delete(records_t *r, const char *fid, int lane, long long seq,
                               long long *freed)
{
    const char *const ext[] = {records_log_ext[lane], records_idx_ext[lane]};
    char path[RECORDS_PATH];
    struct stat st;
    for (int i = 0; i < 2; i++) {
        records_path(r, fid, seq, ext[i], path, sizeof(path));
        if (stat(path, &st) == 0 && unlink(path) == 0)
            *freed += records_blocks(&st);
    }
}

/* Stat segment `seq` of `fid` in `lane` into `s`. */
static void records_seg_stat(records_t *r, const char *fid, int lane, long long seq,
                             records_segment *s)
{
    char path[RECORDS_PATH];
    struct stat st;
    memset(s, 0, sizeof(*s));
    snprintf(s->fid, sizeof(s->fid), "%s", fid);
    s->lane = lane;
    s->seq = seq;
    records_path(r, fid, seq, records_log_ext[lane], path, sizeof(path));
    if (stat(path, &st) == 0) {
        s->bytes += records_blocks(&st);
        s->mtime_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    }
    records_path(r, fid, seq, records_idx_ext[lane], path, sizeof(path));
    if (stat(path, &st) == 0) {
        s->bytes += records_blocks(&st);
        s->entries = st.st_size / RECORDS_IDX_LEN;
        long long m = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (m > s->mtime_ms)
            s->mtime_ms = m;
    }
}

static int records_keep_seg(records_segments *all, const records_segment *s, err_t *e)
{
    if (all->n == all->cap) {
        size_t ncap = all->cap ? all->cap * 2 : 64;
        records_segment *grown = realloc(all->v, ncap * sizeof(*grown));
        if (grown == NULL)
            return err_set(e, ERR_NOMEM, NULL, ENOMEM, "realloc() failed: out of memory");
        all->v = grown;
        all->cap = ncap;
    }
    all->v[all->n++] = *s;
    return 0;
}

/* Prune function `fid` by its cap and the retention; what stays goes into
 * `all`. */
static int records_prune_fn(records_t *r, const char *fid, long long cutoff, records_segments *all,
                            records_pruned *out, err_t *e)
{
    char dir[RECORDS_PATH], path[RECORDS_PATH];
    size_t left = 0;
    int rc = 0;
    records_path(r, fid, -1, NULL, dir, sizeof(dir));
    for (int lane = 0; lane < RECORDS__LANES && rc == 0; lane++) {
        long long *seqs, newer = 0;
        size_t n;
        if (records_seqs(dir, lane, &seqs, &n, e) != 0)
            return -1;
        /* The retention takes at most the oldest share of the segments per
         * pass: a clock that jumped ahead across a restart thins the
         * history over several passes, never empties it in one. */
        size_t aged = (n + RECORDS_PRUNE_SHARE - 1) / RECORDS_PRUNE_SHARE;
        for (size_t i = n; i-- > 0 && rc == 0;) {
            records_segment s;
            records_seg_stat(r, fid, lane, seqs[i], &s);
            /* Every record of it is past its lane's cap, or it was last
             * written before the retention's start (so all of its records
             * were). */
            if (newer >= r->lim.per_function ||
                (i < aged && s.mtime_ms < cutoff - RECORDS_SKEW_MS)) {
                records_seg_delete(r, fid, lane, seqs[i], &out->bytes_freed);
                out->segments++;
            } else {
                rc = records_keep_seg(all, &s, e);
                left++;
            }
            newer += s.entries;
        }
        free(seqs);
    }
    if (rc == 0 && left == 0) {
        /* Nothing left of a function: its directory goes too (an append
         * that races makes it again). */
        records_path(r, fid, -1, "name", path, sizeof(path));
        unlink(path);
        rmdir(dir);
    }
    return rc;
}

/* Compact id shard `xx` (two hex digits): drop the lines of segments not in
 * `all` (sorted by id). A shard is first renamed to <xx>.old, where
 * lookups still find it, and copied back one pass later, so an append that
 * opened it just before the rename is not lost. Returns its size after. */
static long long records_compact(records_t *r, int shard, const records_segments *all)
{
    char xx[3], path[RECORDS_PATH], old[RECORDS_PATH];
    struct stat st;
    err_t e;
    snprintf(xx, sizeof(xx), "%02x", (unsigned)shard & 0xffu);
    records_shard(r, xx, false, path, sizeof(path));
    records_shard(r, xx, true, old, sizeof(old));
    if (stat(old, &st) == 0) {
        buf_t in, keep;
        buf_init(&in, RECORDS_SHARD_MAX);
        buf_init(&keep, RECORDS_SHARD_MAX);
        if (files_read(old, &in, &e) == 0) {
            for (size_t p = 0; p + RECORDS_ID_LEN <= in.len; p += RECORDS_ID_LEN) {
                const char *line = in.data + p;
                records_segment key;
                if (line[RECORDS_ID_LEN - 1] != '\n') {
                    /* Out of step after a torn line: find the next. */
                    const char *nl = memchr(line, '\n', in.len - p);
                    if (nl == NULL)
                        break;
                    p = (size_t)(nl + 1 - in.data) - RECORDS_ID_LEN;
                    continue;
                }
                records_get_word(records_id_cols, RI_FID, line, key.fid, sizeof(key.fid));
                key.lane = records_id_lane(line);
                if (records_get_num(records_id_cols, RI_SEQ, line, &key.seq) == 0 && all->n > 0 &&
                    bsearch(&key, all->v, all->n, sizeof(*all->v), records_seg_cmp_id) != NULL)
                    buf_append(&keep, line, RECORDS_ID_LEN);
            }
            int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            bool ok = fd >= 0;
            /* Whole lines per write, so appends of records interleave only
             * between lines. */
            for (size_t p = 0; ok && p < keep.len; p += RECORDS_BLOCK) {
                size_t n = keep.len - p < RECORDS_BLOCK ? keep.len - p : RECORDS_BLOCK;
                struct iovec one = {.iov_base = keep.data + p, .iov_len = n};
                ok = files_append(fd, path, &one, 1, &e) == 0;
            }
            if (fd >= 0)
                close(fd);
            if (ok)
                unlink(old);
        }
        buf_free(&in);
        buf_free(&keep);
        r->live[shard] = stat(path, &st) == 0 ? st.st_size : 0;
    } else if (stat(path, &st) == 0 && st.st_size > 2 * r->live[shard] + RECORDS_SHARD_SLACK) {
        rename(path, old);
    }
    long long size = 0;
    if (stat(path, &st) == 0)
        size += records_blocks(&st);
    if (stat(old, &st) == 0)
        size += records_blocks(&st);
    return size;
}

int records_prune(records_t *r, long long now_ms, records_pruned *out, err_t *e)
{
    records_segments all = {0};
    long long cutoff = now_ms - r->lim.retention_s * 1000, total = 0;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    DIR *d = opendir(r->fn);
    if (d == NULL)
        return err_sys(e, errno, "opendir", r->fn);
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(d)) != NULL)
        if (func_is_id(ent->d_name))
            rc = records_prune_fn(r, ent->d_name, cutoff, &all, out, e);
    closedir(d);
    if (rc != 0) {
        free(all.v);
        return -1;
    }
    /* The byte cap, oldest segments first. Each counts with the id lines
     * its records keep once the shards are compacted. Refusals go first:
     * while theirs pass a quarter of the cap, or everything passes it. The
     * records of calls that ran go only while they alone pass it. */
    long long rejected = 0;
    for (size_t i = 0; i < all.n; i++) {
        long long b = all.v[i].bytes + all.v[i].entries * RECORDS_ID_LEN;
        total += b;
        if (all.v[i].lane == RECORDS_REJ)
            rejected += b;
    }
    if (all.n > 0)
        qsort(all.v, all.n, sizeof(*all.v), records_seg_cmp_age);
    size_t kept = 0;
    for (int lane = RECORDS_REJ; lane >= RECORDS_RAN; lane--) {
        kept = 0;
        for (size_t i = 0; i < all.n; i++) {
            records_segment *s = &all.v[i];
            long long b = s->bytes + s->entries * RECORDS_ID_LEN;
            if (s->lane == lane && (total > r->lim.max_bytes ||
                                    (lane == RECORDS_REJ && rejected > r->lim.max_bytes / 4))) {
                records_seg_delete(r, s->fid, s->lane, s->seq, &out->bytes_freed);
                out->segments++;
                total -= b;
                if (lane == RECORDS_REJ)
                    rejected -= b;
            } else {
                all.v[kept++] = *s;
            }
        }
        all.n = kept;
    }
    if (all.n > 0)
        qsort(all.v, all.n, sizeof(*all.v), records_seg_cmp_id);
    for (size_t i = 0; i < all.n; i++)
        out->bytes_left += all.v[i].bytes;
    for (int s = 0; s < 256; s++)
        out->bytes_left += records_compact(r, s, &all);
    free(all.v);
    return 0;
}
