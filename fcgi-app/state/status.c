#include "state/status.h"

#include <strings.h>

static const struct {
    const char *word;
    int http;
    const char *code;
    metrics_status metrics;
    status_record final;
} status_outcomes[STATUS__OUTCOMES] = {
    [STATUS_SUCCEEDED] = {"succeeded", 200, NULL, METRICS_SUCCEEDED, STATUS_REC_COMPLETED},
    [STATUS_FAILED] = {"failed", 502, "function_failed", METRICS_FAILED, STATUS_REC_FAILED},
    [STATUS_TIMEOUT] = {"timeout", 504, "timeout", METRICS_TIMEOUT, STATUS_REC_TIMEOUT},
    [STATUS_CANCELLED] = {"cancelled", 499, "cancelled", METRICS_CANCELLED, STATUS_REC_FAILED},
    [STATUS_UNREACHABLE] = {"error", 503, "engine_unreachable", METRICS_ERROR, STATUS_REC_FAILED},
    [STATUS_IMAGE_MISSING] = {"error", 502, "image_not_found", METRICS_ERROR, STATUS_REC_FAILED},
    [STATUS_ENGINE_ERROR] = {"error", 502, "engine_error", METRICS_ERROR, STATUS_REC_FAILED},
    [STATUS_PROTOCOL_ERROR] = {"failed", 502, "protocol_error", METRICS_FAILED, STATUS_REC_FAILED},
    [STATUS_UNAVAILABLE] = {"error", 503, "engine_unavailable", METRICS_ERROR, STATUS_REC_FAILED},
    [STATUS_INIT_ERROR] = {"failed", 502, "init_error", METRICS_FAILED, STATUS_REC_FAILED},
    [STATUS_INIT_TIMEOUT] = {"timeout", 504, "init_timeout", METRICS_TIMEOUT, STATUS_REC_TIMEOUT},
};

static const char *const status_records[STATUS__RECORDS] = {
    "PENDING", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "REJECTED",
};

const char *status_word(status_outcome o)
{
    return status_outcomes[o].word;
}

int status_http(status_outcome o)
{
    return status_outcomes[o].http;
}

const char *status_code(status_outcome o)
{
    return status_outcomes[o].code;
}

metrics_status status_metrics(status_outcome o)
{
    return status_outcomes[o].metrics;
}

status_record status_final(status_outcome o)
{
    return status_outcomes[o].final;
}

status_record status_sync(status_outcome o)
{
    return o == STATUS_CANCELLED ? STATUS_REC_CANCELLED : status_outcomes[o].final;
}

const char *status_record_name(status_record s)
{
    return status_records[s];
}

int status_record_parse(const char *s, status_record *out)
{
    for (int i = 0; i < STATUS__RECORDS; i++) {
        if (strcasecmp(s, status_records[i]) == 0) {
            *out = (status_record)i;
            return 0;
        }
    }
    return -1;
}

bool status_record_finished(status_record s)
{
    return s == STATUS_REC_COMPLETED || s == STATUS_REC_FAILED || s == STATUS_REC_TIMEOUT ||
           s == STATUS_REC_CANCELLED || s == STATUS_REC_REJECTED;
}
