#include "state/slots.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    /* The id as two halves; both zero means the entry is free. */
    _Atomic uint64_t hi;
    _Atomic uint64_t lo;
} slots_entry;

/* Who holds an upload slot. */
#define SLOTS_WHO_LEN 64
typedef struct {
    _Atomic int state; /* 0 free, 1 being filled in, 2 held */
    _Atomic int row;
    char key[SLOTS_WHO_LEN];
    char addr[SLOTS_WHO_LEN];
} slots_holder;

typedef struct {
    _Atomic int state;    /* slots_state */
    _Atomic int sys;      /* errno of a stall */
    _Atomic int recovery; /* 1 while its claims wait for the janitor */
} slots_row;

struct slots {
    _Atomic int total[SLOTS__POOLS];  /* slots taken, all workers, by pool */
    slots_entry keep[SLOTS_KEEP_MAX]; /* the runs of the keeper's ready containers */
    slots_holder uploads[SLOTS_HOLDERS];
    _Atomic int recovery_all;       /* start-up recovery not done yet */
    _Atomic long long keeper_at;    /* the keeper's last report (monotonic ms) */
    _Atomic int keeper_short;       /* functions short of keep_warm, stalled */
    _Atomic long long keeper_since; /* since when (monotonic ms) */
    int workers;                    /* rows counted against the limits */
    int rows;                       /* all rows */
    int threads;
    size_t size;
    _Atomic int *running; /* [rows * SLOTS__POOLS]: each row's share */
    slots_row *row;       /* [rows] */
    slots_entry *entries; /* [rows * threads] */
};

static void slots_split(const uuid_t id, uint64_t *hi, uint64_t *lo)
{
    memcpy(hi, id, 8);
    memcpy(lo, id + 8, 8);
}

slots_t *slots_create(int workers, int extra, int threads)
{
    size_t head = sizeof(slots_t);
    size_t run = sizeof(_Atomic int) * (size_t)(workers + extra) * SLOTS__POOLS;
    size_t rows = sizeof(slots_row) * (size_t)(workers + extra);
    size_t ent = sizeof(slots_entry) * (size_t)(workers + extra) * (size_t)threads;
    size_t size = head + run + rows + ent + 64;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    slots_t *s = p;
    s->workers = workers;
    s->rows = workers + extra;
    s->threads = threads;
    s->size = size;
    s->running = (_Atomic int *)((char *)p + head);
    s->row = (slots_row *)((char *)p + head + run);
    /* Entries start 16-byte aligned after the counters. */
    uintptr_t e = ((uintptr_t)((char *)p + head + run + rows) + 15) & ~(uintptr_t)15;
    s->entries = (slots_entry *)e;
    return s;
}

void slots_destroy(slots_t *s)
{
    if (s != NULL)
        munmap(s, s->size);
}

int slots_acquire(slots_t *s, slots_pool pool, int worker, int max)
{
    _Atomic int *mine = &s->running[worker * SLOTS__POOLS + pool];
    /* The worker's own count goes first, so that the master, clearing a
     * dead worker's row, gives back every slot it held. */
    atomic_fetch_add(mine, 1);
    int cur = atomic_load(&s->total[pool]);
    do {
        if (cur >= max) {
            atomic_fetch_sub(mine, 1);
            return -1;
        }
    } while (!atomic_compare_exchange_weak(&s->total[pool], &cur, cur + 1));
    return 0;
}

void slots_track(slots_t *s, int row, int thread, const uuid_t id)
{
    uint64_t hi, lo;
    slots_split(id, &hi, &lo);
    slots_entry *e = &s->entries[row * s->threads + thread];
    atomic_store(&e->hi, hi);
    atomic_store(&e->lo, lo);
}

bool slots_track_if_free(slots_t *s, int row, int thread, const uuid_t id)
{
    uint64_t hi, lo, zero = 0;
    slots_split(id, &hi, &lo);
    slots_entry *e = &s->entries[row * s->threads + thread];
    if (atomic_load(&e->lo) != 0 || !atomic_compare_exchange_strong(&e->hi, &zero, hi))
        return false;
    atomic_store(&e->lo, lo);
    return true;
}

void slots_untrack(slots_t *s, int row, int thread)
{
    slots_entry *e = &s->entries[row * s->threads + thread];
    atomic_store(&e->hi, 0);
    atomic_store(&e->lo, 0);
}

void slots_release(slots_t *s, slots_pool pool, int worker)
{
    atomic_fetch_sub(&s->running[worker * SLOTS__POOLS + pool], 1);
    atomic_fetch_sub(&s->total[pool], 1);
}

int slots_upload_acquire(slots_t *s, int worker, const char *key, const char *addr, int max,
                         int per_key, int per_addr, slots_refusal *why)
{
    slots_holder *mine = NULL;
    int idx = -1, n_key = 0, n_addr = 0;
    *why = SLOTS_UPLOADS_FULL;
    if (max > SLOTS_HOLDERS)
        max = SLOTS_HOLDERS;
    if (slots_acquire(s, SLOTS_UPLOAD, worker, max) != 0)
        return -1;
    /* Within the total, a free holder entry is always there. */
    for (int i = 0; i < SLOTS_HOLDERS && mine == NULL; i++) {
        int free_state = 0;
        if (atomic_compare_exchange_strong(&s->uploads[i].state, &free_state, 1)) {
            mine = &s->uploads[i];
            idx = i;
        }
    }
    if (mine == NULL) {
        slots_release(s, SLOTS_UPLOAD, worker);
        return -1;
    }
    atomic_store(&mine->row, worker);
    snprintf(mine->key, sizeof(mine->key), "%s", key);
    snprintf(mine->addr, sizeof(mine->addr), "%s", addr);
    atomic_store(&mine->state, 2);
    /* Published first, counted after (this one included): of two that race,
     * each sees the other, so a share is never passed. */
    for (int i = 0; i < SLOTS_HOLDERS; i++) {
        slots_holder *h = &s->uploads[i];
        if (atomic_load(&h->state) != 2)
            continue;
        if (mine->key[0] != '\0' && strcmp(h->key, mine->key) == 0)
            n_key++;
        if (mine->addr[0] != '\0' && strcmp(h->addr, mine->addr) == 0)
            n_addr++;
    }
    if (n_key <= per_key && n_addr <= per_addr)
        return idx;
    *why = n_key > per_key ? SLOTS_KEY_SHARE : SLOTS_ADDR_SHARE;
    slots_upload_release(s, worker, idx);
    return -1;
}

void slots_upload_release(slots_t *s, int worker, int holder)
{
    if (holder < 0 || holder >= SLOTS_HOLDERS)
        return;
    slots_holder *h = &s->uploads[holder];
    int held = 2;
    /* Only the release that frees the entry gives the slot back. */
    if (atomic_compare_exchange_strong(&h->state, &held, 0))
        slots_release(s, SLOTS_UPLOAD, worker);
}

void slots_reset_worker(slots_t *s, int worker)
{
    for (int i = 0; i < SLOTS_HOLDERS; i++)
        if (atomic_load(&s->uploads[i].row) == worker && atomic_load(&s->uploads[i].state) != 0)
            atomic_store(&s->uploads[i].state, 0);
    for (int t = 0; t < s->threads; t++) {
        slots_entry *e = &s->entries[worker * s->threads + t];
        atomic_store(&e->hi, 0);
        atomic_store(&e->lo, 0);
    }
    for (int pool = 0; pool < SLOTS__POOLS; pool++) {
        int held = atomic_exchange(&s->running[worker * SLOTS__POOLS + pool], 0);
        if (worker < s->workers)
            atomic_fetch_sub(&s->total[pool], held);
    }
}

bool slots_running(slots_t *s, const uuid_t id)
{
    uint64_t hi, lo;
    slots_split(id, &hi, &lo);
    if (hi == 0 && lo == 0)
        return false; /* the mark of a free entry, never a run */
    int n = s->rows * s->threads;
    for (int i = 0; i < n; i++) {
        if (atomic_load(&s->entries[i].hi) == hi && atomic_load(&s->entries[i].lo) == lo)
            return true;
    }
    for (int i = 0; i < SLOTS_KEEP_MAX; i++) {
        if (atomic_load(&s->keep[i].hi) == hi && atomic_load(&s->keep[i].lo) == lo)
            return true;
    }
    return false;
}

void slots_keep(slots_t *s, int i, const uuid_t id)
{
    uint64_t hi, lo;
    slots_split(id, &hi, &lo);
    atomic_store(&s->keep[i].hi, hi);
    atomic_store(&s->keep[i].lo, lo);
}

void slots_unkeep(slots_t *s, int i)
{
    atomic_store(&s->keep[i].hi, 0);
    atomic_store(&s->keep[i].lo, 0);
}

void slots_reset_keeper(slots_t *s)
{
    for (int i = 0; i < SLOTS_KEEP_MAX; i++)
        slots_unkeep(s, i);
}

void slots_keeper_report(slots_t *s, long long now_ms, int short_n, long long short_since_ms)
{
    atomic_store(&s->keeper_since, short_since_ms);
    atomic_store(&s->keeper_short, short_n);
    atomic_store(&s->keeper_at, now_ms);
}

void slots_keeper_state(slots_t *s, long long *at_ms, int *short_n, long long *short_since_ms)
{
    *at_ms = atomic_load(&s->keeper_at);
    *short_n = atomic_load(&s->keeper_short);
    *short_since_ms = atomic_load(&s->keeper_since);
}

void slots_set_state(slots_t *s, int row, slots_state st, int sys)
{
    atomic_store(&s->row[row].sys, sys);
    atomic_store(&s->row[row].state, (int)st);
}

slots_state slots_state_of(slots_t *s, int row, int *sys)
{
    if (sys != NULL)
        *sys = atomic_load(&s->row[row].sys);
    return (slots_state)atomic_load(&s->row[row].state);
}

void slots_need_recovery(slots_t *s, int row)
{
    atomic_store(row == SLOTS_ALL_ROWS ? &s->recovery_all : &s->row[row].recovery, 1);
}

bool slots_needs_recovery(slots_t *s, int row)
{
    return atomic_load(row == SLOTS_ALL_ROWS ? &s->recovery_all : &s->row[row].recovery) != 0;
}

void slots_recovered(slots_t *s, int row)
{
    atomic_store(row == SLOTS_ALL_ROWS ? &s->recovery_all : &s->row[row].recovery, 0);
}

int slots_threads(const slots_t *s)
{
    return s->threads;
}

bool slots_untrack_if(slots_t *s, int row, int thread, const uuid_t id)
{
    uint64_t hi, lo;
    slots_split(id, &hi, &lo);
    slots_entry *e = &s->entries[row * s->threads + thread];
    if (atomic_load(&e->lo) != lo || !atomic_compare_exchange_strong(&e->hi, &hi, 0))
        return false;
    atomic_store(&e->lo, 0);
    return true;
}

int slots_rows(const slots_t *s)
{
    return s->rows;
}
