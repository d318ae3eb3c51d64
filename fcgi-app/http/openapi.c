#include "http/openapi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "history/async.h"
#include "http/handlers.h"
#include "http/http.h"
#include "http/route.h"
#include "run/health.h"
#include "state/func.h"
#include "state/keys.h"
#include "state/status.h"

/*
 * Types are words: "string", "integer", "number", "boolean", "object",
 * "any", "uuid" and "date-time" (strings of that format), "#Name" for the
 * component schema Name, and any of them with "[]" for an array of it.
 *
 * Examples and defaults are JSON written with ' for " so that they read as
 * JSON in C; none holds an apostrophe, and \\' is an escaped quote inside
 * a JSON string.
 */

enum {
    OPENAPI_REQ = 1,    /* a member every answer has, or a body must give */
    OPENAPI_NULL = 2,   /* may be null */
    OPENAPI_BOUNDS = 4, /* `lo` and `hi` bound it */
    OPENAPI_ABOVE = 8   /* with OPENAPI_BOUNDS: `lo` itself is out */
};

/* One member of a shape, or one query parameter. */
typedef struct {
    const char *name;
    const char *type;
    unsigned flags; /* OPENAPI_* */
    const char *desc;
    double lo, hi;
    const char *const *choices; /* NULL-terminated, or NULL */
    const char *def;            /* the default (JSON, ' for "), or NULL */
} openapi_prop;

/* A component schema described member by member. */
typedef struct {
    const char *name;
    const char *desc;
    const openapi_prop *props; /* ended by a row without a name */
    bool closed;               /* a request body: no other member is accepted */
} openapi_shape;

/* An error code a handler answers, at its kind's HTTP status. */
typedef struct {
    err_kind kind;    /* ERR_NONE ends a list */
    const char *code; /* NULL: the kind's own code */
} openapi_code;

/* One example: a request and the answer it gets. Its name pairs the
 * request's parts with the answer in the document. */
typedef struct {
    const char *name;
    const char *summary;
    const char *ref;   /* the path parameter's value */
    const char *query; /* "name=value&..." (no escapes) */
    const char *type;  /* X-Invocation-Type */
    const char *body;  /* the request body (JSON, ' for ") */
    int status;
    const char *answer; /* the answer body (JSON, ' for "), or NULL for none */
} openapi_example;

/* A successful answer of a route. */
typedef struct {
    int status;
    const char *type; /* its schema; "text" for a text/plain body; NULL: no body */
    const char *desc;
} openapi_answer;

enum {
    OPENAPI_BODY_OPTIONAL = 1 /* an empty body is accepted */
};

#define OPENAPI_ANSWERS 2

/* What the route table lacks about one route (template and method). */
typedef struct {
    const char *tmpl;
    unsigned method;
    const char *op; /* operationId */
    const char *summary;
    const char *desc;
    const char *param;         /* what the path parameter names */
    const openapi_prop *query; /* query parameters, or NULL */
    const char *body;          /* the JSON body's type, "upload", or NULL */
    unsigned flags;            /* OPENAPI_BODY_OPTIONAL */
    openapi_answer answers[OPENAPI_ANSWERS];
    const openapi_code *errors; /* the handler's own, or NULL */
    const openapi_example *examples;
} openapi_route;

/* ------------------------------------------------------------------ */
/* Shapes                                                              */

static const char *const openapi_health_status[] = {"ok", "unavailable", NULL};
static const char *const openapi_docker_status[] = {"reachable", "unreachable", NULL};
static const char *const openapi_part_status[] = {"ok", "failed", NULL};
static const char *const openapi_detail[] = {"1", "true", "0", "false", NULL};
static const char *const openapi_types[] = {"Event", "RequestResponse", NULL};
static const char *const openapi_run_types[] = {"sync", "async", NULL};

/* The codes a failed /healthz part names (health.c). */
static const char *const openapi_health_codes[] = {
    "engine_unreachable", "engine_unavailable", "store_corrupt", "storage_error",  "storage_full",
    "executors_down",     "store_busy",         "keeper_down",   "keeper_stalled", NULL};

static const openapi_prop openapi_invoke_request[] = {
    {"event", "any", 0,
     "The event: any JSON value, written to the function's stdin exactly as sent (`{}` when "
     "absent).",
     0, 0, NULL, NULL},
    {"timeout", "integer", OPENAPI_BOUNDS,
     "Seconds the whole run may take; 0 or absent: the function's own `timeout`.", 0,
     FUNC_TIMEOUT_MAX, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_invoke_result[] = {
    {"result", "string", OPENAPI_REQ,
     "The function's stdout, at most 6 MiB (past it the rest is dropped and `truncated` set).", 0,
     0, NULL, NULL},
    {"duration", "integer", OPENAPI_REQ, "Milliseconds the run took.", 0, 0, NULL, NULL},
    {"timestamp", "date-time", OPENAPI_REQ, "When the call was accepted.", 0, 0, NULL, NULL},
    {"invocation_id", "uuid", OPENAPI_REQ, "The call's id, also in the `X-Invocation-Id` header.",
     0, 0, NULL, NULL},
    {"status", "#RunStatus", OPENAPI_REQ, "How the run ended.", 0, 0, NULL, NULL},
    {"exit_code", "integer", OPENAPI_REQ | OPENAPI_NULL,
     "The function's exit code; null when it did not exit by itself.", 0, 0, NULL, NULL},
    {"logs", "string", OPENAPI_REQ, "The function's stderr, at most 1 MiB.", 0, 0, NULL, NULL},
    {"truncated", "boolean", 0, "Present (true) when stdout or stderr passed its cap.", 0, 0, NULL,
     NULL},
    {"error", "string", 0, "What went wrong, unless the run succeeded.", 0, 0, NULL, NULL},
    {"code", "string", 0, "The stable error code, unless the run succeeded.", 0, 0, NULL, NULL},
    {"record_kept", "boolean", 0,
     "Present (false) when the call's record could not be written (a full disk): "
     "`GET /invocations/{id}` will not find it. The `X-Record-Kept: false` header says the same.",
     0, 0, NULL, NULL},
    {"engine", "string", 0,
     "With several engines (`MINILAMBDA_ENGINES`): the name of the one it ran on.", 0, 0, NULL,
     NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_accepted[] = {
    {"invocation_id", "uuid", OPENAPI_REQ,
     "The run's id: read it at `/invocations/{id}` (the `Location` header).", 0, 0, NULL, NULL},
    {"status", "#RecordStatus", OPENAPI_REQ, "PENDING.", 0, 0, NULL, NULL},
    {"created_at", "date-time", OPENAPI_REQ, "When it was queued.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_invocation[] = {
    {"id", "uuid", OPENAPI_REQ, "The invocation's id.", 0, 0, NULL, NULL},
    {"type", "string", 0,
     "`sync` for a synchronous call's record, `async` for a queued run's (in listings; an async "
     "record read by id has none).",
     0, 0, openapi_run_types, NULL},
    {"function_id", "uuid", OPENAPI_REQ, "The function's id.", 0, 0, NULL, NULL},
    {"function_name", "string", OPENAPI_REQ | OPENAPI_NULL,
     "The function's name when it was queued; null for a run whose record was lost to damage "
     "(`code: record_corrupt`).",
     0, 0, NULL, NULL},
    {"status", "#RecordStatus", OPENAPI_REQ, "Where the run stands.", 0, 0, NULL, NULL},
    {"created_at", "date-time", OPENAPI_REQ, "When it was queued.", 0, 0, NULL, NULL},
    {"started_at", "date-time", OPENAPI_REQ | OPENAPI_NULL, "When its last attempt started.", 0, 0,
     NULL, NULL},
    {"completed_at", "date-time", OPENAPI_REQ | OPENAPI_NULL, "When it finished.", 0, 0, NULL,
     NULL},
    {"attempts", "integer", OPENAPI_REQ, "Runs started so far.", 0, 0, NULL, NULL},
    {"max_attempts", "integer", OPENAPI_REQ, "1 plus the function's `retries`.", 0, 0, NULL, NULL},
    {"timeout", "integer", OPENAPI_REQ, "Seconds each attempt may take.", 0, 0, NULL, NULL},
    {"error", "string", OPENAPI_REQ | OPENAPI_NULL,
     "Why it failed (`interrupted`, `cancelled`, the function's error), or null.", 0, 0, NULL,
     NULL},
    {"created_by", "string", OPENAPI_REQ | OPENAPI_NULL, "The id of the key that queued it.", 0, 0,
     NULL, NULL},
    {"start", "string", OPENAPI_NULL,
     "How its container started: `cold`, `warm` or `reused`; null when it got none.", 0, 0, NULL,
     NULL},
    {"http_status", "integer", 0, "Sync: the status the call was answered with.", 0, 0, NULL, NULL},
    {"code", "string", OPENAPI_NULL,
     "Sync: the answer's error code, or null. A listing's sync records carry this and `error: "
     "null`; the record read by id has the error's text too. Async: `record_corrupt` when the "
     "run's files were found damaged when it was claimed (it did not run; it ended FAILED).",
     0, 0, NULL, NULL},
    {"event_bytes", "integer", 0,
     "Async: the event's length when it was accepted, checked before it runs.", 0, 0, NULL, NULL},
    {"event_sha256", "string", 0,
     "Async: the event's SHA-256 (hex) when it was accepted, checked before it runs.", 0, 0, NULL,
     NULL},
    {"duration_ms", "integer", 0, "Sync, in listings: milliseconds the run took.", 0, 0, NULL,
     NULL},
    {"exit_code", "integer", OPENAPI_NULL, "Sync, in listings: the exit code.", 0, 0, NULL, NULL},
    {"truncated", "boolean", 0,
     "Sync: output was cut, to the record's cap (MINILAMBDA_RECORD_OUTPUT_MAX) or the run's.", 0, 0,
     NULL, NULL},
    {"result", "#InvocationResult", OPENAPI_NULL,
     "The last attempt's outcome, when read by id: null until one finished.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_invocation_result[] = {
    {"output", "string", OPENAPI_REQ, "stdout, at most 6 MiB.", 0, 0, NULL, NULL},
    {"logs", "string", OPENAPI_REQ, "stderr, at most 1 MiB.", 0, 0, NULL, NULL},
    {"duration_ms", "integer", OPENAPI_REQ, "Milliseconds the attempt took.", 0, 0, NULL, NULL},
    {"exit_code", "integer", OPENAPI_REQ | OPENAPI_NULL,
     "The exit code; null when the function did not exit by itself.", 0, 0, NULL, NULL},
    {"truncated", "boolean", 0, "Present (true) when an output passed its cap.", 0, 0, NULL, NULL},
    {"output_bytes", "integer", 0,
     "Sync: bytes of stdout the run produced (the record keeps MINILAMBDA_RECORD_OUTPUT_MAX).", 0,
     0, NULL, NULL},
    {"logs_bytes", "integer", 0, "Sync: bytes of stderr the run produced.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_image_upload[] = {
    {"message", "string", OPENAPI_REQ, "Image Uploaded Successfully.", 0, 0, NULL, NULL},
    {"images", "string[]", OPENAPI_REQ, "The tags (or ids of untagged images) loaded.", 0, 0, NULL,
     NULL},
    {"file_size", "integer", OPENAPI_REQ, "Bytes of tar read.", 0, 0, NULL, NULL},
    {"retagged", "string[]", OPENAPI_REQ,
     "Functions the key may deploy whose tag the load moved; they keep running the image they "
     "are pinned to.",
     0, 0, NULL, NULL},
    {"pinned", "string[]", OPENAPI_REQ,
     "Functions the key may deploy that were not pinned yet, now pinned to the loaded image.", 0, 0,
     NULL, NULL},
    {"pushed", "string[]", 0,
     "With `MINILAMBDA_REGISTRY`: each loaded tag as pushed there, for the engines to pull.", 0, 0,
     NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_image_detail[] = {
    {"id", "string", OPENAPI_REQ | OPENAPI_NULL, "The image id (`sha256:...`).", 0, 0, NULL, NULL},
    {"tags", "string[]", OPENAPI_REQ, "Its tags.", 0, 0, NULL, NULL},
    {"size", "integer", OPENAPI_REQ | OPENAPI_NULL, "Bytes.", 0, 0, NULL, NULL},
    {"created", "date-time", OPENAPI_REQ | OPENAPI_NULL, "When it was built.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_health_part[] = {
    {"status", "string", OPENAPI_REQ, "Whether the part is up.", 0, 0, openapi_part_status, NULL},
    {"code", "string", 0, "Why not: a stable code.", 0, 0, openapi_health_codes, NULL},
    {"error", "string", 0, "Why not, as a sentence.", 0, 0, NULL, NULL},
    {"functions", "integer", 0, "store: registered functions.", 0, 0, NULL, NULL},
    {"free_bytes", "integer", 0, "disk: free bytes on the data dir's file system.", 0, 0, NULL,
     NULL},
    {"min_free_bytes", "integer", 0, "disk: MINILAMBDA_MIN_FREE_BYTES.", 0, 0, NULL, NULL},
    {"running", "integer", 0, "executors: running and able to save outcomes.", 0, 0, NULL, NULL},
    {"configured", "integer", 0, "executors: MINILAMBDA_ASYNC_WORKERS.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_key_create[] = {
    {"name", "string", OPENAPI_REQ, "1 to 64 printable characters.", 0, 0, NULL, NULL},
    {"scopes", "#Scope[]", OPENAPI_REQ, "A non-empty list of distinct scopes.", 0, 0, NULL, NULL},
    {"functions", "string[]", 0,
     "Function names or ids the key is limited to (at most 1000); absent: every function.", 0, 0,
     NULL, NULL},
    {"rate", "number", OPENAPI_BOUNDS | OPENAPI_ABOVE,
     "Requests a second the key may make (a token bucket shared by every worker).", 0,
     KEYS_RATE_MAX, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_key[] = {
    {"id", "uuid", OPENAPI_REQ, "The key's id.", 0, 0, NULL, NULL},
    {"name", "string", OPENAPI_REQ, "Its name.", 0, 0, NULL, NULL},
    {"prefix", "string", OPENAPI_REQ, "The secret's first 12 characters, to recognise it.", 0, 0,
     NULL, NULL},
    {"scopes", "#Scope[]", OPENAPI_REQ, "What it may do.", 0, 0, NULL, NULL},
    {"functions", "string[]", 0, "The functions it is limited to, when it is.", 0, 0, NULL, NULL},
    {"rate", "number", OPENAPI_REQ | OPENAPI_NULL, "Requests a second, or null: no limit.", 0, 0,
     NULL, NULL},
    {"created_at", "date-time", OPENAPI_REQ, "When it was made.", 0, 0, NULL, NULL},
    {"created_by", "string", OPENAPI_REQ | OPENAPI_NULL, "The id of the key that made it.", 0, 0,
     NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_shape openapi_shapes[] = {
    {"InvokeRequest", "A synchronous or asynchronous invocation's body.", openapi_invoke_request,
     true},
    {"InvokeResult",
     "A synchronous run's answer, whatever its outcome (200, or the outcome's status).",
     openapi_invoke_result, false},
    {"AsyncAccepted", "A queued run.", openapi_accepted, false},
    {"Invocation", "An invocation's record: a queued run's, or a synchronous call's.",
     openapi_invocation, false},
    {"InvocationResult", "An attempt's outcome.", openapi_invocation_result, false},
    {"ImageUpload", "What an upload loaded.", openapi_image_upload, false},
    {"ImageDetail", "A local image.", openapi_image_detail, false},
    {"HealthComponent", "One part /healthz checks.", openapi_health_part, false},
    {"KeyCreate", "A new API key's body.", openapi_key_create, true},
    {"Key", "An API key, without its secret.", openapi_key, false},
};

#define OPENAPI_SHAPES (sizeof(openapi_shapes) / sizeof(openapi_shapes[0]))

/* ------------------------------------------------------------------ */
/* Routes                                                              */

static const openapi_prop openapi_invocations_query[] = {
    {"function", "string", 0, "Only runs of this function (name or id).", 0, 0, NULL, NULL},
    {"status", "string", 0,
     "Only runs in this status (`PENDING`, ... `REJECTED`, in any case; 400 `invalid_status` "
     "otherwise).",
     0, 0, NULL, NULL},
    {"since", "date-time", 0,
     "Only runs created at or after this RFC 3339 time (400 `invalid_since` otherwise).", 0, 0,
     NULL, NULL},
    {"cursor", "string", 0,
     "Page: empty for the first page, then the previous answer's `next_cursor`. With it the "
     "answer is `{invocations, next_cursor}` (null on the last page); without it an array, the "
     "next page's cursor in `X-Next-Cursor`. 400 `invalid_cursor` for one no answer gave.",
     0, 0, NULL, NULL},
    {"limit", "integer", OPENAPI_BOUNDS, "At most this many records.", 1, ASYNC_LIST_MAX, NULL,
     "100"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const openapi_prop openapi_images_query[] = {
    {"detail", "string", 0, "`1` or `true`: objects with id, tags, size and created.", 0, 0,
     openapi_detail, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Ids the examples share, so that one example's answer feeds the next
 * request (tests/integration/openapi.sh maps them to the live ones). */
#define EX_ECHO "0c5b6a0e-9a4f-4d2b-8f1e-3c7d2a9b4e61"
#define EX_SLOW "5d2e8f71-3b6c-4a9d-b0e2-7f4c1a8d6b23"
#define EX_FAIL "a8f3c2d4-6e1b-4f7a-9c5d-2b8e0f1a3c47"
#define EX_RUN "e1d7b3a9-2c4f-4e8b-a6d0-9f3c5b7e1a28"
#define EX_FAILED_RUN "c4a2e8f1-9d3b-4c7e-8f5a-1b6d0e2c9a74"
#define EX_EVENT "3b9a1f6e-7d2c-4b5e-8a0f-6c4d2e9b1f37"
#define EX_ASYNC "9f4e2d1c-8b7a-4c6e-b5d3-1a0f9e8d7c62"
#define EX_QUEUED "6a1c9e3f-5b8d-4f2a-a7c1-0e6b4d2f8a95"
#define EX_KEY "b7e2a4c6-1d9f-4a3b-8e5c-7f0d2b6a9c13"
#define EX_UNKNOWN_RUN "00000000-0000-4000-8000-000000000000"
#define EX_IMAGE_ID "sha256:4b8e1f0c2d6a9e3b7f5c1a8d0e2b4f6a9c3e5d7b1f0a2c4e6d8b0a3c5e7f9d1b"
#define EX_BUSYBOX "minilambda-test-busybox:latest"
#define EX_T0 "2026-11-27T10:15:30.123Z"
#define EX_T1 "2026-11-27T10:15:30.310Z"
#define EX_T2 "2026-11-27T10:15:30.457Z"

#define EX_ECHO_REC(timeout)                                                                       \
    "{'id':'" EX_ECHO "','name':'echo','image':'" EX_BUSYBOX "','command':['cat'],"                \
    "'timeout':" timeout ",'env':{'GREETING':'hi'},'image_id':'" EX_IMAGE_ID "',"                  \
    "'created_by':null,'created_at':'" EX_T0 "','updated_at':'" EX_T0 "'}"
#define EX_RECORD(id, name, extra)                                                                 \
    "{'id':'" id "','name':'" name "','image':'" EX_BUSYBOX "'," extra ",'image_id':'" EX_IMAGE_ID \
    "','created_by':null,'created_at':'" EX_T0 "','updated_at':'" EX_T0 "'}"
#define EX_FAIL_CMD "['sh','-c','echo oops >&2; exit 3']"
#define EX_ASYNC_REC(status, started, done, attempts, extra)                                       \
    "{'id':'" EX_ASYNC "','function_id':'" EX_ECHO "','function_name':'echo','status':'" status    \
    "','created_at':'" EX_T0 "','started_at':" started ",'completed_at':" done ","                 \
    "'attempts':" attempts ",'max_attempts':1,'timeout':10,'error':null,'created_by':null" extra   \
    "}"
#define EX_ERROR(msg, code) "{'error':'" msg "','code':'" code "'}"

static const openapi_code openapi_store_read[] = {{ERR_CORRUPT, NULL}, {ERR_NONE, NULL}};

static const openapi_code openapi_create_function[] = {
    {ERR_INVALID, "unknown_field"},
    {ERR_INVALID, "missing_field"},
    {ERR_INVALID, "unknown_runtime"},
    {ERR_TOO_LARGE, "record_too_large"},
    {ERR_CONFLICT, "name_conflict"},
    {ERR_CONFLICT, "too_many_functions"},
    {ERR_CORRUPT, NULL},
    {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},
    {ERR_STORAGE_FULL, NULL},
    {ERR_ENGINE, NULL},
    {ERR_ENGINE_TIMEOUT, NULL},
    {ERR_NONE, NULL},
};

static const openapi_code openapi_update_function[] = {
    {ERR_INVALID, "unknown_field"},
    {ERR_INVALID, "immutable_field"},
    {ERR_INVALID, "unknown_runtime"},
    {ERR_TOO_LARGE, "record_too_large"},
    {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},
    {ERR_STORAGE_FULL, NULL},
    {ERR_ENGINE, NULL},
    {ERR_ENGINE_TIMEOUT, NULL},
    {ERR_NONE, NULL},
};

static const openapi_code openapi_writes[] = {
    {ERR_BUSY, NULL}, {ERR_STORAGE, NULL}, {ERR_STORAGE_FULL, NULL}, {ERR_NONE, NULL}};

static const openapi_code openapi_invoke[] = {
    {ERR_INVALID, "unknown_field"},
    {ERR_INVALID, "invalid_timeout"},
    {ERR_LIMIT, "queue_full"},
    {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},
    {ERR_STORAGE_FULL, NULL},
    {ERR_NONE, NULL},
};

static const openapi_code openapi_list_invocations[] = {{ERR_INVALID, "invalid_query"},
                                                        {ERR_INVALID, "invalid_status"},
                                                        {ERR_INVALID, "invalid_since"},
                                                        {ERR_INVALID, "invalid_cursor"},
                                                        {ERR_STORAGE, NULL},
                                                        {ERR_NONE, NULL}};

static const openapi_code openapi_get_invocation[] = {{ERR_NOT_FOUND, NULL}, {ERR_NONE, NULL}};

static const openapi_code openapi_cancel_invocation[] = {
    {ERR_NOT_FOUND, NULL}, {ERR_CONFLICT, "already_finished"}, {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},   {ERR_STORAGE_FULL, NULL},           {ERR_NONE, NULL},
};

static const openapi_code openapi_list_images[] = {
    {ERR_INVALID, "invalid_query"},
    {ERR_ENGINE_UNREACHABLE, NULL},
    {ERR_ENGINE_TIMEOUT, NULL},
    {ERR_ENGINE, NULL},
    {ERR_NONE, NULL},
};

static const openapi_code openapi_upload_image[] = {
    {ERR_INVALID, "invalid_image"},
    {ERR_INVALID, "invalid_multipart"},
    {ERR_INVALID, "missing_image_field"},
    {ERR_INVALID, "incomplete_body"},
    {ERR_INVALID, "unsupported_compression"},
    {ERR_SLOW, "upload_too_slow"},
    {ERR_TOO_LARGE, NULL},
    {ERR_TOO_LARGE, "image_too_large"},
    {ERR_UNSUPPORTED, NULL},
    {ERR_ENGINE_UNREACHABLE, NULL},
    {ERR_ENGINE_TIMEOUT, NULL},
    {ERR_ENGINE, NULL},
    {ERR_ENGINE, "registry_error"},
    {ERR_NOMEM, NULL},
    {ERR_NONE, NULL},
};

static const openapi_code openapi_create_key[] = {
    {ERR_INVALID, "unknown_field"},
    {ERR_INVALID, "invalid_name"},
    {ERR_INVALID, "invalid_scopes"},
    {ERR_INVALID, "invalid_functions"},
    {ERR_INVALID, "invalid_rate"},
    {ERR_CORRUPT, NULL},
    {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},
    {ERR_STORAGE_FULL, NULL},
    {ERR_NONE, NULL},
};

static const openapi_code openapi_delete_key[] = {
    {ERR_NOT_FOUND, NULL}, {ERR_CORRUPT, NULL},      {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},   {ERR_STORAGE_FULL, NULL}, {ERR_NONE, NULL},
};

static const openapi_example openapi_ex_list_functions[] = {
    {"all", "Every function", NULL, NULL, NULL, NULL, 200, "[" EX_ECHO_REC("10") "]"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_create_function[] = {
    {"echo", "A function that answers its event", NULL, NULL, NULL,
     "{'name':'echo','image':'" EX_BUSYBOX "','command':['cat'],'timeout':10,"
     "'env':{'GREETING':'hi'}}",
     201, EX_ECHO_REC("10")},
    {"slow", "A function that takes its time", NULL, NULL, NULL,
     "{'name':'slow','image':'" EX_BUSYBOX "','command':['sleep','600'],'timeout':900}", 201,
     EX_RECORD(EX_SLOW, "slow", "'command':['sleep','600'],'timeout':900")},
    {"fail", "A function that fails", NULL, NULL, NULL,
     "{'name':'fail','image':'" EX_BUSYBOX "','command':" EX_FAIL_CMD "}", 201,
     EX_RECORD(EX_FAIL, "fail", "'command':" EX_FAIL_CMD)},
    {"invalid", "A field out of its bounds", NULL, NULL, NULL,
     "{'name':'bad','image':'" EX_BUSYBOX "','timeout':0}", 400,
     EX_ERROR("timeout must be an integer number of seconds, 1 to 900", "invalid_timeout")},
    {"taken", "A name already registered", NULL, NULL, NULL,
     "{'name':'echo','image':'" EX_BUSYBOX "'}", 409,
     EX_ERROR("a function with that name already exists", "name_conflict")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_get_function[] = {
    {"echo", "By name (or id)", "echo", NULL, NULL, NULL, 200, EX_ECHO_REC("10")},
    {"unknown", "No such function", "no-such-function", NULL, NULL, NULL, 404,
     EX_ERROR("function \\'no-such-function\\' not found", "not_found")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_update_function[] = {
    {"echo", "A longer timeout", "echo", NULL, NULL, "{'timeout':30}", 200, EX_ECHO_REC("30")},
    {"rename", "A field PATCH cannot change", "echo", NULL, NULL, "{'name':'other'}", 400,
     EX_ERROR("field \\'name\\' cannot be changed", "immutable_field")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_delete_function[] = {
    {"echo", "Unregister echo", "echo", NULL, NULL, NULL, 204, NULL},
    {"slow", "Unregister slow", "slow", NULL, NULL, NULL, 204, NULL},
    {"fail", "Unregister fail", "fail", NULL, NULL, NULL, 204, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_invoke[] = {
    {"sync", "Run echo and wait", "echo", NULL, NULL, "{'event':{'order':42},'timeout':5}", 200,
     "{'result':'{\\'order\\':42}','duration':143,'timestamp':'" EX_T0 "','invocation_id':'" EX_RUN
     "','status':'succeeded','exit_code':0,'logs':''}"},
    {"event", "Queue it instead (X-Invocation-Type: Event)", "echo", NULL, "Event",
     "{'event':{'order':43}}", 202,
     "{'invocation_id':'" EX_EVENT "','status':'PENDING','created_at':'" EX_T0 "'}"},
    {"unknown", "No such function", "no-such-function", NULL, NULL, "{'event':{}}", 404,
     EX_ERROR("function \\'no-such-function\\' not found", "not_found")},
    {"failing", "The function exits non-zero", "fail", NULL, NULL, "{'event':{}}", 502,
     "{'result':'','duration':151,'timestamp':'" EX_T0 "','invocation_id':'" EX_FAILED_RUN
     "','status':'failed','exit_code':3,'logs':'oops\\n',"
     "'error':'the function exited with code 3','code':'function_failed'}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_invoke_async[] = {
    {"echo", "Queue a run of echo", "echo", NULL, NULL, "{'event':{'order':44}}", 202,
     "{'invocation_id':'" EX_ASYNC "','status':'PENDING','created_at':'" EX_T0 "'}"},
    {"slow", "Queue a run of slow", "slow", NULL, NULL, "{'event':{}}", 202,
     "{'invocation_id':'" EX_QUEUED "','status':'PENDING','created_at':'" EX_T0 "'}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

#define EX_ASYNC_DONE                                                                              \
    EX_ASYNC_REC("COMPLETED", "'" EX_T1 "'", "'" EX_T2 "'", "1",                                   \
                 ",'result':{'output':'{\\'order\\':44}','logs':'','duration_ms':140,"             \
                 "'exit_code':0}")

static const openapi_example openapi_ex_list_invocations[] = {
    {"echo", "The newest runs of echo", NULL, "function=echo&limit=10", NULL, NULL, 200,
     "[" EX_ASYNC_REC("COMPLETED", "'" EX_T1 "'", "'" EX_T2 "'", "1", "") "]"},
    {"bad-limit", "A limit out of range", NULL, "limit=0", NULL, NULL, 400,
     EX_ERROR("query parameters are function, status, since, cursor and limit (1 to 1000)",
              "invalid_query")},
    {"bad-cursor", "A cursor no answer gave", NULL, "cursor=not-a-cursor", NULL, NULL, 400,
     EX_ERROR("the cursor is not one a listing gave (pass next_cursor back as it is)",
              "invalid_cursor")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_get_invocation[] = {
    {"echo", "A finished run", EX_ASYNC, NULL, NULL, NULL, 200, EX_ASYNC_DONE},
    {"unknown", "No such invocation", EX_UNKNOWN_RUN, NULL, NULL, NULL, 404,
     EX_ERROR("invocation \\'" EX_UNKNOWN_RUN "\\' not found", "not_found")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_post_invocation[] = {
    {"echo", "The same as GET", EX_ASYNC, NULL, NULL, NULL, 200, EX_ASYNC_DONE},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_cancel_invocation[] = {
    {"slow", "Cancel a queued or running run", EX_QUEUED, NULL, NULL, NULL, 200,
     "{'id':'" EX_QUEUED "','function_id':'" EX_SLOW "','function_name':'slow',"
     "'status':'CANCELLED','created_at':'" EX_T0 "','started_at':'" EX_T1 "',"
     "'completed_at':'" EX_T2 "','attempts':1,'max_attempts':1,'timeout':900,"
     "'error':'cancelled','created_by':null}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_healthz[] = {
    {"ok", "Every part up", NULL, NULL, NULL, NULL, 200,
     "{'status':'ok','docker':'reachable','components':{'engine':{'status':'ok'},"
     "'store':{'status':'ok','functions':3},'keys':{'status':'ok'},'data_dir':{'status':'ok'},"
     "'disk':{'status':'ok','free_bytes':52613349376,'min_free_bytes':104857600},"
     "'executors':{'status':'ok','running':4,'configured':4},'locks':{'status':'ok'},'keeper':{'"
     "status':'ok'}}}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_metrics[] = {
    {"scrape", "A scrape", NULL, NULL, NULL, NULL, 200,
     "'# TYPE minilambda_functions gauge\\nminilambda_functions 3\\n'"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_list_images[] = {
    {"tags", "The tags", NULL, NULL, NULL, NULL, 200, "['" EX_BUSYBOX "']"},
    {"detail", "With detail", NULL, "detail=1", NULL, NULL, 200,
     "[{'id':'" EX_IMAGE_ID "','tags':['" EX_BUSYBOX "'],'size':1190912,"
     "'created':'2026-11-27T09:00:00Z'}]"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

/* An upload's example has no request part: its body is `docker save` of
 * the images the answer lists. */
static const openapi_example openapi_ex_upload_image[] = {
    {"busybox", "docker save " EX_BUSYBOX, NULL, NULL, NULL, NULL, 200,
     "{'message':'Image Uploaded Successfully','images':['" EX_BUSYBOX "'],"
     "'file_size':1203712,'retagged':[],'pinned':[]}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

#define EX_KEY_REC(extra)                                                                          \
    "{'id':'" EX_KEY "','name':'ci','scopes':['deploy'],'prefix':'mlk_Ab12Cd34','rate':null,"      \
    "'created_at':'" EX_T0 "','created_by':null" extra "}"

static const openapi_example openapi_ex_list_keys[] = {
    {"all", "Every key", NULL, NULL, NULL, NULL, 200, "[" EX_KEY_REC("") "]"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_create_key[] = {
    {"ci", "A key that deploys", NULL, NULL, NULL, "{'name':'ci','scopes':['deploy']}", 201,
     EX_KEY_REC(",'key':'mlk_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv1'")},
    {"invalid", "An unknown scope", NULL, NULL, NULL, "{'name':'ci','scopes':['root']}", 400,
     EX_ERROR("scopes must be a non-empty array of distinct words from admin, deploy, invoke, "
              "read, metrics",
              "invalid_scopes")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_example openapi_ex_delete_key[] = {
    {"ci", "Revoke the key", EX_KEY, NULL, NULL, NULL, 204, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const openapi_route openapi_routes[] = {
    {.tmpl = "/functions",
     .method = HTTP_GET,
     .op = "listFunctions",
     .summary = "List functions, oldest first",
     .answers = {{200, "#Function[]", "The records."}},
     .errors = openapi_store_read,
     .examples = openapi_ex_list_functions},
    {.tmpl = "/functions",
     .method = HTTP_POST,
     .op = "createFunction",
     .summary = "Register a function",
     .desc = "Registration resolves `image` in the engine and pins the function to that image id "
             "(`image_id`; null when the engine does not have the image yet: the first upload of "
             "that tag pins it).",
     .body = "#FunctionCreate",
     .answers = {{201, "#Function", "The new record; `Location` names it."}},
     .errors = openapi_create_function,
     .examples = openapi_ex_create_function},
    {.tmpl = "/functions/{ref}",
     .method = HTTP_GET,
     .op = "getFunction",
     .summary = "Read a function",
     .param = "The function's id or name.",
     .answers = {{200, "#Function",
                  "The record; `image_present: false` when the engine does not have its image."}},
     .examples = openapi_ex_get_function},
    {.tmpl = "/functions/{ref}",
     .method = HTTP_PATCH,
     .op = "updateFunction",
     .summary = "Change a function's image or configuration",
     .desc = "A PATCH that names `image` (the same value too) pins the function again.",
     .param = "The function's id or name.",
     .body = "#FunctionPatch",
     .answers = {{200, "#Function", "The changed record."}},
     .errors = openapi_update_function,
     .examples = openapi_ex_update_function},
    {.tmpl = "/functions/{ref}",
     .method = HTTP_DELETE,
     .op = "deleteFunction",
     .summary = "Unregister a function",
     .param = "The function's id or name.",
     .answers = {{204, NULL, "Deleted."}},
     .errors = openapi_writes,
     .examples = openapi_ex_delete_function},
    {.tmpl = "/invoke/{ref}",
     .method = HTTP_POST,
     .op = "invokeFunction",
     .summary = "Run a function and answer its outcome",
     .desc = "Each run gets a fresh container; the event goes to its stdin. With "
             "`X-Invocation-Type: Event` the run is queued instead, as `/invoke/{ref}/async` "
             "does. A run that does not succeed answers its outcome's status with the same "
             "body, `error` and `code`.",
     .param = "The function's id or name.",
     .body = "#InvokeRequest",
     .flags = OPENAPI_BODY_OPTIONAL,
     .answers = {{200, "#InvokeResult", "The run succeeded."},
                 {202, "#AsyncAccepted",
                  "Queued (X-Invocation-Type: Event); `Location` names "
                  "the record."}},
     .errors = openapi_invoke,
     .examples = openapi_ex_invoke},
    {.tmpl = "/invoke/{ref}/async",
     .method = HTTP_POST,
     .op = "invokeFunctionAsync",
     .summary = "Queue a run",
     .desc = "The event and a PENDING record are written durably before the answer; executors "
             "run queued invocations oldest first.",
     .param = "The function's id or name.",
     .body = "#InvokeRequest",
     .flags = OPENAPI_BODY_OPTIONAL,
     .answers = {{202, "#AsyncAccepted", "Queued; `Location` names the record."}},
     .errors = openapi_invoke,
     .examples = openapi_ex_invoke_async},
    {.tmpl = "/invocations",
     .method = HTTP_GET,
     .op = "listInvocations",
     .summary = "List invocations, sync and async, newest first",
     .query = openapi_invocations_query,
     .answers = {{200, "#Invocation[]", "The records, without `result`."}},
     .errors = openapi_list_invocations,
     .examples = openapi_ex_list_invocations},
    {.tmpl = "/invocations/{id}",
     .method = HTTP_GET,
     .op = "getInvocation",
     .summary = "Read an invocation's record, sync or async",
     .param = "The invocation's id.",
     .answers = {{200, "#Invocation", "The record, with `result`."}},
     .errors = openapi_get_invocation,
     .examples = openapi_ex_get_invocation},
    {.tmpl = "/invocations/{id}",
     .method = HTTP_POST,
     .op = "getInvocationByPost",
     .summary = "Read an invocation's record (as GET)",
     .param = "The invocation's id.",
     .answers = {{200, "#Invocation", "The record, with `result`."}},
     .errors = openapi_get_invocation,
     .examples = openapi_ex_post_invocation},
    {.tmpl = "/invocations/{id}",
     .method = HTTP_DELETE,
     .op = "cancelInvocation",
     .summary = "Cancel a pending or running invocation",
     .desc = "A running one's container is killed and removed.",
     .param = "The invocation's id.",
     .answers = {{200, "#Invocation", "The record, now CANCELLED."}},
     .errors = openapi_cancel_invocation,
     .examples = openapi_ex_cancel_invocation},
    {.tmpl = "/healthz",
     .method = HTTP_GET,
     .op = "health",
     .summary = "Check every part the platform needs",
     .answers = {{200, "#Health", "Every part is up."},
                 {503, "#Health",
                  "A part is down: `failed` names it, `code` and `error` say "
                  "why."}},
     .examples = openapi_ex_healthz},
    {.tmpl = "/metrics",
     .method = HTTP_GET,
     .op = "metrics",
     .summary = "Prometheus metrics",
     .desc = "A key with a `functions` list sees only those functions' series, "
             "`minilambda_functions` counting them, `minilambda_up` and "
             "`process_start_time_seconds`: no series that adds up every function's traffic.",
     .answers = {{200, "text", "The text exposition (version 0.0.4)."}},
     .examples = openapi_ex_metrics},
    {.tmpl = "/images",
     .method = HTTP_GET,
     .op = "listImages",
     .summary = "List this instance's images",
     .desc = "The engine's images that are this instance's: the image of each function the key "
             "may see (by tag, and by the id it is pinned to) and each image loaded through "
             "`POST /images` (a key with a `functions` list: by that key). Only those tags of "
             "an image are listed.",
     .query = openapi_images_query,
     .answers = {{200, "#ImageList", "Tags, or objects with `?detail=1`."}},
     .errors = openapi_list_images,
     .examples = openapi_ex_list_images},
    {.tmpl = "/images",
     .method = HTTP_POST,
     .op = "uploadImage",
     .summary = "Load a `docker save` tar into the engine",
     .desc = "Streamed to the engine as it arrives, up to MINILAMBDA_MAX_IMAGE_BYTES; its "
             "unpacked size is bounded by MINILAMBDA_MAX_IMAGE_UNPACKED_BYTES.",
     .body = "upload",
     .answers = {{200, "#ImageUpload", "Loaded."}},
     .errors = openapi_upload_image,
     .examples = openapi_ex_upload_image},
    {.tmpl = "/keys",
     .method = HTTP_GET,
     .op = "listKeys",
     .summary = "List API keys, without their secrets",
     .answers = {{200, "#Key[]", "The keys, oldest first."}},
     .errors = openapi_store_read,
     .examples = openapi_ex_list_keys},
    {.tmpl = "/keys",
     .method = HTTP_POST,
     .op = "createKey",
     .summary = "Make an API key",
     .desc = "The secret is in the answer only: the platform keeps its SHA-256.",
     .body = "#KeyCreate",
     .answers = {{201, "#KeyCreated", "The key, with its secret; `Location` names it."}},
     .errors = openapi_create_key,
     .examples = openapi_ex_create_key},
    {.tmpl = "/keys/{id}",
     .method = HTTP_DELETE,
     .op = "deleteKey",
     .summary = "Revoke an API key",
     .param = "The key's id.",
     .answers = {{204, NULL, "Revoked."}},
     .errors = openapi_delete_key,
     .examples = openapi_ex_delete_key},
};

#define OPENAPI_ROUTES (sizeof(openapi_routes) / sizeof(openapi_routes[0]))

/* Errors nginx answers itself (nginx/minilambda.conf.in), with the API's
 * envelope. The first two can answer any route. */
static const struct {
    int status;
    const char *code;
} openapi_nginx[] = {
    {502, "pool_unavailable"}, {504, "pool_timeout"},
    {400, "bad_request"},      {411, "length_required"},
    {414, "uri_too_long"},     {431, "headers_too_large"},
    {501, "not_implemented"},  {505, "http_version_not_supported"},
};

#define OPENAPI_NGINX (sizeof(openapi_nginx) / sizeof(openapi_nginx[0]))
#define OPENAPI_NGINX_EVERY_ROUTE 2

/* ------------------------------------------------------------------ */
/* Building                                                            */

/* One error an operation may answer. */
typedef struct {
    int status;
    const char *code;
    bool run; /* a run's outcome: the body is an InvokeResult */
} openapi_err;

#define OPENAPI_ERRS_MAX 64

typedef struct {
    openapi_err v[OPENAPI_ERRS_MAX];
    size_t n;
    bool full; /* one did not fit: raise OPENAPI_ERRS_MAX */
} openapi_errs;

/* What building the document carries along. */
typedef struct {
    json_object *schemas; /* components.schemas, borrowed from the document */
    json_object *codes;   /* every error code the document names, owned */
} openapi_build;

static const char *openapi_method_name(unsigned bit)
{
    switch (bit) {
    case HTTP_GET:
        return "get";
    case HTTP_POST:
        return "post";
    case HTTP_PATCH:
        return "patch";
    case HTTP_DELETE:
        return "delete";
    default:
        return "head";
    }
}

static int openapi_kind_status(err_kind kind)
{
    err_t x;
    err_clear(&x);
    x.kind = kind;
    return err_status(&x);
}

static const char *openapi_kind_code(err_kind kind, const char *code)
{
    err_t x;
    if (code != NULL)
        return code;
    err_clear(&x);
    x.kind = kind;
    return err_code(&x);
}

/* Parse JSON written with ' for ". 0 with `*out` (caller owns; NULL for
 * JSON null), or -1 when it does not parse whole. */
static int openapi_json(const char *text, json_object **out)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    enum json_tokener_error jerr = json_tokener_error_parse_eof;
    *out = NULL;
    if (copy == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    copy[n] = '\0';
    json_tokener *tok = json_tokener_new();
    if (tok != NULL) {
        /* The terminating NUL ends a trailing number. */
        *out = json_tokener_parse_ex(tok, copy, (int)n + 1);
        jerr = json_tokener_get_error(tok);
        /* Nothing may follow the value. */
        if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != n)
            jerr = json_tokener_error_parse_unexpected;
        json_tokener_free(tok);
    }
    free(copy);
    if (jerr == json_tokener_success)
        return 0;
    json_object_put(*out);
    *out = NULL;
    return -1;
}

static void openapi_add_str(json_object *o, const char *key, const char *s)
{
    json_object_object_add(o, key, json_object_new_string(s));
}

/* Append `s` to the array `arr` unless it holds it already. */
static void openapi_add_unique(json_object *arr, const char *s)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
            return;
    json_object_array_add(arr, json_object_new_string(s));
}

/* {"$ref": "#/components/schemas/<name>"} */
static json_object *openapi_ref(const char *name)
{
    char ref[128];
    json_object *o = json_object_new_object();
    snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
    openapi_add_str(o, "$ref", ref);
    return o;
}

/* The schema of type word `word` (see the top of this file). */
static json_object *openapi_type(const char *word)
{
    size_t n = strlen(word);
    json_object *s;
    if (n > 2 && strcmp(word + n - 2, "[]") == 0) {
        char item[64];
        snprintf(item, sizeof(item), "%.*s", (int)(n - 2), word);
        s = json_object_new_object();
        openapi_add_str(s, "type", "array");
        json_object_object_add(s, "items", openapi_type(item));
        return s;
    }
    if (word[0] == '#')
        return openapi_ref(word + 1);
    s = json_object_new_object();
    if (strcmp(word, "any") == 0)
        return s;
    if (strcmp(word, "uuid") == 0 || strcmp(word, "date-time") == 0) {
        openapi_add_str(s, "type", "string");
        openapi_add_str(s, "format", word);
        return s;
    }
    openapi_add_str(s, "type", word);
    return s;
}

/* Let `s` also be null. Returns the schema to use (owning `s`). */
static json_object *openapi_nullable(json_object *s)
{
    json_object *type, *alt, *null;
    if (json_object_object_get_ex(s, "type", &type) &&
        json_object_is_type(type, json_type_string)) {
        json_object *both = json_object_new_array();
        json_object_array_add(both, json_object_get(type));
        json_object_array_add(both, json_object_new_string("null"));
        json_object_object_add(s, "type", both);
        return s;
    }
    alt = json_object_new_object();
    null = json_object_new_object();
    openapi_add_str(null, "type", "null");
    json_object *any = json_object_new_array();
    json_object_array_add(any, s);
    json_object_array_add(any, null);
    json_object_object_add(alt, "anyOf", any);
    return alt;
}

static json_object *openapi_strings(const char *const *list)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; list[i] != NULL; i++)
        json_object_array_add(arr, json_object_new_string(list[i]));
    return arr;
}

/* The schema of member or parameter `p`. -1 when its default does not parse. */
static int openapi_prop_schema(const openapi_prop *p, json_object **out)
{
    json_object *s = openapi_type(p->type), *def = NULL;
    *out = NULL;
    if (p->flags & OPENAPI_BOUNDS) {
        bool whole = strcmp(p->type, "integer") == 0;
        json_object *lo =
            whole ? json_object_new_int64((int64_t)p->lo) : json_object_new_double(p->lo);
        json_object *hi =
            whole ? json_object_new_int64((int64_t)p->hi) : json_object_new_double(p->hi);
        json_object_object_add(s, (p->flags & OPENAPI_ABOVE) ? "exclusiveMinimum" : "minimum", lo);
        json_object_object_add(s, "maximum", hi);
    }
    if (p->choices != NULL)
        json_object_object_add(s, "enum", openapi_strings(p->choices));
    if (p->def != NULL) {
        if (openapi_json(p->def, &def) != 0) {
            json_object_put(s);
            return -1;
        }
        json_object_object_add(s, "default", def);
    }
    if (p->desc != NULL)
        openapi_add_str(s, "description", p->desc);
    *out = (p->flags & OPENAPI_NULL) ? openapi_nullable(s) : s;
    return 0;
}

static int openapi_shape_schema(const openapi_shape *sh, json_object **out, err_t *e)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *required = json_object_new_array();
    openapi_add_str(s, "type", "object");
    openapi_add_str(s, "description", sh->desc);
    json_object_object_add(s, "properties", props);
    json_object_object_add(s, "required", required);
    if (sh->closed)
        json_object_object_add(s, "additionalProperties", json_object_new_boolean(0));
    for (const openapi_prop *p = sh->props; p->name != NULL; p++) {
        json_object *ps = NULL;
        if (openapi_prop_schema(p, &ps) != 0) {
            json_object_put(s);
            return err_set(e, ERR_INTERNAL, NULL, 0, "schema %s: the default of %s does not parse",
                           sh->name, p->name);
        }
        json_object_object_add(props, p->name, ps);
        if (p->flags & OPENAPI_REQ)
            json_object_array_add(required, json_object_new_string(p->name));
    }
    *out = s;
    return 0;
}

/* The enum schema of `words` (a new array), described by `desc`. */
static json_object *openapi_enum(json_object *words, const char *desc)
{
    json_object *s = json_object_new_object();
    openapi_add_str(s, "type", "string");
    json_object_object_add(s, "enum", words);
    openapi_add_str(s, "description", desc);
    return s;
}

/* /healthz's answer: one member per part health.c checks. */
static json_object *openapi_health(void)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *parts = json_object_new_object(), *part_props = json_object_new_object();
    json_object *names = json_object_new_array();
    for (int p = 0; p < HEALTH__N; p++) {
        json_object_object_add(part_props, health_name(p), openapi_ref("HealthComponent"));
        json_object_array_add(names, json_object_new_string(health_name(p)));
    }
    openapi_add_str(parts, "type", "object");
    json_object_object_add(parts, "properties", part_props);
    json_object_object_add(parts, "required", json_object_get(names));
    json_object *status = openapi_enum(openapi_strings(openapi_health_status), "Whether every "
                                                                               "part is up.");
    json_object *docker =
        openapi_enum(openapi_strings(openapi_docker_status), "Whether the engine answers.");
    json_object *failed = json_object_new_object(), *item = json_object_new_object();
    openapi_add_str(item, "type", "string");
    json_object_object_add(item, "enum", json_object_get(names));
    openapi_add_str(failed, "type", "array");
    json_object_object_add(failed, "items", item);
    openapi_add_str(failed, "description", "The parts that are down.");
    json_object *code =
        openapi_enum(openapi_strings(openapi_health_codes), "The first failed part's code.");
    json_object *error = json_object_new_object();
    openapi_add_str(error, "type", "string");
    openapi_add_str(error, "description", "One line naming each failed part and why.");
    json_object_object_add(props, "status", status);
    json_object_object_add(props, "docker", docker);
    json_object_object_add(props, "components", parts);
    json_object_object_add(props, "failed", failed);
    json_object_object_add(props, "code", code);
    json_object_object_add(props, "error", error);
    json_object *engines = json_object_new_object(), *engine = json_object_new_object();
    openapi_add_str(engine, "type", "object");
    openapi_add_str(engine, "description",
                    "name, endpoint, status (up or down), weight, in_flight, calls (placed)");
    openapi_add_str(engines, "type", "array");
    json_object_object_add(engines, "items", engine);
    openapi_add_str(engines, "description",
                    "With several engines (MINILAMBDA_ENGINES): each one and its state.");
    json_object_object_add(props, "engines", engines);
    openapi_add_str(s, "type", "object");
    openapi_add_str(s, "description", "What /healthz found.");
    json_object_object_add(s, "properties", props);
    json_object *required = json_object_new_array();
    json_object_array_add(required, json_object_new_string("status"));
    json_object_array_add(required, json_object_new_string("docker"));
    json_object_array_add(required, json_object_new_string("components"));
    json_object_object_add(s, "required", required);
    json_object_put(names);
    return s;
}

/* The schemas built from the code's tables rather than described here. */
static void openapi_table_schemas(json_object *schemas)
{
    json_object *words = json_object_new_array(), *fn;

    fn = func_schema(FUNC_VIEW_RECORD);
    json_object *present = json_object_new_object(), *props;
    openapi_add_str(present, "type", "boolean");
    openapi_add_str(present, "description",
                    "GET /functions/{ref} only: false when the engine does not have the image.");
    if (json_object_object_get_ex(fn, "properties", &props))
        json_object_object_add(props, "image_present", present);
    else
        json_object_put(present);
    openapi_add_str(fn, "description", "A function's record (func.c's field table).");
    json_object_object_add(schemas, "Function", fn);
    fn = func_schema(FUNC_VIEW_CREATE);
    openapi_add_str(fn, "description", "A registration body: the settable fields.");
    json_object_object_add(schemas, "FunctionCreate", fn);
    fn = func_schema(FUNC_VIEW_PATCH);
    openapi_add_str(fn, "description", "A change: the fields PATCH may change.");
    json_object_object_add(schemas, "FunctionPatch", fn);

    for (int o = 0; o < STATUS__OUTCOMES; o++)
        openapi_add_unique(words, status_word((status_outcome)o));
    json_object_object_add(schemas, "RunStatus",
                           openapi_enum(words, "How a synchronous run ended (status.c)."));
    words = json_object_new_array();
    for (int s = 0; s < STATUS__RECORDS; s++)
        json_object_array_add(words, json_object_new_string(status_record_name((status_record)s)));
    json_object_object_add(
        schemas, "RecordStatus",
        openapi_enum(words, "Where an asynchronous invocation stands: PENDING, then RUNNING, "
                            "then one of the others."));
    words = json_object_new_array();
    for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
        json_object_array_add(words, json_object_new_string(keys_scope_name(bit)));
    json_object_object_add(schemas, "Scope", openapi_enum(words, "What a key may do."));

    json_object_object_add(schemas, "Health", openapi_health());

    json_object *list = json_object_new_object(), *one = json_object_new_array();
    json_object_array_add(one, openapi_type("string[]"));
    json_object_array_add(one, openapi_type("#ImageDetail[]"));
    json_object_object_add(list, "oneOf", one);
    openapi_add_str(list, "description", "Tags, or with ?detail=1 one object per image.");
    json_object_object_add(schemas, "ImageList", list);

    json_object *made = json_object_new_object(), *all = json_object_new_array();
    json_object *secret = json_object_new_object(), *sprops = json_object_new_object();
    json_object *key = json_object_new_object(), *req = json_object_new_array();
    openapi_add_str(key, "type", "string");
    openapi_add_str(key, "description", "The secret (`mlk_...`), shown this once.");
    json_object_object_add(sprops, "key", key);
    json_object_array_add(req, json_object_new_string("key"));
    json_object_object_add(secret, "properties", sprops);
    json_object_object_add(secret, "required", req);
    json_object_array_add(all, openapi_ref("Key"));
    json_object_array_add(all, secret);
    json_object_object_add(made, "allOf", all);
    openapi_add_str(made, "description", "A new key and its secret.");
    json_object_object_add(schemas, "KeyCreated", made);
}

static void openapi_err_add(openapi_errs *l, int status, const char *code, bool run)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].status == status && strcmp(l->v[i].code, code) == 0)
            return;
    if (l->n < OPENAPI_ERRS_MAX)
        l->v[l->n++] = (openapi_err){status, code, run};
    else
        l->full = true;
}

static void openapi_kind_add(openapi_errs *l, err_kind kind, const char *code)
{
    openapi_err_add(l, openapi_kind_status(kind), openapi_kind_code(kind, code), false);
}

/* The x-error-code of every property of component `name` (the function
 * field table's codes for its bodies). */
static void openapi_field_codes(openapi_build *b, const char *name, openapi_errs *l)
{
    json_object *s, *props;
    if (!json_object_object_get_ex(b->schemas, name, &s) ||
        !json_object_object_get_ex(s, "properties", &props))
        return;
    json_object_object_foreach(props, key, p)
    {
        json_object *code;
        (void)key;
        if (json_object_object_get_ex(p, "x-error-code", &code))
            openapi_kind_add(l, ERR_INVALID, json_object_get_string(code));
    }
}

/* Every error operation `r` can answer, from its route rows' flags, its
 * body and its own list. */
static void openapi_route_errors(openapi_build *b, const openapi_route *r, unsigned flags,
                                 unsigned access, openapi_errs *l)
{
    /* The gate checks a key whenever one is presented, even on an open
     * route. */
    openapi_kind_add(l, ERR_UNAUTHORIZED, NULL);
    openapi_kind_add(l, ERR_LIMIT, "too_many_failures");
    if (access != ROUTE_OPEN) {
        openapi_kind_add(l, ERR_FORBIDDEN, NULL);
        openapi_kind_add(l, ERR_LIMIT, "rate_limited");
    }
    if (strchr(r->tmpl, '{') != NULL)
        openapi_kind_add(l, ERR_INVALID, "invalid_path");
    if (flags & ROUTE_IF_EVENT)
        openapi_kind_add(l, ERR_INVALID, "invalid_invocation_type");
    if (flags & ROUTE_ALLOWLIST)
        openapi_kind_add(l, ERR_FORBIDDEN, NULL);
    if (flags & ROUTE_FUNCTION) {
        openapi_kind_add(l, ERR_NOT_FOUND, NULL);
        openapi_kind_add(l, ERR_CORRUPT, NULL);
    }
    if (flags & ROUTE_SLOT)
        openapi_kind_add(l, ERR_LIMIT, NULL);
    if (flags & ROUTE_UPLOAD)
        openapi_kind_add(l, ERR_LIMIT, "too_many_uploads");
    if (flags & ROUTE_IDEMPOTENT) {
        openapi_kind_add(l, ERR_INVALID, "invalid_idempotency_key");
        openapi_kind_add(l, ERR_UNPROCESSABLE, "idempotency_mismatch");
        openapi_kind_add(l, ERR_CONFLICT, "idempotency_in_progress");
        openapi_kind_add(l, ERR_STORAGE_FULL, "idempotency_full");
        if (flags & ROUTE_NO_REDO) {
            openapi_kind_add(l, ERR_CONFLICT, "idempotency_interrupted");
            openapi_kind_add(l, ERR_CONFLICT, "idempotency_answer_not_kept");
        }
    }
    if (r->body != NULL && strcmp(r->body, "upload") != 0) {
        /* http_read_json's refusals. */
        openapi_kind_add(l, ERR_INVALID, "invalid_json");
        openapi_kind_add(l, ERR_INVALID, "json_too_deep");
        openapi_kind_add(l, ERR_INVALID, "duplicate_key");
        openapi_kind_add(l, ERR_INVALID, "invalid_body");
        openapi_kind_add(l, ERR_TOO_LARGE, NULL);
        openapi_kind_add(l, ERR_UNSUPPORTED, NULL);
        if (r->body[0] == '#')
            openapi_field_codes(b, r->body + 1, l);
    }
    for (const openapi_code *c = r->errors; c != NULL && c->kind != ERR_NONE; c++)
        openapi_kind_add(l, c->kind, c->code);
    /* A route that runs a function holding a slot answers how the run
     * ended. */
    if (flags & ROUTE_SLOT) {
        for (int o = 0; o < STATUS__OUTCOMES; o++) {
            const char *code = status_code((status_outcome)o);
            /* A cancelled run's client is gone: nobody reads its answer. */
            if (code != NULL && o != STATUS_CANCELLED)
                openapi_err_add(l, status_http((status_outcome)o), code, true);
        }
    }
    openapi_kind_add(l, ERR_INTERNAL, NULL);
    for (size_t i = 0; i < OPENAPI_NGINX_EVERY_ROUTE; i++)
        openapi_err_add(l, openapi_nginx[i].status, openapi_nginx[i].code, false);
}

/* allOf [$ref `base`, {code: enum `codes`}], `required` naming error and
 * code when set. Takes `codes`. */
static json_object *openapi_coded(const char *base, json_object *codes, bool required)
{
    json_object *s = json_object_new_object(), *all = json_object_new_array();
    json_object *narrow = json_object_new_object(), *props = json_object_new_object();
    json_object *code = json_object_new_object();
    json_object_object_add(code, "enum", codes);
    json_object_object_add(props, "code", code);
    json_object_object_add(narrow, "properties", props);
    if (required) {
        json_object *req = json_object_new_array();
        json_object_array_add(req, json_object_new_string("error"));
        json_object_array_add(req, json_object_new_string("code"));
        json_object_object_add(narrow, "required", req);
    }
    json_object_array_add(all, openapi_ref(base));
    json_object_array_add(all, narrow);
    json_object_object_add(s, "allOf", all);
    return s;
}

/* Whether `type` is the function record or a list of them. */
static bool openapi_is_function(const char *type)
{
    return type != NULL && (strcmp(type, "#Function") == 0 || strcmp(type, "#Function[]") == 0);
}

/* An example's answer as the document shows it: a function record gets
 * the field table's defaults for what the example leaves out, so examples
 * follow the table. 0 with `*out`, or -1 with `e`. */
static int openapi_answer_value(const openapi_route *r, const openapi_example *x, const char *type,
                                json_object **out, err_t *e)
{
    err_t why;
    *out = NULL;
    if (openapi_json(x->answer, out) != 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "%s example %s: the answer does not parse", r->op,
                       x->name);
    if (!openapi_is_function(type))
        return 0;
    bool list = json_object_is_type(*out, json_type_array);
    size_t n = list ? json_object_array_length(*out) : 1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = func_load(list ? json_object_array_get_idx(*out, i) : *out, &why);
    if (rc == 0)
        return 0;
    json_object_put(*out);
    *out = NULL;
    return err_set(e, ERR_INTERNAL, NULL, 0, "%s example %s: %s", r->op, x->name, why.msg);
}

/* The examples of `r` answered with `status`, or NULL when none is. */
static int openapi_answer_examples(const openapi_route *r, int status, const char *type,
                                   json_object **out, err_t *e)
{
    *out = NULL;
    for (const openapi_example *x = r->examples; x != NULL && x->name != NULL; x++) {
        json_object *value, *ex;
        if (x->status != status || x->answer == NULL)
            continue;
        if (openapi_answer_value(r, x, type, &value, e) != 0)
            return -1;
        if (*out == NULL)
            *out = json_object_new_object();
        ex = json_object_new_object();
        openapi_add_str(ex, "summary", x->summary);
        json_object_object_add(ex, "value", value);
        json_object_object_add(*out, x->name, ex);
    }
    return 0;
}

/* Examples answered with `status` and no body (204) have no media to sit
 * in: "x-examples" on the response names them, so they can be run too. */
static void openapi_bodiless_examples(const openapi_route *r, int status, json_object *resp)
{
    json_object *names = NULL;
    for (const openapi_example *x = r->examples; x != NULL && x->name != NULL; x++) {
        if (x->status != status || x->answer != NULL)
            continue;
        if (names == NULL) {
            names = json_object_new_object();
            json_object_object_add(resp, "x-examples", names);
        }
        json_object *ex = json_object_new_object();
        openapi_add_str(ex, "summary", x->summary);
        json_object_object_add(names, x->name, ex);
    }
}

static int openapi_cmp_status(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The response of `r` at `status`: the answer's schema and the errors at
 * that status, with the examples answered so. 0 with `*out`, or -1. */
static int openapi_response(const openapi_route *r, const openapi_errs *l, int status,
                            json_object **out, err_t *e)
{
    const openapi_answer *a = NULL;
    json_object *run = json_object_new_array(), *other = json_object_new_array();
    json_object *alts = json_object_new_array(), *resp = json_object_new_object();
    json_object *examples = NULL;
    char desc[1024] = "", both[1200];
    size_t used = 0;
    int rc = -1;

    for (size_t i = 0; i < OPENAPI_ANSWERS; i++)
        if (r->answers[i].status == status)
            a = &r->answers[i];
    if (a != NULL && a->type != NULL)
        json_object_array_add(alts,
                              openapi_type(strcmp(a->type, "text") == 0 ? "string" : a->type));
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].status != status)
            continue;
        json_object_array_add(l->v[i].run ? run : other, json_object_new_string(l->v[i].code));
        int n = snprintf(desc + used, sizeof(desc) - used, "%s`%s`",
                         used ? ", " : "Errors: ", l->v[i].code);
        if (n > 0 && (size_t)n < sizeof(desc) - used)
            used += (size_t)n;
    }
    /* A run's outcome answers an InvokeResult with its error and code. */
    if (json_object_array_length(run) > 0)
        json_object_array_add(alts, openapi_coded("InvokeResult", json_object_get(run), true));
    if (json_object_array_length(other) > 0)
        json_object_array_add(alts, openapi_coded("Error", json_object_get(other), false));
    if (openapi_answer_examples(r, status, a != NULL ? a->type : NULL, &examples, e) != 0)
        goto done;
    if (examples != NULL && json_object_array_length(alts) == 0) {
        err_set(e, ERR_INTERNAL, NULL, 0,
                "%s: an example answers %d with a body, which it has none", r->op, status);
        goto done;
    }
    snprintf(both, sizeof(both), "%s%s%s", a != NULL ? a->desc : "", a != NULL && used ? " " : "",
             desc);
    openapi_add_str(resp, "description", both);
    if (json_object_array_length(alts) > 0) {
        json_object *media = json_object_new_object(), *content = json_object_new_object();
        json_object *schema = json_object_get(json_object_array_get_idx(alts, 0));
        if (json_object_array_length(alts) > 1) {
            json_object_put(schema);
            schema = json_object_new_object();
            json_object_object_add(schema, "anyOf", json_object_get(alts));
        }
        json_object_object_add(media, "schema", schema);
        if (examples != NULL)
            json_object_object_add(media, "examples", examples);
        examples = NULL;
        bool text = a != NULL && a->type != NULL && strcmp(a->type, "text") == 0;
        json_object_object_add(content, text ? "text/plain" : "application/json", media);
        json_object_object_add(resp, "content", content);
    }
    openapi_bodiless_examples(r, status, resp);
    *out = resp;
    resp = NULL;
    rc = 0;
done:
    json_object_put(examples);
    json_object_put(resp);
    json_object_put(alts);
    json_object_put(other);
    json_object_put(run);
    return rc;
}

/* The responses object of `r`: its answers, then its errors, by status. */
static int openapi_responses(const openapi_route *r, const openapi_errs *l, json_object **out,
                             err_t *e)
{
    int statuses[OPENAPI_ERRS_MAX + OPENAPI_ANSWERS];
    size_t ns = 0;
    json_object *responses = json_object_new_object(), *resp;
    char key[8];

    for (size_t i = 0; i < OPENAPI_ANSWERS; i++)
        if (r->answers[i].status != 0)
            statuses[ns++] = r->answers[i].status;
    for (size_t i = 0; i < l->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < ns && !seen; k++)
            seen = statuses[k] == l->v[i].status;
        if (!seen)
            statuses[ns++] = l->v[i].status;
    }
    qsort(statuses, ns, sizeof(statuses[0]), openapi_cmp_status);
    for (const openapi_example *x = r->examples; x != NULL && x->name != NULL; x++) {
        bool seen = false;
        for (size_t k = 0; k < ns && !seen; k++)
            seen = statuses[k] == x->status;
        if (!seen) {
            err_set(e, ERR_INTERNAL, NULL, 0,
                    "%s example %s answers %d, which the route does not document", r->op, x->name,
                    x->status);
            goto fail;
        }
    }
    for (size_t k = 0; k < ns; k++) {
        if (openapi_response(r, l, statuses[k], &resp, e) != 0)
            goto fail;
        snprintf(key, sizeof(key), "%d", statuses[k]);
        json_object_object_add(responses, key, resp);
    }
    *out = responses;
    return 0;
fail:
    json_object_put(responses);
    return -1;
}

/* The value of `name` in the query string `q`, into `out`. */
static bool openapi_query_value(const char *q, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    while (q != NULL && *q != '\0') {
        size_t len = strcspn(q, "&");
        if (strncmp(q, name, n) == 0 && q[n] == '=') {
            snprintf(out, outlen, "%.*s", (int)(len - n - 1), q + n + 1);
            return true;
        }
        q += len + (q[len] == '&');
    }
    return false;
}

/* Add example `x` (its value `v`, taken) to parameter or media `o`. */
static void openapi_add_example(json_object *o, const openapi_example *x, json_object *v)
{
    json_object *examples, *ex = json_object_new_object();
    if (!json_object_object_get_ex(o, "examples", &examples)) {
        examples = json_object_new_object();
        json_object_object_add(o, "examples", examples);
    }
    openapi_add_str(ex, "summary", x->summary);
    json_object_object_add(ex, "value", v);
    json_object_object_add(examples, x->name, ex);
}

/* The parameters of `r`: its path parameter, X-Invocation-Type when a row
 * depends on it, its query; each with its examples. NULL when none. */
static json_object *openapi_parameters(const openapi_route *r, unsigned flags)
{
    json_object *params = json_object_new_array();
    const char *open = strchr(r->tmpl, '{');
    if (open != NULL) {
        json_object *p = json_object_new_object();
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(open + 1, "}"), open + 1);
        openapi_add_str(p, "name", name);
        openapi_add_str(p, "in", "path");
        json_object_object_add(p, "required", json_object_new_boolean(1));
        openapi_add_str(p, "description", r->param != NULL ? r->param : name);
        json_object_object_add(p, "schema", openapi_type("string"));
        for (const openapi_example *x = r->examples; x->name != NULL; x++)
            if (x->ref != NULL)
                openapi_add_example(p, x, json_object_new_string(x->ref));
        json_object_array_add(params, p);
    }
    if (flags & ROUTE_IF_EVENT) {
        json_object *p = json_object_new_object(), *s = openapi_type("string");
        openapi_add_str(p, "name", "X-Invocation-Type");
        openapi_add_str(p, "in", "header");
        openapi_add_str(p, "description",
                        "`Event` queues the run (202) instead of waiting for it; "
                        "`RequestResponse` or absent: wait.");
        json_object_object_add(s, "enum", openapi_strings(openapi_types));
        json_object_object_add(p, "schema", s);
        for (const openapi_example *x = r->examples; x->name != NULL; x++)
            if (x->type != NULL)
                openapi_add_example(p, x, json_object_new_string(x->type));
        json_object_array_add(params, p);
    }
    if (flags & ROUTE_IDEMPOTENT) {
        json_object *p = json_object_new_object(), *s = openapi_type("string");
        openapi_add_str(p, "name", "Idempotency-Key");
        openapi_add_str(p, "in", "header");
        openapi_add_str(p, "description",
                        "Chosen by the client per operation: a retry with the same key and the "
                        "same request within 24 hours gets the first answer again "
                        "(`Idempotent-Replayed: true`) and acts no second time.");
        json_object_object_add(s, "minLength", json_object_new_int(1));
        json_object_object_add(s, "maxLength", json_object_new_int(255));
        json_object_object_add(p, "schema", s);
        json_object_array_add(params, p);
    }
    for (const openapi_prop *q = r->query; q != NULL && q->name != NULL; q++) {
        json_object *p = json_object_new_object(), *s = NULL;
        char v[256];
        openapi_add_str(p, "name", q->name);
        openapi_add_str(p, "in", "query");
        openapi_add_str(p, "description", q->desc);
        /* Query defaults are plain numbers: openapi_check parses them. */
        if (openapi_prop_schema(q, &s) == 0) {
            json_object_object_del(s, "description");
            json_object_object_add(p, "schema", s);
        }
        for (const openapi_example *x = r->examples; x->name != NULL; x++) {
            if (!openapi_query_value(x->query, q->name, v, sizeof(v)))
                continue;
            /* A value as typed in a URL; an integer parameter's is a number. */
            json_object *val = NULL;
            if (strcmp(q->type, "integer") != 0 || openapi_json(v, &val) != 0)
                val = json_object_new_string(v);
            openapi_add_example(p, x, val);
        }
        json_object_array_add(params, p);
    }
    if (json_object_array_length(params) == 0) {
        json_object_put(params);
        return NULL;
    }
    return params;
}

/* The request body of `r`, or NULL when it takes none. */
static json_object *openapi_request(const openapi_route *r)
{
    json_object *body, *content, *media;
    if (r->body == NULL)
        return NULL;
    body = json_object_new_object();
    content = json_object_new_object();
    json_object_object_add(body, "required",
                           json_object_new_boolean(!(r->flags & OPENAPI_BODY_OPTIONAL)));
    if (strcmp(r->body, "upload") == 0) {
        json_object *form = json_object_new_object(), *s = json_object_new_object();
        json_object *props = json_object_new_object(), *req = json_object_new_array();
        json_object *tar = json_object_new_object(), *file = json_object_new_object();
        openapi_add_str(file, "type", "string");
        openapi_add_str(file, "format", "binary");
        openapi_add_str(file, "description", "The `docker save` tar (gzipped or not).");
        json_object_object_add(props, "image", file);
        json_object_array_add(req, json_object_new_string("image"));
        openapi_add_str(s, "type", "object");
        json_object_object_add(s, "properties", props);
        json_object_object_add(s, "required", req);
        json_object_object_add(form, "schema", s);
        json_object_object_add(content, "multipart/form-data", form);
        json_object_object_add(tar, "schema", json_object_get(file));
        json_object_object_add(content, "application/x-tar", tar);
        openapi_add_str(body, "description",
                        "A `docker save` tar: the multipart field `image`, or the whole body.");
    } else {
        media = json_object_new_object();
        json_object_object_add(media, "schema", openapi_type(r->body));
        for (const openapi_example *x = r->examples; x->name != NULL; x++) {
            json_object *v;
            if (x->body != NULL && openapi_json(x->body, &v) == 0)
                openapi_add_example(media, x, v);
        }
        json_object_object_add(content, "application/json", media);
    }
    json_object_object_add(body, "content", content);
    return body;
}

/* The route table's flags and scopes of every row for `r`. */
static void openapi_rows_of(const openapi_route *r, unsigned *flags, unsigned *access)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    *flags = 0;
    *access = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].tmpl, r->tmpl) != 0 || rows[i].method != r->method)
            continue;
        *flags |= rows[i].flags;
        *access |= rows[i].access;
    }
}

/* What the gate does for the route, in words: from its flags and scopes. */
static void openapi_gate_notes(unsigned flags, unsigned access, const char *desc, char *out,
                               size_t outlen)
{
    size_t used = 0;
    int n;
#define OPENAPI_NOTE(...)                                                                          \
    do {                                                                                           \
        n = snprintf(out + used, outlen - used, __VA_ARGS__);                                      \
        if (n > 0 && (size_t)n < outlen - used)                                                    \
            used += (size_t)n;                                                                     \
    } while (0)
    out[0] = '\0';
    if (desc != NULL)
        OPENAPI_NOTE("%s\n\n", desc);
    if (access == ROUTE_OPEN) {
        OPENAPI_NOTE("Needs no key.");
    } else {
        OPENAPI_NOTE("Keys with scope admin");
        for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
            if ((access & bit) && bit != KEYS_ADMIN)
                OPENAPI_NOTE(" or %s", keys_scope_name(bit));
        OPENAPI_NOTE(" may call it.");
    }
    if (flags & ROUTE_FUNCTION)
        OPENAPI_NOTE(" A key whose `functions` list leaves the function out gets 404 "
                     "`not_found`, as for a function that does not exist.");
    if ((flags & ROUTE_OWN) && (access & KEYS_READ))
        OPENAPI_NOTE(" A key with only the invoke scope sees the runs it started, a key with a "
                     "`functions` list the runs of those; another run is 404 `not_found`.");
    else if (flags & ROUTE_OWN)
        OPENAPI_NOTE(" A key without admin or deploy acts on the runs it started only (read "
                     "does not widen it); another key's run is 403 when the key may read it, "
                     "else 404 `not_found`.");
    if (flags & ROUTE_REDACT)
        OPENAPI_NOTE(" A key with only the read scope sees env values as `***`.");
    if (flags & ROUTE_ALLOWLIST)
        OPENAPI_NOTE(" Only addresses in MINILAMBDA_METRICS_ALLOW may call it.");
    if (flags & ROUTE_SLOT)
        OPENAPI_NOTE(" Each synchronous run takes an invocation slot: past "
                     "MINILAMBDA_MAX_CONCURRENCY, 429 `too_many_requests` with `Retry-After`.");
    if (flags & ROUTE_UPLOAD)
        OPENAPI_NOTE(" Each upload takes an upload slot: past MINILAMBDA_MAX_UPLOADS, 429 "
                     "`too_many_uploads` with `Retry-After`.");
#undef OPENAPI_NOTE
}

static int openapi_operation(openapi_build *b, const openapi_route *r, json_object **out, err_t *e)
{
    unsigned flags, access;
    openapi_errs errs = {.n = 0};
    char notes[2048], tag[32];
    json_object *op, *responses = NULL, *params, *body;

    openapi_rows_of(r, &flags, &access);
    openapi_route_errors(b, r, flags, access, &errs);
    if (errs.full)
        return err_set(e, ERR_INTERNAL, NULL, 0, "%s answers more than %d errors", r->op,
                       OPENAPI_ERRS_MAX);
    if (openapi_responses(r, &errs, &responses, e) != 0)
        return -1;
    op = json_object_new_object();
    for (size_t i = 0; i < errs.n; i++)
        openapi_add_unique(b->codes, errs.v[i].code);
    snprintf(tag, sizeof(tag), "%.*s", (int)strcspn(r->tmpl + 1, "/"), r->tmpl + 1);
    json_object *tags = json_object_new_array();
    json_object_array_add(tags, json_object_new_string(tag));
    openapi_add_str(op, "operationId", r->op);
    openapi_add_str(op, "summary", r->summary);
    openapi_gate_notes(flags, access, r->desc, notes, sizeof(notes));
    openapi_add_str(op, "description", notes);
    json_object_object_add(op, "tags", tags);
    json_object *security = json_object_new_array();
    if (access != ROUTE_OPEN) {
        json_object *req = json_object_new_object(), *scopes = json_object_new_array();
        for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
            if ((access & bit) || bit == KEYS_ADMIN)
                json_object_array_add(scopes, json_object_new_string(keys_scope_name(bit)));
        json_object_object_add(req, "bearer", scopes);
        json_object_array_add(security, req);
    }
    json_object_object_add(op, "security", security);
    if ((params = openapi_parameters(r, flags)) != NULL)
        json_object_object_add(op, "parameters", params);
    if ((body = openapi_request(r)) != NULL)
        json_object_object_add(op, "requestBody", body);
    json_object_object_add(op, "responses", responses);
    *out = op;
    return 0;
}

/* The Error schema: every code the document names, and nginx's. */
static json_object *openapi_error_schema(json_object *codes)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *error = json_object_new_object(), *code = json_object_new_object();
    json_object *req = json_object_new_array();
    for (int k = ERR_NONE + 1; k < ERR__COUNT; k++)
        openapi_add_unique(codes, openapi_kind_code((err_kind)k, NULL));
    for (size_t i = 0; i < OPENAPI_NGINX; i++)
        openapi_add_unique(codes, openapi_nginx[i].code);
    for (size_t i = 0; openapi_health_codes[i] != NULL; i++)
        openapi_add_unique(codes, openapi_health_codes[i]);
    openapi_add_str(error, "type", "string");
    openapi_add_str(error, "description", "What went wrong, as a sentence.");
    openapi_add_str(code, "type", "string");
    openapi_add_str(code, "description", "A stable word for what went wrong.");
    json_object_object_add(code, "enum", json_object_get(codes));
    json_object_object_add(props, "error", error);
    json_object_object_add(props, "code", code);
    json_object_array_add(req, json_object_new_string("error"));
    json_object_array_add(req, json_object_new_string("code"));
    openapi_add_str(s, "type", "object");
    openapi_add_str(s, "description", "Every error, from the app or from nginx.");
    json_object_object_add(s, "properties", props);
    json_object_object_add(s, "required", req);
    return s;
}

static const char openapi_about[] =
    "A self-hosted function platform: register a function as a Docker image, invoke it over "
    "HTTP with a JSON event, and get its output back. Every invocation runs in a fresh "
    "container.\n\n"
    "Bodies are JSON (strict: valid UTF-8, no NUL, at most 64 levels, no key twice). Every "
    "error is `{\"error\": \"<sentence>\", \"code\": \"<stable word>\"}`, from the app or from "
    "nginx; each operation lists the codes it can answer. An unknown path is 404 `not_found`, a "
    "method a path does not have 405 `method_not_allowed` with `Allow`. A GET route answers "
    "HEAD too.\n\n"
    "Generated by `minilambda-fcgi --print-openapi` from the route, function field, error and "
    "status tables.";

static int openapi_build_doc(json_object *doc, err_t *e)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    openapi_build b;
    json_object *info = json_object_new_object(), *components = json_object_new_object();
    json_object *schemes = json_object_new_object(), *bearer = json_object_new_object();
    json_object *paths = json_object_new_object();
    int rc = -1;

    b.schemas = json_object_new_object();
    b.codes = json_object_new_array();
    openapi_add_str(doc, "openapi", "3.1.0");
    openapi_add_str(info, "title", "minilambda");
    openapi_add_str(info, "version", PACKAGE_VERSION);
    openapi_add_str(info, "description", openapi_about);
    json_object_object_add(doc, "info", info);
    openapi_add_str(bearer, "type", "http");
    openapi_add_str(bearer, "scheme", "bearer");
    openapi_add_str(bearer, "description",
                    "An API key (`mlk_...`). Required when MINILAMBDA_AUTH says so (by default: "
                    "when nginx binds a non-loopback address); 401 `unauthorized` without one, "
                    "403 `forbidden` when its scopes do not allow the call. A function outside "
                    "its `functions` list, or a run it may not see, is 404 `not_found`, as one "
                    "that does not exist. The scopes listed on an operation are the ones that "
                    "may call it.");
    json_object_object_add(schemes, "bearer", bearer);
    json_object_object_add(components, "securitySchemes", schemes);
    json_object_object_add(components, "schemas", b.schemas);

    openapi_table_schemas(b.schemas);
    for (size_t i = 0; i < OPENAPI_SHAPES; i++) {
        json_object *s = NULL;
        if (openapi_shape_schema(&openapi_shapes[i], &s, e) != 0)
            goto done;
        json_object_object_add(b.schemas, openapi_shapes[i].name, s);
    }
    /* Paths in the route table's order; one operation per template and
     * method, however many rows share it. */
    for (size_t i = 0; i < n; i++) {
        json_object *item, *op;
        const openapi_route *r = NULL;
        for (size_t k = 0; k < OPENAPI_ROUTES && r == NULL; k++)
            if (strcmp(openapi_routes[k].tmpl, rows[i].tmpl) == 0 &&
                openapi_routes[k].method == rows[i].method)
                r = &openapi_routes[k];
        if (!json_object_object_get_ex(paths, rows[i].tmpl, &item)) {
            item = json_object_new_object();
            json_object_object_add(paths, rows[i].tmpl, item);
        }
        if (json_object_object_get_ex(item, openapi_method_name(rows[i].method), NULL))
            continue;
        if (r == NULL) {
            err_set(e, ERR_INTERNAL, NULL, 0, "route %s has no documentation", rows[i].tmpl);
            goto done;
        }
        if (openapi_operation(&b, r, &op, e) != 0)
            goto done;
        json_object_object_add(item, openapi_method_name(rows[i].method), op);
    }
    json_object_object_add(doc, "paths", paths);
    paths = NULL;
    json_object_object_add(b.schemas, "Error", openapi_error_schema(b.codes));
    json_object_object_add(doc, "components", components);
    components = NULL;
    rc = 0;
done:
    json_object_put(paths);
    json_object_put(components);
    json_object_put(b.codes);
    return rc;
}

int openapi_check_routes(const route_def *rows, size_t n, err_t *e)
{
    char m[64];
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < OPENAPI_ROUTES && !found; k++)
            found = strcmp(openapi_routes[k].tmpl, rows[i].tmpl) == 0 &&
                    openapi_routes[k].method == rows[i].method;
        if (!found) {
            http_allow(rows[i].method, m, sizeof(m));
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "route %s %s has no row in openapi.c's openapi_routes", m, rows[i].tmpl);
        }
    }
    for (size_t k = 0; k < OPENAPI_ROUTES; k++) {
        const openapi_route *r = &openapi_routes[k];
        bool found = false, param = strchr(r->tmpl, '{') != NULL;
        http_allow(r->method, m, sizeof(m));
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(r->tmpl, rows[i].tmpl) == 0 && r->method == rows[i].method;
        if (!found)
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "openapi.c documents %s %s, which the route table does not have", m,
                           r->tmpl);
        for (size_t j = 0; j < k; j++)
            if ((strcmp(openapi_routes[j].tmpl, r->tmpl) == 0 &&
                 openapi_routes[j].method == r->method) ||
                strcmp(openapi_routes[j].op, r->op) == 0)
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "openapi.c documents %s %s twice, or reuses operation id %s", m,
                               r->tmpl, r->op);
        if (r->summary == NULL || r->answers[0].status == 0 || r->examples == NULL)
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "openapi.c: %s %s needs a summary, an answer and examples", m, r->tmpl);
        for (const openapi_example *x = r->examples; x->name != NULL; x++) {
            json_object *v = NULL;
            bool bad = (param && x->ref == NULL) || (!param && x->ref != NULL) ||
                       (x->body != NULL && openapi_json(x->body, &v) != 0);
            json_object_put(v);
            v = NULL;
            bad = bad || (x->answer != NULL && openapi_json(x->answer, &v) != 0);
            json_object_put(v);
            if (bad)
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "openapi.c: example %s of %s %s: a path parameter is missing or "
                               "extra, or its JSON does not parse",
                               x->name, m, r->tmpl);
        }
        for (const openapi_prop *q = r->query; q != NULL && q->name != NULL; q++) {
            json_object *v = NULL;
            bool bad = q->def != NULL && openapi_json(q->def, &v) != 0;
            json_object_put(v);
            if (bad)
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "openapi.c: the default of query parameter %s of %s %s does not "
                               "parse",
                               q->name, m, r->tmpl);
        }
    }
    return 0;
}

int openapi_check(err_t *e)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    return openapi_check_routes(rows, n, e);
}

json_object *openapi_document(err_t *e)
{
    if (openapi_check(e) != 0)
        return NULL;
    json_object *doc = json_object_new_object();
    if (doc == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "json_object_new_object() failed: out of memory");
        return NULL;
    }
    if (openapi_build_doc(doc, e) != 0) {
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

int openapi_print(FILE *out, err_t *e)
{
    json_object *doc = openapi_document(e);
    if (doc == NULL)
        return -1;
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = 0;
    if (fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out) != 0)
        rc = err_sys(e, errno, "fwrite", "the OpenAPI document");
    json_object_put(doc);
    return rc;
}
