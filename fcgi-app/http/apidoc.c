#include "http/apidoc.h"

#include <stddef.h>

#include "history/async.h"
#include "state/func.h"
#include "state/keys.h"

/* ------------------------------------------------------------------ */
/* Shapes                                                              */

static const char *const apidoc_part_status[] = {"ok", "failed", NULL};
static const char *const apidoc_detail[] = {"1", "true", "0", "false", NULL};
static const char *const apidoc_run_types[] = {"sync", "async", NULL};

/* The codes a failed /healthz part names (health.c). */
const char *const apidoc_health_codes[] = {
    "engine_unreachable", "engine_unavailable", "store_corrupt", "storage_error",  "storage_full",
    "executors_down",     "store_busy",         "keeper_down",   "keeper_stalled", NULL};

static const apidoc_prop apidoc_invoke_request[] = {
    {"event", "any", 0,
     "The event: any JSON value, written to the function's stdin exactly as sent (`{}` when "
     "absent).",
     0, 0, NULL, NULL},
    {"timeout", "integer", APIDOC_BOUNDS,
     "Seconds the whole run may take; 0 or absent: the function's own `timeout`.", 0,
     FUNC_TIMEOUT_MAX, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_invoke_result[] = {
    {"result", "string", APIDOC_REQ,
     "The function's stdout, at most 6 MiB (past it the rest is dropped and `truncated` set).", 0,
     0, NULL, NULL},
    {"duration", "integer", APIDOC_REQ, "Milliseconds the run took.", 0, 0, NULL, NULL},
    {"timestamp", "date-time", APIDOC_REQ, "When the call was accepted.", 0, 0, NULL, NULL},
    {"invocation_id", "uuid", APIDOC_REQ, "The call's id, also in the `X-Invocation-Id` header.", 0,
     0, NULL, NULL},
    {"status", "#RunStatus", APIDOC_REQ, "How the run ended.", 0, 0, NULL, NULL},
    {"start", "string", APIDOC_REQ | APIDOC_NULL,
     "How its container started: `cold`, `warm` or `reused`; null when it got none.", 0, 0, NULL,
     NULL},
    {"exit_code", "integer", APIDOC_REQ | APIDOC_NULL,
     "The function's exit code; null when it did not exit by itself.", 0, 0, NULL, NULL},
    {"logs", "string", APIDOC_REQ, "The function's stderr, at most 1 MiB.", 0, 0, NULL, NULL},
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

static const apidoc_prop apidoc_accepted[] = {
    {"invocation_id", "uuid", APIDOC_REQ,
     "The run's id: read it at `/invocations/{id}` (the `Location` header).", 0, 0, NULL, NULL},
    {"status", "#RecordStatus", APIDOC_REQ, "PENDING.", 0, 0, NULL, NULL},
    {"created_at", "date-time", APIDOC_REQ, "When it was queued.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_invocation[] = {
    {"id", "uuid", APIDOC_REQ, "The invocation's id.", 0, 0, NULL, NULL},
    {"type", "string", 0,
     "`sync` for a synchronous call's record, `async` for a queued run's (in listings; an async "
     "record read by id has none).",
     0, 0, apidoc_run_types, NULL},
    {"function_id", "uuid", APIDOC_REQ, "The function's id.", 0, 0, NULL, NULL},
    {"function_name", "string", APIDOC_REQ | APIDOC_NULL,
     "The function's name when it was queued; null for a run whose record was lost to damage "
     "(`code: record_corrupt`).",
     0, 0, NULL, NULL},
    {"status", "#RecordStatus", APIDOC_REQ, "Where the run stands.", 0, 0, NULL, NULL},
    {"created_at", "date-time", APIDOC_REQ, "When it was queued.", 0, 0, NULL, NULL},
    {"started_at", "date-time", APIDOC_REQ | APIDOC_NULL, "When its last attempt started.", 0, 0,
     NULL, NULL},
    {"completed_at", "date-time", APIDOC_REQ | APIDOC_NULL, "When it finished.", 0, 0, NULL, NULL},
    {"attempts", "integer", APIDOC_REQ, "Runs started so far.", 0, 0, NULL, NULL},
    {"max_attempts", "integer", APIDOC_REQ, "1 plus the function's `retries`.", 0, 0, NULL, NULL},
    {"timeout", "integer", APIDOC_REQ, "Seconds each attempt may take.", 0, 0, NULL, NULL},
    {"error", "string", APIDOC_REQ | APIDOC_NULL,
     "Why it failed (`interrupted`, `cancelled`, the function's error), or null.", 0, 0, NULL,
     NULL},
    {"created_by", "string", APIDOC_REQ | APIDOC_NULL, "The id of the key that queued it.", 0, 0,
     NULL, NULL},
    {"start", "string", APIDOC_NULL,
     "How its container started: `cold`, `warm` or `reused`; null when it got none.", 0, 0, NULL,
     NULL},
    {"http_status", "integer", 0, "Sync: the status the call was answered with.", 0, 0, NULL, NULL},
    {"code", "string", APIDOC_NULL,
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
    {"exit_code", "integer", APIDOC_NULL, "Sync, in listings: the exit code.", 0, 0, NULL, NULL},
    {"truncated", "boolean", 0,
     "Sync: output was cut, to the record's cap (MINILAMBDA_RECORD_OUTPUT_MAX) or the run's.", 0, 0,
     NULL, NULL},
    {"result", "#InvocationResult", APIDOC_NULL,
     "The last attempt's outcome, when read by id: null until one finished.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_invocation_result[] = {
    {"output", "string", APIDOC_REQ, "stdout, at most 6 MiB.", 0, 0, NULL, NULL},
    {"logs", "string", APIDOC_REQ, "stderr, at most 1 MiB.", 0, 0, NULL, NULL},
    {"duration_ms", "integer", APIDOC_REQ, "Milliseconds the attempt took.", 0, 0, NULL, NULL},
    {"exit_code", "integer", APIDOC_REQ | APIDOC_NULL,
     "The exit code; null when the function did not exit by itself.", 0, 0, NULL, NULL},
    {"truncated", "boolean", 0, "Present (true) when an output passed its cap.", 0, 0, NULL, NULL},
    {"output_bytes", "integer", 0,
     "Sync: bytes of stdout the run produced (the record keeps MINILAMBDA_RECORD_OUTPUT_MAX).", 0,
     0, NULL, NULL},
    {"logs_bytes", "integer", 0, "Sync: bytes of stderr the run produced.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_image_upload[] = {
    {"message", "string", APIDOC_REQ, "Image Uploaded Successfully.", 0, 0, NULL, NULL},
    {"images", "string[]", APIDOC_REQ, "The tags (or ids of untagged images) loaded.", 0, 0, NULL,
     NULL},
    {"file_size", "integer", APIDOC_REQ, "Bytes of tar read.", 0, 0, NULL, NULL},
    {"retagged", "string[]", APIDOC_REQ,
     "Functions the key may deploy whose tag the load moved; they keep running the image they "
     "are pinned to.",
     0, 0, NULL, NULL},
    {"pinned", "string[]", APIDOC_REQ,
     "Functions the key may deploy that were not pinned yet, now pinned to the loaded image.", 0, 0,
     NULL, NULL},
    {"pushed", "string[]", 0,
     "With `MINILAMBDA_REGISTRY`: each loaded tag as pushed there, for the engines to pull.", 0, 0,
     NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_image_detail[] = {
    {"id", "string", APIDOC_REQ | APIDOC_NULL, "The image id (`sha256:...`).", 0, 0, NULL, NULL},
    {"tags", "string[]", APIDOC_REQ, "Its tags.", 0, 0, NULL, NULL},
    {"size", "integer", APIDOC_REQ | APIDOC_NULL, "Bytes.", 0, 0, NULL, NULL},
    {"created", "date-time", APIDOC_REQ | APIDOC_NULL, "When it was built.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_health_part[] = {
    {"status", "string", APIDOC_REQ, "Whether the part is up.", 0, 0, apidoc_part_status, NULL},
    {"code", "string", 0, "Why not: a stable code.", 0, 0, apidoc_health_codes, NULL},
    {"error", "string", 0, "Why not, as a sentence.", 0, 0, NULL, NULL},
    {"functions", "integer", 0, "store: registered functions.", 0, 0, NULL, NULL},
    {"free_bytes", "integer", 0, "disk: free bytes on the data dir's file system.", 0, 0, NULL,
     NULL},
    {"min_free_bytes", "integer", 0, "disk: MINILAMBDA_MIN_FREE_BYTES.", 0, 0, NULL, NULL},
    {"running", "integer", 0, "executors: running and able to save outcomes.", 0, 0, NULL, NULL},
    {"configured", "integer", 0, "executors: MINILAMBDA_ASYNC_WORKERS.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_key_create[] = {
    {"name", "string", APIDOC_REQ, "1 to 64 printable characters.", 0, 0, NULL, NULL},
    {"scopes", "#Scope[]", APIDOC_REQ, "A non-empty list of distinct scopes.", 0, 0, NULL, NULL},
    {"functions", "string[]", 0,
     "Function names or ids the key is limited to (at most 1000); absent: every function.", 0, 0,
     NULL, NULL},
    {"rate", "number", APIDOC_BOUNDS | APIDOC_ABOVE,
     "Requests a second the key may make (a token bucket shared by every worker).", 0,
     KEYS_RATE_MAX, NULL, NULL},
    {"aws", "boolean", 0,
     "true: the key also gets AWS credentials (an access key id and a secret access key, "
     "shown once) for requests signed with SigV4, as the AWS CLI and SDKs sign.",
     0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_key[] = {
    {"id", "uuid", APIDOC_REQ, "The key's id.", 0, 0, NULL, NULL},
    {"name", "string", APIDOC_REQ, "Its name.", 0, 0, NULL, NULL},
    {"prefix", "string", APIDOC_REQ, "The secret's first 12 characters, to recognise it.", 0, 0,
     NULL, NULL},
    {"scopes", "#Scope[]", APIDOC_REQ, "What it may do.", 0, 0, NULL, NULL},
    {"functions", "string[]", 0, "The functions it is limited to, when it is.", 0, 0, NULL, NULL},
    {"rate", "number", APIDOC_REQ | APIDOC_NULL, "Requests a second, or null: no limit.", 0, 0,
     NULL, NULL},
    {"created_at", "date-time", APIDOC_REQ, "When it was made.", 0, 0, NULL, NULL},
    {"created_by", "string", APIDOC_REQ | APIDOC_NULL, "The id of the key that made it.", 0, 0,
     NULL, NULL},
    {"aws_access_key_id", "string", 0,
     "Its AWS access key id (20 upper-case letters and digits), when it has AWS credentials. "
     "The secret access key is never listed.",
     0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* The Lambda API's shapes (lambda.c), member by member as the AWS
 * clients read them. */
static const apidoc_prop apidoc_lambda_error[] = {
    {"Type", "string", APIDOC_REQ, "`User` for a 4xx (the request), `Service` for a 5xx.", 0, 0,
     NULL, NULL},
    {"message", "string", APIDOC_REQ, "What went wrong. The type is the `x-amzn-ErrorType` header.",
     0, 0, NULL, NULL},
    {"Reason", "string", 0, "For TooManyRequestsException: `ConcurrentInvocationLimitExceeded`.", 0,
     0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_lambda_config[] = {
    {"FunctionName", "string", APIDOC_REQ, "The function's name.", 0, 0, NULL, NULL},
    {"FunctionArn", "string", APIDOC_REQ,
     "arn:aws:lambda:REGION:000000000000:function:NAME (REGION: MINILAMBDA_REGION).", 0, 0, NULL,
     NULL},
    {"PackageType", "string", APIDOC_REQ, "Always `Image`.", 0, 0, NULL, NULL},
    {"Timeout", "integer", APIDOC_REQ, "`timeout`, in seconds.", 0, 0, NULL, NULL},
    {"MemorySize", "integer", APIDOC_REQ, "`memory_mb`.", 0, 0, NULL, NULL},
    {"LastModified", "string", APIDOC_REQ, "`updated_at`, as Lambda writes it (+0000).", 0, 0, NULL,
     NULL},
    {"CodeSize", "integer", APIDOC_REQ, "0: the code is an image.", 0, 0, NULL, NULL},
    {"CodeSha256", "string", APIDOC_REQ, "The pinned image id's digest, or empty.", 0, 0, NULL,
     NULL},
    {"Version", "string", APIDOC_REQ, "`$LATEST`.", 0, 0, NULL, NULL},
    {"Description", "string", APIDOC_REQ, "Empty.", 0, 0, NULL, NULL},
    {"State", "string", APIDOC_REQ, "`Active`.", 0, 0, NULL, NULL},
    {"LastUpdateStatus", "string", APIDOC_REQ, "`Successful`.", 0, 0, NULL, NULL},
    {"Architectures", "string[]", APIDOC_REQ, "`[\"x86_64\"]`.", 0, 0, NULL, NULL},
    {"Environment", "object", 0,
     "`{\"Variables\": env}`, values `***` for a read-only key; absent for no env.", 0, 0, NULL,
     NULL},
    {"ImageConfigResponse", "object", 0, "`{\"ImageConfig\": {\"Command\": command}}`.", 0, 0, NULL,
     NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_lambda_function[] = {
    {"Configuration", "#LambdaFunctionConfiguration", APIDOC_REQ, "The configuration.", 0, 0, NULL,
     NULL},
    {"Code", "object", APIDOC_REQ,
     "`{RepositoryType: \"Docker\", ImageUri: image, ResolvedImageUri?: image_id}`.", 0, 0, NULL,
     NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_lambda_list[] = {
    {"Functions", "#LambdaFunctionConfiguration[]", APIDOC_REQ, "A page, by name.", 0, 0, NULL,
     NULL},
    {"NextMarker", "string", 0, "The `Marker` of the next page; absent on the last.", 0, 0, NULL,
     NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_lambda_create[] = {
    {"FunctionName", "string", APIDOC_REQ, "`name`.", 0, 0, NULL, NULL},
    {"PackageType", "string", APIDOC_REQ, "Must be `Image`.", 0, 0, NULL, NULL},
    {"Code", "object", APIDOC_REQ, "`{\"ImageUri\": image}`: an image the engine has.", 0, 0, NULL,
     NULL},
    {"Timeout", "integer", 0, "`timeout`.", 0, 0, NULL, NULL},
    {"MemorySize", "integer", 0, "`memory_mb`.", 0, 0, NULL, NULL},
    {"Environment", "object", 0, "`{\"Variables\": env}`.", 0, 0, NULL, NULL},
    {"ImageConfig", "object", 0, "`{\"Command\": command}`; nothing else of it.", 0, 0, NULL, NULL},
    {"Role", "string", 0,
     "Accepted and ignored, as are Description, Architectures, Tags, TracingConfig and "
     "LoggingConfig; Publish only when false. Any other member is 400.",
     0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

const apidoc_shape apidoc_shapes[] = {
    {"InvokeRequest", "A synchronous or asynchronous invocation's body.", apidoc_invoke_request,
     true},
    {"InvokeResult",
     "A synchronous run's answer, whatever its outcome (200, or the outcome's status).",
     apidoc_invoke_result, false},
    {"AsyncAccepted", "A queued run.", apidoc_accepted, false},
    {"Invocation", "An invocation's record: a queued run's, or a synchronous call's.",
     apidoc_invocation, false},
    {"InvocationResult", "An attempt's outcome.", apidoc_invocation_result, false},
    {"ImageUpload", "What an upload loaded.", apidoc_image_upload, false},
    {"ImageDetail", "A local image.", apidoc_image_detail, false},
    {"HealthComponent", "One part /healthz checks.", apidoc_health_part, false},
    {"KeyCreate", "A new API key's body.", apidoc_key_create, true},
    {"Key", "An API key, without its secret.", apidoc_key, false},
    {"LambdaError", "A platform error on the Lambda API.", apidoc_lambda_error, false},
    {"LambdaFunctionConfiguration", "A function as the Lambda API shows it.", apidoc_lambda_config,
     false},
    {"LambdaFunction", "GetFunction's answer.", apidoc_lambda_function, false},
    {"LambdaFunctionList", "ListFunctions' answer.", apidoc_lambda_list, false},
    {"LambdaCreateFunction", "CreateFunction's body (PackageType Image).", apidoc_lambda_create,
     false},
    {NULL, NULL, NULL, false},
};

/* ------------------------------------------------------------------ */
/* Routes                                                              */

static const apidoc_prop apidoc_invocations_query[] = {
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
    {"limit", "integer", APIDOC_BOUNDS, "At most this many records.", 1, ASYNC_LIST_MAX, NULL,
     "100"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_images_query[] = {
    {"detail", "string", 0, "`1` or `true`: objects with id, tags, size and created.", 0, 0,
     apidoc_detail, NULL},
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

static const apidoc_code apidoc_err_store_read[] = {{ERR_CORRUPT, NULL}, {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_create_function[] = {
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

static const apidoc_code apidoc_err_update_function[] = {
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

static const apidoc_code apidoc_err_writes[] = {
    {ERR_BUSY, NULL}, {ERR_STORAGE, NULL}, {ERR_STORAGE_FULL, NULL}, {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_invoke[] = {
    {ERR_INVALID, "unknown_field"},
    {ERR_INVALID, "invalid_timeout"},
    {ERR_LIMIT, "queue_full"},
    {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},
    {ERR_STORAGE_FULL, NULL},
    {ERR_NONE, NULL},
};

static const apidoc_code apidoc_err_list_invocations[] = {{ERR_INVALID, "invalid_query"},
                                                          {ERR_INVALID, "invalid_status"},
                                                          {ERR_INVALID, "invalid_since"},
                                                          {ERR_INVALID, "invalid_cursor"},
                                                          {ERR_STORAGE, NULL},
                                                          {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_get_invocation[] = {{ERR_NOT_FOUND, NULL}, {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_cancel_invocation[] = {
    {ERR_NOT_FOUND, NULL}, {ERR_CONFLICT, "already_finished"}, {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},   {ERR_STORAGE_FULL, NULL},           {ERR_NONE, NULL},
};

static const apidoc_code apidoc_err_list_images[] = {
    {ERR_INVALID, "invalid_query"},
    {ERR_ENGINE_UNREACHABLE, NULL},
    {ERR_ENGINE_TIMEOUT, NULL},
    {ERR_ENGINE, NULL},
    {ERR_NONE, NULL},
};

static const apidoc_code apidoc_err_upload_image[] = {
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

static const apidoc_code apidoc_err_create_key[] = {
    {ERR_INVALID, "unknown_field"},
    {ERR_INVALID, "invalid_name"},
    {ERR_INVALID, "invalid_scopes"},
    {ERR_INVALID, "invalid_functions"},
    {ERR_INVALID, "invalid_rate"},
    {ERR_INVALID, "invalid_aws"},
    {ERR_CORRUPT, NULL},
    {ERR_CORRUPT, "keys_seal_missing"},
    {ERR_CORRUPT, "keys_seal_invalid"},
    {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},
    {ERR_STORAGE_FULL, NULL},
    {ERR_NONE, NULL},
};

static const apidoc_code apidoc_err_delete_key[] = {
    {ERR_NOT_FOUND, NULL}, {ERR_CORRUPT, NULL},      {ERR_BUSY, NULL},
    {ERR_STORAGE, NULL},   {ERR_STORAGE_FULL, NULL}, {ERR_NONE, NULL},
};

static const apidoc_example apidoc_ex_list_functions[] = {
    {"all", "Every function", NULL, NULL, NULL, NULL, 200, "[" EX_ECHO_REC("10") "]"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_create_function[] = {
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

static const apidoc_example apidoc_ex_get_function[] = {
    {"echo", "By name (or id)", "echo", NULL, NULL, NULL, 200, EX_ECHO_REC("10")},
    {"unknown", "No such function", "no-such-function", NULL, NULL, NULL, 404,
     EX_ERROR("function \\'no-such-function\\' not found", "not_found")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_update_function[] = {
    {"echo", "A longer timeout", "echo", NULL, NULL, "{'timeout':30}", 200, EX_ECHO_REC("30")},
    {"rename", "A field PATCH cannot change", "echo", NULL, NULL, "{'name':'other'}", 400,
     EX_ERROR("field \\'name\\' cannot be changed", "immutable_field")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_delete_function[] = {
    {"echo", "Unregister echo", "echo", NULL, NULL, NULL, 204, NULL},
    {"slow", "Unregister slow", "slow", NULL, NULL, NULL, 204, NULL},
    {"fail", "Unregister fail", "fail", NULL, NULL, NULL, 204, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_invoke[] = {
    {"sync", "Run echo and wait", "echo", NULL, NULL, "{'event':{'order':42},'timeout':5}", 200,
     "{'result':'{\\'order\\':42}','duration':143,'timestamp':'" EX_T0 "','invocation_id':'" EX_RUN
     "','status':'succeeded','start':'cold','exit_code':0,'logs':''}"},
    {"event", "Queue it instead (X-Invocation-Type: Event)", "echo", NULL, "Event",
     "{'event':{'order':43}}", 202,
     "{'invocation_id':'" EX_EVENT "','status':'PENDING','created_at':'" EX_T0 "'}"},
    {"unknown", "No such function", "no-such-function", NULL, NULL, "{'event':{}}", 404,
     EX_ERROR("function \\'no-such-function\\' not found", "not_found")},
    {"failing", "The function exits non-zero", "fail", NULL, NULL, "{'event':{}}", 502,
     "{'result':'','duration':151,'timestamp':'" EX_T0 "','invocation_id':'" EX_FAILED_RUN
     "','status':'failed','start':'cold','exit_code':3,'logs':'oops\\n',"
     "'error':'the function exited with code 3','code':'function_failed'}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_invoke_async[] = {
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

static const apidoc_example apidoc_ex_list_invocations[] = {
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

static const apidoc_example apidoc_ex_get_invocation[] = {
    {"echo", "A finished run", EX_ASYNC, NULL, NULL, NULL, 200, EX_ASYNC_DONE},
    {"unknown", "No such invocation", EX_UNKNOWN_RUN, NULL, NULL, NULL, 404,
     EX_ERROR("invocation \\'" EX_UNKNOWN_RUN "\\' not found", "not_found")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_post_invocation[] = {
    {"echo", "The same as GET", EX_ASYNC, NULL, NULL, NULL, 200, EX_ASYNC_DONE},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_cancel_invocation[] = {
    {"slow", "Cancel a queued or running run", EX_QUEUED, NULL, NULL, NULL, 200,
     "{'id':'" EX_QUEUED "','function_id':'" EX_SLOW "','function_name':'slow',"
     "'status':'CANCELLED','created_at':'" EX_T0 "','started_at':'" EX_T1 "',"
     "'completed_at':'" EX_T2 "','attempts':1,'max_attempts':1,'timeout':900,"
     "'error':'cancelled','created_by':null}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_healthz[] = {
    {"ok", "Every part up", NULL, NULL, NULL, NULL, 200,
     "{'status':'ok','docker':'reachable','components':{'engine':{'status':'ok'},"
     "'store':{'status':'ok','functions':3},'keys':{'status':'ok'},'data_dir':{'status':'ok'},"
     "'disk':{'status':'ok','free_bytes':52613349376,'min_free_bytes':104857600},"
     "'executors':{'status':'ok','running':4,'configured':4},'locks':{'status':'ok'},'keeper':{'"
     "status':'ok'}}}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_metrics[] = {
    {"scrape", "A scrape", NULL, NULL, NULL, NULL, 200,
     "'# TYPE minilambda_functions gauge\\nminilambda_functions 3\\n'"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_list_images[] = {
    {"tags", "The tags", NULL, NULL, NULL, NULL, 200, "['" EX_BUSYBOX "']"},
    {"detail", "With detail", NULL, "detail=1", NULL, NULL, 200,
     "[{'id':'" EX_IMAGE_ID "','tags':['" EX_BUSYBOX "'],'size':1190912,"
     "'created':'2026-11-27T09:00:00Z'}]"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

/* An upload's example has no request part: its body is `docker save` of
 * the images the answer lists. */
static const apidoc_example apidoc_ex_upload_image[] = {
    {"busybox", "docker save " EX_BUSYBOX, NULL, NULL, NULL, NULL, 200,
     "{'message':'Image Uploaded Successfully','images':['" EX_BUSYBOX "'],"
     "'file_size':1203712,'retagged':[],'pinned':[]}"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

#define EX_KEY_REC(extra)                                                                          \
    "{'id':'" EX_KEY "','name':'ci','scopes':['deploy'],'prefix':'mlk_Ab12Cd34','rate':null,"      \
    "'created_at':'" EX_T0 "','created_by':null" extra "}"

static const apidoc_example apidoc_ex_list_keys[] = {
    {"all", "Every key", NULL, NULL, NULL, NULL, 200, "[" EX_KEY_REC("") "]"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_create_key[] = {
    {"ci", "A key that deploys", NULL, NULL, NULL, "{'name':'ci','scopes':['deploy']}", 201,
     EX_KEY_REC(",'key':'mlk_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv1'")},
    {"invalid", "An unknown scope", NULL, NULL, NULL, "{'name':'ci','scopes':['root']}", 400,
     EX_ERROR("scopes must be a non-empty array of distinct words from admin, deploy, invoke, "
              "read, metrics",
              "invalid_scopes")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_delete_key[] = {
    {"ci", "Revoke the key", EX_KEY, NULL, NULL, NULL, 204, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

/* The operations, in the route table's order, each named for its
 * operationId: a route row (route.c) points at its own. */
const apidoc_route apidoc_list_functions = {
    .op = "listFunctions",
    .summary = "List functions, oldest first",
    .answers = {{200, "#Function[]", "The records."}},
    .errors = apidoc_err_store_read,
    .examples = apidoc_ex_list_functions,
};

const apidoc_route apidoc_create_function = {
    .op = "createFunction",
    .summary = "Register a function",
    .desc = "Registration resolves `image` in the engine and pins the function to that image id "
            "(`image_id`; null when the engine does not have the image yet: the first upload of "
            "that tag pins it).",
    .body = "#FunctionCreate",
    .answers = {{201, "#Function", "The new record; `Location` names it."}},
    .errors = apidoc_err_create_function,
    .examples = apidoc_ex_create_function,
};

const apidoc_route apidoc_get_function = {
    .op = "getFunction",
    .summary = "Read a function",
    .param = "The function's id or name.",
    .answers = {{200, "#Function",
                 "The record; `image_present: false` when the engine does not have its image."}},
    .examples = apidoc_ex_get_function,
};

const apidoc_route apidoc_update_function = {
    .op = "updateFunction",
    .summary = "Change a function's image or configuration",
    .desc = "A PATCH that names `image` (the same value too) pins the function again.",
    .param = "The function's id or name.",
    .body = "#FunctionPatch",
    .answers = {{200, "#Function", "The changed record."}},
    .errors = apidoc_err_update_function,
    .examples = apidoc_ex_update_function,
};

const apidoc_route apidoc_delete_function = {
    .op = "deleteFunction",
    .summary = "Unregister a function",
    .param = "The function's id or name.",
    .answers = {{204, NULL, "Deleted."}},
    .errors = apidoc_err_writes,
    .examples = apidoc_ex_delete_function,
};

const apidoc_route apidoc_invoke_function = {
    .op = "invokeFunction",
    .summary = "Run a function and answer its outcome",
    .desc = "Each run gets a fresh container; the event goes to its stdin. With "
            "`X-Invocation-Type: Event` the run is queued instead, as `/invoke/{ref}/async` "
            "does. A run that does not succeed answers its outcome's status with the same "
            "body, `error` and `code`.",
    .param = "The function's id or name.",
    .body = "#InvokeRequest",
    .flags = APIDOC_BODY_OPTIONAL,
    .answers = {{200, "#InvokeResult", "The run succeeded."},
                {202, "#AsyncAccepted",
                 "Queued (X-Invocation-Type: Event); `Location` names "
                 "the record."}},
    .errors = apidoc_err_invoke,
    .examples = apidoc_ex_invoke,
};

const apidoc_route apidoc_invoke_function_async = {
    .op = "invokeFunctionAsync",
    .summary = "Queue a run",
    .desc = "The event and a PENDING record are written durably before the answer; executors "
            "run queued invocations oldest first.",
    .param = "The function's id or name.",
    .body = "#InvokeRequest",
    .flags = APIDOC_BODY_OPTIONAL,
    .answers = {{202, "#AsyncAccepted", "Queued; `Location` names the record."}},
    .errors = apidoc_err_invoke,
    .examples = apidoc_ex_invoke_async,
};

const apidoc_route apidoc_list_invocations = {
    .op = "listInvocations",
    .summary = "List invocations, sync and async, newest first",
    .query = apidoc_invocations_query,
    .answers = {{200, "#Invocation[]", "The records, without `result`."}},
    .errors = apidoc_err_list_invocations,
    .examples = apidoc_ex_list_invocations,
};

const apidoc_route apidoc_get_invocation = {
    .op = "getInvocation",
    .summary = "Read an invocation's record, sync or async",
    .param = "The invocation's id.",
    .answers = {{200, "#Invocation", "The record, with `result`."}},
    .errors = apidoc_err_get_invocation,
    .examples = apidoc_ex_get_invocation,
};

const apidoc_route apidoc_get_invocation_by_post = {
    .op = "getInvocationByPost",
    .summary = "Read an invocation's record (as GET)",
    .param = "The invocation's id.",
    .answers = {{200, "#Invocation", "The record, with `result`."}},
    .errors = apidoc_err_get_invocation,
    .examples = apidoc_ex_post_invocation,
};

const apidoc_route apidoc_cancel_invocation = {
    .op = "cancelInvocation",
    .summary = "Cancel a pending or running invocation",
    .desc = "A running one's container is killed and removed.",
    .param = "The invocation's id.",
    .answers = {{200, "#Invocation", "The record, now CANCELLED."}},
    .errors = apidoc_err_cancel_invocation,
    .examples = apidoc_ex_cancel_invocation,
};

const apidoc_route apidoc_health = {
    .op = "health",
    .summary = "Check every part the platform needs",
    .answers = {{200, "#Health", "Every part is up."},
                {503, "#Health",
                 "A part is down: `failed` names it, `code` and `error` say "
                 "why."}},
    .examples = apidoc_ex_healthz,
};

const apidoc_route apidoc_metrics = {
    .op = "metrics",
    .summary = "Prometheus metrics",
    .desc = "A key with a `functions` list sees only those functions' series, "
            "`minilambda_functions` counting them, `minilambda_up` and "
            "`process_start_time_seconds`: no series that adds up every function's traffic.",
    .answers = {{200, "text", "The text exposition (version 0.0.4)."}},
    .examples = apidoc_ex_metrics,
};

const apidoc_route apidoc_list_images = {
    .op = "listImages",
    .summary = "List this instance's images",
    .desc = "The engine's images that are this instance's: the image of each function the key "
            "may see (by tag, and by the id it is pinned to) and each image loaded through "
            "`POST /images` (a key with a `functions` list: by that key). Only those tags of "
            "an image are listed.",
    .query = apidoc_images_query,
    .answers = {{200, "#ImageList", "Tags, or objects with `?detail=1`."}},
    .errors = apidoc_err_list_images,
    .examples = apidoc_ex_list_images,
};

const apidoc_route apidoc_upload_image = {
    .op = "uploadImage",
    .summary = "Load a `docker save` tar into the engine",
    .desc = "Streamed to the engine as it arrives, up to MINILAMBDA_MAX_IMAGE_BYTES; its "
            "unpacked size is bounded by MINILAMBDA_MAX_IMAGE_UNPACKED_BYTES.",
    .body = "upload",
    .answers = {{200, "#ImageUpload", "Loaded."}},
    .errors = apidoc_err_upload_image,
    .examples = apidoc_ex_upload_image,
};

const apidoc_route apidoc_list_keys = {
    .op = "listKeys",
    .summary = "List API keys, without their secrets",
    .answers = {{200, "#Key[]", "The keys, oldest first."}},
    .errors = apidoc_err_store_read,
    .examples = apidoc_ex_list_keys,
};

const apidoc_route apidoc_create_key = {
    .op = "createKey",
    .summary = "Make an API key",
    .desc = "The secret is in the answer only: the platform keeps its SHA-256. With "
            "`\"aws\": true` the answer also has `aws_access_key_id` and "
            "`aws_secret_access_key`, shown this once; the platform keeps that secret sealed "
            "(AES-256-GCM under `keys.seal` in the data dir), since SigV4 needs it to verify.",
    .body = "#KeyCreate",
    .answers = {{201, "#KeyCreated", "The key, with its secret; `Location` names it."}},
    .errors = apidoc_err_create_key,
    .examples = apidoc_ex_create_key,
};

const apidoc_route apidoc_delete_key = {
    .op = "deleteKey",
    .summary = "Revoke an API key",
    .param = "The key's id.",
    .answers = {{204, NULL, "Revoked."}},
    .errors = apidoc_err_delete_key,
    .examples = apidoc_ex_delete_key,
};

/* ------------------------------------------------------------------ */
/* The document                                                        */

const apidoc_nginx_error apidoc_nginx[] = {
    {502, "pool_unavailable"},
    {504, "pool_timeout"},
    {400, "bad_request"},
    {411, "length_required"},
    {414, "uri_too_long"},
    {431, "headers_too_large"},
    {501, "not_implemented"},
    {505, "http_version_not_supported"},
    {0, NULL},
};

const char apidoc_about[] =
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

const char apidoc_bearer[] =
    "An API key (`mlk_...`). Required when MINILAMBDA_AUTH says so (by default: "
    "when nginx binds a non-loopback address); 401 `unauthorized` without one, "
    "403 `forbidden` when its scopes do not allow the call. A function outside "
    "its `functions` list, or a run it may not see, is 404 `not_found`, as one "
    "that does not exist. The scopes listed on an operation are the ones that "
    "may call it.";

/* ------------------------------------------------------------------ */
/* The Lambda API (lambda.c)                                           */

#define EX_LAMBDA_ARN "arn:aws:lambda:us-east-1:000000000000:function:"
#define EX_LAMBDA_ERROR(msg) "{'Type':'User','message':'" msg "'}"
#define EX_LAMBDA_CONFIG(name, timeout, extra)                                                     \
    "{'FunctionName':'" name "','FunctionArn':'" EX_LAMBDA_ARN name "','PackageType':'Image',"     \
    "'Timeout':" timeout ",'MemorySize':256,'LastModified':'2026-01-02T03:04:05.000+0000',"        \
    "'CodeSize':0,'CodeSha256':'','Version':'$LATEST','Description':'','State':'Active',"          \
    "'LastUpdateStatus':'Successful','Architectures':['x86_64']" extra "}"

static const apidoc_prop apidoc_lambda_list_query[] = {
    {"MaxItems", "integer", APIDOC_BOUNDS, "At most this many (default 50).", 1, 10000, NULL, NULL},
    {"Marker", "string", 0, "The `NextMarker` of the page before.", 0, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_prop apidoc_lambda_qualifier[] = {
    {"Qualifier", "string", 0, "`$LATEST` or absent (there are no versions yet).", 0, 0, NULL,
     NULL},
    {NULL, NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const apidoc_code apidoc_err_lambda_list[] = {{ERR_INVALID, "invalid_max_items"},
                                                     {ERR_INVALID, "invalid_marker"},
                                                     {ERR_CORRUPT, NULL},
                                                     {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_lambda_ref[] = {{ERR_INVALID, "invalid_function_name"},
                                                    {ERR_INVALID, "invalid_qualifier"},
                                                    {ERR_INVALID, "qualifier_mismatch"},
                                                    {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_lambda_create[] = {{ERR_INVALID, "unsupported_parameter"},
                                                       {ERR_INVALID, "unsupported_package_type"},
                                                       {ERR_INVALID, "invalid_code"},
                                                       {ERR_INVALID, "invalid_env"},
                                                       {ERR_INVALID, "unknown_runtime"},
                                                       {ERR_FORBIDDEN, NULL},
                                                       {ERR_CONFLICT, "name_conflict"},
                                                       {ERR_LIMIT, "too_many_functions"},
                                                       {ERR_TOO_LARGE, "record_too_large"},
                                                       {ERR_BUSY, NULL},
                                                       {ERR_STORAGE, NULL},
                                                       {ERR_STORAGE_FULL, NULL},
                                                       {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_lambda_delete[] = {{ERR_INVALID, "invalid_function_name"},
                                                       {ERR_INVALID, "invalid_qualifier"},
                                                       {ERR_INVALID, "qualifier_mismatch"},
                                                       {ERR_BUSY, NULL},
                                                       {ERR_STORAGE, NULL},
                                                       {ERR_STORAGE_FULL, NULL},
                                                       {ERR_NONE, NULL}};

static const apidoc_code apidoc_err_lambda_invoke[] = {{ERR_INVALID, "invalid_function_name"},
                                                       {ERR_INVALID, "invalid_qualifier"},
                                                       {ERR_INVALID, "qualifier_mismatch"},
                                                       {ERR_INVALID, "invalid_json"},
                                                       {ERR_INVALID, "invalid_log_type"},
                                                       {ERR_INVALID, "invalid_client_context"},
                                                       {ERR_TOO_LARGE, NULL},
                                                       {ERR_LIMIT, "queue_full"},
                                                       {ERR_BUSY, NULL},
                                                       {ERR_STORAGE, NULL},
                                                       {ERR_STORAGE_FULL, NULL},
                                                       {ERR_NONE, NULL}};

static const apidoc_example apidoc_ex_lambda_list[] = {
    {"page", "The first function by name", NULL, "MaxItems=1", NULL, NULL, 200,
     "{'Functions':[" EX_LAMBDA_CONFIG("echo", "10", "") "],'NextMarker':'echo'}"},
    {"bad", "MaxItems out of its bounds", NULL, "MaxItems=0", NULL, NULL, 400,
     EX_LAMBDA_ERROR("MaxItems must be an integer from 1 to 10000")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_lambda_create[] = {
    {"image", "Register an image as aws lambda create-function does", NULL, NULL, NULL,
     "{'FunctionName':'lambda-echo','PackageType':'Image','Code':{'ImageUri':'" EX_BUSYBOX "'},"
     "'Role':'arn:aws:iam::000000000000:role/any','Timeout':5,'ImageConfig':{'Command':['cat']}}",
     201,
     EX_LAMBDA_CONFIG("lambda-echo", "5",
                      ",'ImageConfigResponse':{'ImageConfig':{'Command':['cat']}}")},
    {"zip", "A zip package", NULL, NULL, NULL,
     "{'FunctionName':'zipped','Code':{'ZipFile':'UEsDBA=='},'Role':'r'}", 400,
     EX_LAMBDA_ERROR("PackageType must be Image: minilambda runs container images "
                     "(Code.ImageUri)")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_lambda_get[] = {
    {"echo", "GetFunction", "lambda-echo", NULL, NULL, NULL, 200,
     "{'Configuration':" EX_LAMBDA_CONFIG(
         "lambda-echo", "5", "") ","
                                 "'Code':{'RepositoryType':'Docker','ImageUri':'" EX_BUSYBOX "'}}"},
    {"unknown", "No such function", "no-such-function", NULL, NULL, NULL, 404,
     EX_LAMBDA_ERROR("function \\'no-such-function\\' not found")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_lambda_config[] = {
    {"arn", "By its ARN", EX_LAMBDA_ARN "lambda-echo", NULL, NULL, NULL, 200,
     EX_LAMBDA_CONFIG("lambda-echo", "5", "")},
    {"qualifier", "A version that does not exist", "lambda-echo:7", NULL, NULL, NULL, 404,
     EX_LAMBDA_ERROR("Function not found: " EX_LAMBDA_ARN "lambda-echo:7 (only $LATEST: "
                     "minilambda has no versions yet)")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_lambda_delete[] = {
    {"echo", "DeleteFunction", "lambda-echo", NULL, NULL, NULL, 204, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const apidoc_example apidoc_ex_lambda_invoke[] = {
    {"sync", "Run it and wait: the body is the result", "lambda-echo", NULL, NULL, "{'order':42}",
     200, "{'order':42}"},
    {"event", "Queue it (X-Amz-Invocation-Type: Event)", "lambda-echo", NULL, "Event",
     "{'order':43}", 202, NULL},
    {"dry", "Check only (DryRun)", "lambda-echo", NULL, "DryRun", NULL, 204, NULL},
    {"unknown", "A version that does not exist", "lambda-echo:7", NULL, NULL, "{}", 404,
     EX_LAMBDA_ERROR("Function not found: " EX_LAMBDA_ARN "lambda-echo:7 (only $LATEST: "
                     "minilambda has no versions yet)")},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

const apidoc_route apidoc_lambda_list_functions = {
    .op = "lambdaListFunctions",
    .summary = "ListFunctions (the Lambda API)",
    .desc = "The functions the caller's key may see, by name, as Lambda's "
            "FunctionConfiguration.",
    .query = apidoc_lambda_list_query,
    .answers = {{200, "#LambdaFunctionList", "A page."}},
    .errors = apidoc_err_lambda_list,
    .examples = apidoc_ex_lambda_list,
};

const apidoc_route apidoc_lambda_create_function = {
    .op = "lambdaCreateFunction",
    .summary = "CreateFunction with an image (the Lambda API)",
    .desc = "Registers the function as `POST /functions` does, from Lambda's body.",
    .body = "#LambdaCreateFunction",
    .answers = {{201, "#LambdaFunctionConfiguration", "Registered."}},
    .errors = apidoc_err_lambda_create,
    .examples = apidoc_ex_lambda_create,
};

const apidoc_route apidoc_lambda_get_function = {
    .op = "lambdaGetFunction",
    .summary = "GetFunction (the Lambda API)",
    .param = "FunctionName: a name, name:$LATEST, or a full or partial ARN.",
    .query = apidoc_lambda_qualifier,
    .answers = {{200, "#LambdaFunction", "The function."}},
    .errors = apidoc_err_lambda_ref,
    .examples = apidoc_ex_lambda_get,
};

const apidoc_route apidoc_lambda_get_configuration = {
    .op = "lambdaGetFunctionConfiguration",
    .summary = "GetFunctionConfiguration (the Lambda API)",
    .param = "FunctionName: a name, name:$LATEST, or a full or partial ARN.",
    .query = apidoc_lambda_qualifier,
    .answers = {{200, "#LambdaFunctionConfiguration", "The configuration."}},
    .errors = apidoc_err_lambda_ref,
    .examples = apidoc_ex_lambda_config,
};

const apidoc_route apidoc_lambda_delete_function = {
    .op = "lambdaDeleteFunction",
    .summary = "DeleteFunction (the Lambda API)",
    .desc = "As `DELETE /functions/{ref}`.",
    .param = "FunctionName: a name, name:$LATEST, or a full or partial ARN.",
    .query = apidoc_lambda_qualifier,
    .answers = {{204, NULL, "Deleted."}},
    .errors = apidoc_err_lambda_delete,
    .examples = apidoc_ex_lambda_delete,
};

const apidoc_route apidoc_lambda_invoke = {
    .op = "lambdaInvoke",
    .summary = "Invoke (the Lambda API)",
    .desc = "The same call as `POST /invoke/{ref}` through Lambda's door: the body is the "
            "event, any JSON value. A synchronous call answers 200 with the function's result "
            "as the body; a function error (a non-zero exit, a runtime's error, a timeout) is a "
            "200 too, with `X-Amz-Function-Error: Unhandled` and `{errorMessage, errorType}`. "
            "Every answer carries `x-amzn-RequestId` (the invocation id) and a synchronous one "
            "`X-Amz-Executed-Version`.",
    .param = "FunctionName: a name, name:$LATEST, or a full or partial ARN.",
    .query = apidoc_lambda_qualifier,
    .body = "any",
    .flags = APIDOC_BODY_OPTIONAL,
    .answers = {{200, "any", "The function's result, or its error with X-Amz-Function-Error."},
                {202, NULL, "Queued (Event)."},
                {204, NULL, "The caller may invoke it (DryRun)."}},
    .errors = apidoc_err_lambda_invoke,
    .examples = apidoc_ex_lambda_invoke,
};
