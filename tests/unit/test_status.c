/*
 * Unit tests for the status table, what test_base's test_status_table
 * leaves out: the outcomes of a reused container's broken protocol and of
 * an engine gone mid-way, the status a synchronous call's record ends in
 * (status_sync, which keeps a cancelled call apart from a failed one),
 * that every outcome ends a record in a finished status, and that every
 * record status reads back from its name in any case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "state/status.h"

static void test_outcomes(void **state)
{
    (void)state;
    assert_string_equal(status_word(STATUS_PROTOCOL_ERROR), "failed");
    assert_int_equal(status_http(STATUS_PROTOCOL_ERROR), 502);
    assert_string_equal(status_code(STATUS_PROTOCOL_ERROR), "protocol_error");
    assert_int_equal(status_metrics(STATUS_PROTOCOL_ERROR), METRICS_FAILED);
    assert_string_equal(status_word(STATUS_UNAVAILABLE), "error");
    assert_int_equal(status_http(STATUS_UNAVAILABLE), 503);
    assert_string_equal(status_code(STATUS_UNAVAILABLE), "engine_unavailable");
    assert_int_equal(status_metrics(STATUS_UNAVAILABLE), METRICS_ERROR);
    assert_string_equal(status_code(STATUS_ENGINE_ERROR), "engine_error");
    assert_int_equal(status_http(STATUS_IMAGE_MISSING), 502);
    assert_string_equal(status_word(STATUS_CANCELLED), "cancelled");
    assert_string_equal(status_code(STATUS_CANCELLED), "cancelled");
    assert_string_equal(status_word(STATUS_TIMEOUT), "timeout");
    /* Only a success counts as one. */
    for (int o = 0; o < STATUS__OUTCOMES; o++) {
        assert_int_equal(status_metrics((status_outcome)o) == METRICS_SUCCEEDED,
                         o == STATUS_SUCCEEDED);
        assert_int_equal(status_http((status_outcome)o) == 200, o == STATUS_SUCCEEDED);
    }
}

/* An async run's record and a synchronous call's end alike but for a
 * cancel: the async run was cancelled by DELETE (CANCELLED already, kept
 * by async_finish) or failed; the call was abandoned by its client. */
static void test_final_and_sync(void **state)
{
    (void)state;
    assert_int_equal(status_final(STATUS_CANCELLED), STATUS_REC_FAILED);
    assert_int_equal(status_sync(STATUS_CANCELLED), STATUS_REC_CANCELLED);
    for (int o = 0; o < STATUS__OUTCOMES; o++) {
        status_record f = status_final((status_outcome)o), s = status_sync((status_outcome)o);
        assert_true(status_record_finished(f));
        assert_true(status_record_finished(s));
        if (o != STATUS_CANCELLED)
            assert_int_equal(f, s);
    }
    assert_int_equal(status_final(STATUS_PROTOCOL_ERROR), STATUS_REC_FAILED);
    assert_int_equal(status_final(STATUS_UNAVAILABLE), STATUS_REC_FAILED);
    assert_int_equal(status_final(STATUS_FAILED), STATUS_REC_FAILED);
}

static void test_record_names(void **state)
{
    static const char *const names[STATUS__RECORDS] = {
        "PENDING", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "REJECTED"};
    char lower[32];
    status_record r;
    (void)state;
    for (int i = 0; i < STATUS__RECORDS; i++) {
        assert_string_equal(status_record_name((status_record)i), names[i]);
        size_t n = strlen(names[i]);
        for (size_t k = 0; k <= n; k++)
            lower[k] = (char)tolower((unsigned char)names[i][k]);
        r = (status_record)-1;
        assert_int_equal(status_record_parse(lower, &r), 0);
        assert_int_equal(r, i);
        assert_int_equal(status_record_finished((status_record)i), i >= STATUS_REC_COMPLETED);
    }
    assert_int_equal(status_record_parse("", &r), -1);
    assert_int_equal(status_record_parse("PENDING ", &r), -1);
    assert_int_equal(status_record_parse("PEND", &r), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_final_and_sync),
        cmocka_unit_test(test_record_names),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
