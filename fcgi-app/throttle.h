/*
 * throttle: per-key request rates and per-address failed key checks, in one
 * anonymous shared mapping the master makes before the first fork, so every
 * worker sees the same counts. Updates are lock-free (compare-and-swap on
 * one 64-bit word per entry): a process that dies mid-update wedges
 * nothing. Entries are found by a hash of the key id or address in a fixed
 * table; a collision shares an entry, which can only make a limit stricter.
 */
#ifndef MINILAMBDA_THROTTLE_H
#define MINILAMBDA_THROTTLE_H

typedef struct throttle throttle_t;

/* Map the tables. Returns them (throttle_destroy in the process that made
 * them) or NULL with errno set. */
throttle_t *throttle_create(void);

/* Unmap. */
void throttle_destroy(throttle_t *l);

/*
 * Take one request from the token bucket of key `key_id`, which refills at
 * `rate` per second and holds one second's worth (at least one). Returns 0
 * when the request may go on, else the milliseconds until it could.
 */
long throttle_take(throttle_t *l, const char *key_id, double rate);

/* Count one failed key check from `addr` in the current minute. Returns
 * the failures of this minute, this one included. */
int throttle_fail(throttle_t *l, const char *addr);

/* The failed key checks from `addr` in the current minute. */
int throttle_failures(throttle_t *l, const char *addr);

/* Milliseconds until the current minute ends. */
long throttle_minute_left(void);

#endif
