#include "app/app.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "run/start.h"

int app_open(app_t *a, const config_t *cfg, slots_t *slots, throttle_t *throttle,
             metrics_t *metrics, engines_shm_t *engines, int row, const char *instance, err_t *e)
{
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->slots = slots;
    a->throttle = throttle;
    a->metrics = metrics;
    a->row = row;
    snprintf(a->instance, sizeof(a->instance), "%s", instance);
    if ((a->store = store_open(cfg->data_dir, e)) == NULL ||
        (a->keys = keys_open(cfg->data_dir, e)) == NULL ||
        (a->async = async_open(cfg->data_dir, e)) == NULL ||
        (a->idem = idem_open(cfg->data_dir, cfg->idempotency_max_bytes,
                             cfg->idempotency_key_max_bytes, e)) == NULL)
        goto fail;
    records_limits lim = records_limits_of(cfg);
    if ((a->records = records_open(cfg->data_dir, &lim, e)) == NULL)
        goto fail;
    records_set_metrics(a->records, metrics);
    async_set_metrics(a->async, metrics);
    store_limit(a->store, cfg->max_functions);
    if ((a->engines = engines_open(cfg, engines, e)) == NULL)
        goto fail;
    a->runtime = start_new(slots, instance, cfg->init);
    if (a->runtime == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "start_new() failed: out of memory");
        goto fail;
    }
    return 0;
fail:
    app_close(a);
    return -1;
}

void app_close(app_t *a)
{
    runtime_free(a->runtime);
    engines_close(a->engines);
    records_close(a->records);
    idem_close(a->idem);
    async_close(a->async);
    keys_close(a->keys);
    store_close(a->store);
    memset(a, 0, sizeof(*a));
}

int app_thread_init(app_thread *t, app_t *a, app_plane plane, int thread, err_t *e)
{
    t->app = a;
    t->plane = plane;
    t->thread = thread;
    t->conn = NULL;
    t->lease = NULL;
    if (engines_conns_init(&t->conns, a->engines, e) != 0)
        return -1;
    t->conn = t->conns.conn[0];
    if (app_lease(a, &t->lease, e) != 0) {
        engines_conns_free(&t->conns);
        t->conn = NULL;
        return -1;
    }
    return 0;
}

void app_thread_free(app_thread *t)
{
    engines_conns_free(&t->conns);
    t->conn = NULL;
    lease_client_free(t->lease);
    t->lease = NULL;
}

int app_lease(const app_t *a, lease_client_t **out, err_t *e)
{
    *out = NULL;
    if (a->cfg->warm_max == 0)
        return 0;
    *out = lease_client_new(a->cfg->keeper_socket);
    if (*out == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "lease_client_new() failed: out of memory");
    return 0;
}

invoke_ctx app_invoke_ctx(const app_thread *t)
{
    invoke_ctx x = {.rt = t->app->runtime,
                    .seat = {.conn = t->conn,
                             .lease = t->lease,
                             .row = t->app->row,
                             .thread = t->thread,
                             .conns = (engines_conns *)&t->conns},
                    .metrics = t->app->metrics};
    return x;
}
