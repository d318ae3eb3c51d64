#include "state/throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "base/clock.h"

/* Tokens are counted in thousandths so a fractional rate refills smoothly. */
#define THROTTLE_MILLI 1000

_Static_assert(THROTTLE_ADDR_LEN <= THROTTLE_ID_MAX, "an address fits an entry's key");

/* One entry. Entries are claimed, never freed: a key's probe run ends at
 * the first entry never used, and a reused entry keeps the run whole. */
typedef struct {
    bool used;
    unsigned char key[THROTTLE_ID_MAX]; /* the id, or the address, zero-padded */
    long long idle_ms; /* from then on the entry is the same as none (its table's clock) */
    long long at;      /* bucket: the last refill (monotonic ms); failures: the minute */
    long long value;   /* bucket: tokens in thousandths; failures: the count */
} throttle_entry;

typedef struct {
    pthread_mutex_t lock; /* process-shared, robust */
    throttle_entry e[THROTTLE_SLOTS];
} throttle_table;

struct throttle {
    throttle_table buckets;
    throttle_table failures;
};

static uint64_t throttle_hash(const unsigned char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < THROTTLE_ID_MAX; i++) {
        h ^= k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int throttle_init_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

throttle_t *throttle_create(void)
{
    void *p =
        mmap(NULL, sizeof(throttle_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    throttle_t *l = p;
    int rc = throttle_init_lock(&l->buckets.lock);
    if (rc == 0)
        rc = throttle_init_lock(&l->failures.lock);
    if (rc != 0) {
        munmap(p, sizeof(throttle_t));
        errno = rc;
        return NULL;
    }
    return l;
}

void throttle_destroy(throttle_t *l)
{
    if (l != NULL)
        munmap(l, sizeof(*l));
}

/* Lock `t`, taking it over from a process that died holding it (its
 * half-done update is at worst one odd count). False when it cannot be
 * locked at all: the caller lets the request through. */
static bool throttle_lock(throttle_table *t)
{
    int rc = pthread_mutex_lock(&t->lock);
    if (rc == EOWNERDEAD)
        rc = pthread_mutex_consistent(&t->lock);
    return rc == 0;
}

static void throttle_unlock(throttle_table *t)
{
    pthread_mutex_unlock(&t->lock);
}

/*
 * The entry of `key` in `t` (locked) as of `now`. `*fresh` is true when it
 * had none: the entry returned was claimed for it (a free one, else one
 * that is the same as none, else the one back to that soonest).
 */
static throttle_entry *throttle_find(throttle_table *t, const unsigned char *key, long long now,
                                     bool *fresh)
{
    uint64_t h = throttle_hash(key);
    throttle_entry *claim = NULL, *soonest = NULL;
    *fresh = false;
    for (int p = 0; p < THROTTLE_PROBES; p++) {
        throttle_entry *x = &t->e[(h + (uint64_t)p) % THROTTLE_SLOTS];
        if (!x->used) {
            if (claim == NULL)
                claim = x;
            break;
        }
        if (memcmp(x->key, key, THROTTLE_ID_MAX) == 0)
            return x;
        if (claim == NULL && now >= x->idle_ms)
            claim = x;
        if (soonest == NULL || x->idle_ms < soonest->idle_ms)
            soonest = x;
    }
    if (claim == NULL)
        claim = soonest;
    memcpy(claim->key, key, THROTTLE_ID_MAX);
    claim->used = true;
    *fresh = true;
    return claim;
}

long throttle_take(throttle_t *l, const char *key_id, double rate)
{
    unsigned char key[THROTTLE_ID_MAX] = {0};
    long long cap = rate >= 1 ? (long long)(rate * THROTTLE_MILLI) : THROTTLE_MILLI;
    long long now = clock_mono_ms();
    bool fresh;
    long wait = 0;

    memcpy(key, key_id, strnlen(key_id, THROTTLE_ID_MAX - 1));
    if (!throttle_lock(&l->buckets))
        return 0;
    throttle_entry *b = throttle_find(&l->buckets, key, now, &fresh);
    long long tokens = b->value;
    if (fresh)
        tokens = cap;
    else if (now > b->at)
        tokens += (long long)((double)(now - b->at) * rate);
    if (tokens > cap)
        tokens = cap;
    if (tokens < THROTTLE_MILLI)
        wait = (long)((double)(THROTTLE_MILLI - tokens) / rate) + 1;
    else
        tokens -= THROTTLE_MILLI;
    b->value = tokens;
    b->at = now;
    /* Full again then: the same as a bucket never used. */
    b->idle_ms = now + (long long)((double)(cap - tokens) / rate) + 1;
    throttle_unlock(&l->buckets);
    return wait;
}

static long long throttle_minute(long long wall_ms)
{
    return wall_ms / 60000;
}

long throttle_minute_left(void)
{
    return (long)(60000 - clock_wall_ms() % 60000);
}

int throttle_fail(throttle_t *l, const unsigned char addr[THROTTLE_ADDR_LEN])
{
    unsigned char key[THROTTLE_ID_MAX] = {0};
    long long wall = clock_wall_ms(), minute = throttle_minute(wall);
    bool fresh;

    memcpy(key, addr, THROTTLE_ADDR_LEN);
    if (!throttle_lock(&l->failures))
        return 0;
    throttle_entry *f = throttle_find(&l->failures, key, wall, &fresh);
    if (fresh || f->at != minute)
        f->value = 0;
    f->at = minute;
    f->value++;
    f->idle_ms = (minute + 1) * 60000;
    int n = (int)f->value;
    throttle_unlock(&l->failures);
    return n;
}
