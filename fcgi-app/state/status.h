/*
 * status: the one table of invocation outcomes. Each way a run can end
 * (status_outcome) has its word in a synchronous answer, its HTTP status,
 * its error code, its metrics series and the status an async record ends
 * in; async records' own statuses (status_record) have their one name here.
 */
#ifndef MINILAMBDA_STATUS_H
#define MINILAMBDA_STATUS_H

#include <stdbool.h>

#include "state/metrics.h"

/* How one run ended. */
typedef enum {
    STATUS_SUCCEEDED = 0,
    STATUS_FAILED,         /* the function exited non-zero */
    STATUS_TIMEOUT,        /* the deadline passed; the container was killed */
    STATUS_CANCELLED,      /* the client went away or DELETE cancelled it */
    STATUS_UNREACHABLE,    /* the engine did not answer */
    STATUS_IMAGE_MISSING,  /* the engine has no such image */
    STATUS_ENGINE_ERROR,   /* the engine refused or failed mid-way */
    STATUS_PROTOCOL_ERROR, /* a reused container broke its framing; it was discarded */
    STATUS_UNAVAILABLE,    /* no engine answers, or its engine stopped answering mid-way */
    STATUS_INIT_ERROR,     /* protocol "lambda": the runtime posted /init/error or exited; the
                            * container was discarded */
    STATUS_INIT_TIMEOUT,   /* protocol "lambda": the runtime never asked for the event
                            * (/next) within the timeout */
    STATUS__OUTCOMES
} status_outcome;

/* Where an async invocation's record stands. */
typedef enum {
    STATUS_REC_PENDING = 0,
    STATUS_REC_RUNNING,
    STATUS_REC_COMPLETED,
    STATUS_REC_FAILED,
    STATUS_REC_TIMEOUT,
    STATUS_REC_CANCELLED,
    STATUS_REC_REJECTED, /* a synchronous call refused before it ran (429, a bad body) */
    STATUS__RECORDS
} status_record;

/* The contract's word for `o` in a synchronous answer: "succeeded",
 * "failed", "timeout", "cancelled" or "error" (static). */
const char *status_word(status_outcome o);

/* The HTTP status of a synchronous answer that ended `o`. */
int status_http(status_outcome o);

/* The error code of an answer that ended `o`; NULL for success. */
const char *status_code(status_outcome o);

/* The metrics series `o` is counted in. */
metrics_status status_metrics(status_outcome o);

/* The status an async record ends in after a run that ended `o`. */
status_record status_final(status_outcome o);

/* The status a synchronous call's record ends in after a run that ended
 * `o`: as status_final, but a call its client abandoned is CANCELLED. */
status_record status_sync(status_outcome o);

/* "PENDING", "RUNNING", ... (static). */
const char *status_record_name(status_record s);

/* Parse a record status, case-insensitively. 0, or -1 for any other word. */
int status_record_parse(const char *s, status_record *out);

/* True for COMPLETED, FAILED, TIMEOUT, CANCELLED and REJECTED. */
bool status_record_finished(status_record s);

#endif
