#include "throttle.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"

#define THROTTLE_ENTRIES 4096
/* Tokens are counted in thousandths so a fractional rate refills smoothly. */
#define THROTTLE_MILLI 1000
#define THROTTLE_WRITTEN (1ULL << 31)
#define THROTTLE_TOKENS (THROTTLE_WRITTEN - 1)

/*
 * A bucket word: the high 32 bits are the time of the last refill in ms
 * since the mapping was made (wraps after 49 days, which only refills a
 * bucket early), bit 31 marks a word that was written (0 is a full bucket
 * never used), the low 31 bits are the tokens in thousandths.
 * A failure word: the high 32 bits the minute number, the low 32 the count.
 */
struct throttle {
    long long origin_ms;
    _Atomic uint64_t buckets[THROTTLE_ENTRIES];
    _Atomic uint64_t failures[THROTTLE_ENTRIES];
};

static uint64_t throttle_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

throttle_t *throttle_create(void)
{
    void *p =
        mmap(NULL, sizeof(throttle_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    throttle_t *l = p;
    l->origin_ms = clock_mono_ms();
    return l;
}

void throttle_destroy(throttle_t *l)
{
    if (l != NULL)
        munmap(l, sizeof(*l));
}

long throttle_take(throttle_t *l, const char *key_id, double rate)
{
    _Atomic uint64_t *b = &l->buckets[throttle_hash(key_id) % THROTTLE_ENTRIES];
    uint64_t cap = rate >= 1 ? (uint64_t)(rate * THROTTLE_MILLI) : THROTTLE_MILLI;
    if (cap > THROTTLE_TOKENS)
        cap = THROTTLE_TOKENS;
    uint32_t now = (uint32_t)(clock_mono_ms() - l->origin_ms);
    uint64_t cur = atomic_load(b), next;
    long wait;
    do {
        int32_t elapsed = (int32_t)(now - (uint32_t)(cur >> 32));
        uint64_t tokens = cur & THROTTLE_TOKENS;
        /* A word never written is a full bucket. */
        if (cur == 0)
            tokens = cap;
        else if (elapsed > 0)
            tokens += (uint64_t)((double)elapsed * rate);
        if (tokens > cap)
            tokens = cap;
        wait = 0;
        if (tokens < THROTTLE_MILLI) {
            wait = (long)((double)(THROTTLE_MILLI - tokens) / rate) + 1;
        } else {
            tokens -= THROTTLE_MILLI;
        }
        next = (uint64_t)now << 32 | THROTTLE_WRITTEN | tokens;
    } while (!atomic_compare_exchange_weak(b, &cur, next));
    return wait;
}

static uint32_t throttle_minute(void)
{
    return (uint32_t)(clock_wall_ms() / 60000);
}

long throttle_minute_left(void)
{
    return (long)(60000 - clock_wall_ms() % 60000);
}

int throttle_fail(throttle_t *l, const char *addr)
{
    _Atomic uint64_t *f = &l->failures[throttle_hash(addr) % THROTTLE_ENTRIES];
    uint64_t minute = throttle_minute(), cur = atomic_load(f), next;
    do {
        uint64_t count = (cur >> 32) == minute ? (cur & 0xffffffffu) : 0;
        next = minute << 32 | (count + 1);
    } while (!atomic_compare_exchange_weak(f, &cur, next));
    return (int)(next & 0xffffffffu);
}

int throttle_failures(throttle_t *l, const char *addr)
{
    uint64_t cur = atomic_load(&l->failures[throttle_hash(addr) % THROTTLE_ENTRIES]);
    return (cur >> 32) == throttle_minute() ? (int)(cur & 0xffffffffu) : 0;
}
