/*
 * apidoc: what the OpenAPI document says that no table of the code holds:
 * each route's summary, description, path parameter, query, body and
 * answer shapes, the error codes its handler answers itself and its
 * examples; the shapes of the bodies (component schemas described member
 * by member); the errors nginx answers itself; the document's
 * introduction. It is data only: openapi.c renders it, with what the
 * route, field, error and status tables say, into the document.
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

#define APIDOC_ANSWERS 2

/* What the route table lacks about one route (template and method). */
typedef struct {
    const char *tmpl;
    unsigned method;
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

/* The documentation of every route, one per template and method; ended by
 * a row without a template. Static. */
extern const apidoc_route apidoc_routes[];

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
