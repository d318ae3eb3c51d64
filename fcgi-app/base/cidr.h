/*
 * cidr: lists of addresses and networks ("10.0.0.0/8, 127.0.0.1, ::1"),
 * IPv4 and IPv6, as MINILAMBDA_METRICS_ALLOW spells them: checked once at
 * start-up and matched against a client's address per request.
 */
#ifndef MINILAMBDA_CIDR_H
#define MINILAMBDA_CIDR_H

#include <stdbool.h>

#include "base/err.h"

/* Check that `list` (entries separated by commas and/or spaces) holds only
 * addresses and networks with a valid prefix length. 0, or -1 with `e`
 * naming the first bad entry. An empty list is valid (it allows anyone). */
int cidr_check(const char *list, err_t *e);

/* Whether `addr` (a textual IPv4 or IPv6 address, as REMOTE_ADDR gives
 * it; an IPv4-mapped IPv6 address counts as IPv4) is in `list`. An empty
 * list allows every address; an address that does not parse is never
 * allowed by a non-empty list. */
bool cidr_allows(const char *list, const char *addr);

/* Whether `list` names at least one entry (an empty list allows anyone in
 * cidr_allows, but names no one). */
bool cidr_any(const char *list);

/* The 16 bytes that stand for `addr` as one client: an IPv4 address (or
 * IPv4-mapped IPv6) exactly, as its mapped form; an IPv6 address by its
 * /64, the rest zero (one host's share of addresses). 0, or -1 when
 * `addr` is not an address. */
int cidr_key(const char *addr, unsigned char out[16]);

#endif
