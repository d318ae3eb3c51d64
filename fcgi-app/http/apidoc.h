/*
 * apidoc: what the OpenAPI document says that no table of the code holds:
 * each route's summary, description, path parameter, query, body and
 * answer shapes, the error codes its handler answers itself and its
 * examples; the shapes of the bodies (component schemas described member
 * by member); the errors nginx answers itself; the document's
 * introduction. It is data only: openapi.c renders it, with what the
 * route, field, error and status tables say, into the document.
 *
 * A route's documentation is an apidoc_route its row in the route table
 * points at (route_def.doc), so that adding a route is adding its
 * documentation, and no list of templates and methods is kept in step
 * with the table's.
 *
 * Types are words: "string", "integer", "number", "boolean", "object",
 * "any", "uuid" and "date-time" (strings of that format), "#Name" for the
 * component schema Name, and any of them with "[]" for an array of it.
 *
 * Examples and defaults are JSON written with ' for " so that they read as
 * JSON in C; none holds an apostrophe, and \\' is an escaped quote inside
 * a JSON string.
 */
#ifndef MINILAMBDA_APIDOC_H
#define MINILAMBDA_APIDOC_H

#include <stdbool.h>

#include "base/err.h"

enum {
    APIDOC_REQ = 1,    /* a member every answer has, or a body must give */
    APIDOC_NULL = 2,   /* may be null */
    APIDOC_BOUNDS = 4, /* `lo` and `hi` bound it */
    APIDOC_ABOVE = 8   /* with APIDOC_BOUNDS: `lo` itself is out */
};

/* One member of a shape, or one query parameter. */
typedef struct {
    const char *name;
    const char *type;
    unsigned flags; /* APIDOC_* */
    const char *desc;
    double lo, hi;
    const char *const *choices; /* NULL-terminated, or NULL */
    const char *def;            /* the default (JSON, ' for "), or NULL */
} apidoc_prop;

/* A component schema described member by member. */
typedef struct {
    const char *name;
    const char *desc;
    const apidoc_prop *props; /* ended by a row without a name */
    bool closed;              /* a request body: no other member is accepted */
} apidoc_shape;

/* An error code a handler answers, at its kind's HTTP status. */
typedef struct {
    err_kind kind;    /* ERR_NONE ends a list */
    const char *code; /* NULL: the kind's own code */
} apidoc_code;

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
} apidoc_example;

/* A successful answer of a route. */
typedef struct {
    int status;
    const char *type; /* its schema; "text" for a text/plain body; NULL: no body */
    const char *desc;
} apidoc_answer;

enum {
    APIDOC_BODY_OPTIONAL = 1 /* an empty body is accepted */
};

#define APIDOC_ANSWERS 3

/* What the route table lacks about one operation (a template and a
 * method): the `doc` of its route rows (route.c), which the rows of one
 * template and method share. The template and method are the rows'. */
typedef struct {
    const char *op; /* operationId */
    const char *summary;
    const char *desc;
    const char *param;        /* what the path parameter names */
    const apidoc_prop *query; /* query parameters, or NULL */
    const char *body;         /* the JSON body's type, "upload", or NULL */
    unsigned flags;           /* APIDOC_BODY_OPTIONAL */
    apidoc_answer answers[APIDOC_ANSWERS];
    const apidoc_code *errors; /* the handler's own, or NULL */
    const apidoc_example *examples;
} apidoc_route;

/* An error nginx answers itself. */
typedef struct {
    int status;       /* 0 ends the list */
    const char *code; /* the code of its body, in the API's envelope */
} apidoc_nginx_error;

/* Each operation's documentation, for the `doc` column of route.c's
 * table (the rows name the template and method). Static. */
extern const apidoc_route apidoc_list_functions;
extern const apidoc_route apidoc_create_function;
extern const apidoc_route apidoc_get_function;
extern const apidoc_route apidoc_update_function;
extern const apidoc_route apidoc_delete_function;
extern const apidoc_route apidoc_invoke_function;
extern const apidoc_route apidoc_invoke_function_async;
extern const apidoc_route apidoc_list_invocations;
extern const apidoc_route apidoc_get_invocation;
extern const apidoc_route apidoc_get_invocation_by_post;
extern const apidoc_route apidoc_cancel_invocation;
extern const apidoc_route apidoc_health;
extern const apidoc_route apidoc_metrics;
extern const apidoc_route apidoc_list_images;
extern const apidoc_route apidoc_upload_image;
extern const apidoc_route apidoc_list_keys;
extern const apidoc_route apidoc_create_key;
extern const apidoc_route apidoc_delete_key;
extern const apidoc_route apidoc_lambda_list_functions;
extern const apidoc_route apidoc_lambda_create_function;
extern const apidoc_route apidoc_lambda_get_function;
extern const apidoc_route apidoc_lambda_get_configuration;
extern const apidoc_route apidoc_lambda_delete_function;
extern const apidoc_route apidoc_lambda_invoke;

/* The component schemas described member by member; ended by a row
 * without a name. Static. */
extern const apidoc_shape apidoc_shapes[];

/* The codes a failed /healthz part names (health.c), NULL-terminated.
 * Static. */
extern const char *const apidoc_health_codes[];

/* The errors nginx answers itself (nginx/minilambda.conf.in), with the
 * API's envelope. The first APIDOC_NGINX_EVERY_ROUTE can answer any route.
 * Static. */
extern const apidoc_nginx_error apidoc_nginx[];
#define APIDOC_NGINX_EVERY_ROUTE 2

/* The document's introduction (info.description) and what it says of the
 * bearer scheme. Static. */
extern const char apidoc_about[];
extern const char apidoc_bearer[];

#endif
