/*
 * libFuzzer target for the tar scanner. The input's first byte picks the
 * limit (from a small table, unlimited included) and the rest is the
 * upload. It is scanned whole, then in pieces whose sizes come from the
 * input (empty pieces included), then a byte at a time: the three must
 * agree on the verdict (result, error kind, code and message) and, unless
 * the limit tripped (inflate steps then end at different places), on the
 * count. An accepted upload is within the limit. Any difference aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/tarscan.h"

typedef struct {
    int rc;
    err_t e;
    unsigned long long count;
} fz_verdict;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scan `in`: step 0 means whole, otherwise piece sizes run through
 * `low`..step driven by `seed`. */
static fz_verdict fz_scan(const uint8_t *in, size_t n, unsigned long long max, unsigned low,
                          unsigned step, unsigned seed)
{
    fz_verdict v;
    tarscan_t *t = tarscan_new(max);
    size_t at = 0;

    if (t == NULL)
        abort();
    memset(&v, 0, sizeof(v));
    err_clear(&v.e);
    while (at < n && v.rc == 0) {
        size_t take = n - at;
        if (step > 0) {
            seed = seed * 1103515245u + 12345u;
            size_t s = low + (seed >> 16) % (step - low + 1);
            if (s < take)
                take = s;
        }
        v.rc = tarscan_feed(t, in + at, take, &v.e);
        at += take;
    }
    if (v.rc == 0)
        v.rc = tarscan_finish(t, &v.e);
    v.count = tarscan_unpacked(t);
    /* A failure is final. */
    if (v.rc != 0) {
        err_t again;
        if (tarscan_feed(t, in, n, &again) != -1 || again.kind != v.e.kind ||
            strcmp(again.msg, v.e.msg) != 0 || tarscan_finish(t, &again) != -1)
            abort();
    }
    tarscan_free(t);
    return v;
}

static void fz_same(const fz_verdict *a, const fz_verdict *b)
{
    if (a->rc != b->rc || a->e.kind != b->e.kind || strcmp(err_code(&a->e), err_code(&b->e)) != 0 ||
        strcmp(a->e.msg, b->e.msg) != 0)
        abort();
    if (a->e.kind != ERR_TOO_LARGE && a->count != b->count)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned long long limits[] = {~0ULL, 0, 1, 512, 4096, 100000};
    unsigned long long max;
    fz_verdict v[3];

    if (size == 0)
        return 0;
    max = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
    data++;
    size--;
    unsigned seed = size > 0 ? data[size - 1] : 0;
    v[0] = fz_scan(data, size, max, 0, 0, 0);
    v[1] = fz_scan(data, size, max, 0, 1 + seed % 97, seed);
    v[2] = fz_scan(data, size, max, 1, 1, 0);
    fz_same(&v[0], &v[1]);
    fz_same(&v[0], &v[2]);
    if (v[0].rc == 0 && v[0].count > max)
        abort();
    if (v[0].rc != 0 && v[0].e.kind == ERR_TOO_LARGE && v[0].count <= max)
        abort();
    return 0;
}
