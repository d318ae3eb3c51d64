/*
 * throttle: per-key request rates and per-address failed key checks, in one
 * anonymous shared mapping the master makes before the first fork, so every
 * worker sees the same counts.
 *
 * Each is an open-addressing table of THROTTLE_SLOTS entries that stores
 * its whole key (a key id; a 16-byte address), so two keys or two
 * addresses never share an entry. A key probes at most THROTTLE_PROBES
 * entries from its hash. An entry that has become the same as no entry (a
 * bucket refilled to full, a past minute's failures) is reused; when every
 * entry a key may take holds a live one, the one that would be back to
 * "no entry" soonest gives way (its count starts again), so a full table
 * can only make a limit laxer, never refuse anyone. Each table has a
 * process-shared robust mutex: a process that dies holding it wedges
 * nothing (the next locker takes it over).
 */
#ifndef MINILAMBDA_THROTTLE_H
#define MINILAMBDA_THROTTLE_H

#define THROTTLE_SLOTS 8192
#define THROTTLE_PROBES 64
/* The bytes of a key id an entry stores (keys_key's id fits). */
#define THROTTLE_ID_MAX 40
/* An address as the failure table keys it (cidr_key). */
#define THROTTLE_ADDR_LEN 16

typedef struct throttle throttle_t;

/* Map the tables. Returns them (throttle_destroy in the process that made
 * them) or NULL with errno set. */
throttle_t *throttle_create(void);

/* Unmap. */
void throttle_destroy(throttle_t *l);

/*
 * Take one request from the token bucket of key `key_id` (at most
 * THROTTLE_ID_MAX - 1 bytes count), which refills at `rate` per second and
 * holds one second's worth (at least one). Returns 0 when the request may
 * go on, else the milliseconds until it could.
 */
long throttle_take(throttle_t *l, const char *key_id, double rate);

/* Count one failed key check from address `addr` (cidr_key) in the
 * current minute. Returns the failures of this minute, this one included
 * (0 when the table cannot be locked: the request goes through). */
int throttle_fail(throttle_t *l, const unsigned char addr[THROTTLE_ADDR_LEN]);

/* Milliseconds until the current minute ends. */
long throttle_minute_left(void);

#endif
