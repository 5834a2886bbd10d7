/* fakestripe.h: what the Stripe tests (test_payments.c, test_stripe_net.c)
 * ask the fake Stripe (tests/fakes/fake_stripe.mjs at FAKE_STRIPE_URL) and
 * the fixture's proxies (tests/fakes/http_fixture.mjs) directly: GETs over
 * libcurl that never go through a proxy. */
#ifndef TX_TESTS_FAKESTRIPE_H
#define TX_TESTS_FAKESTRIPE_H

#include <json.h>
#include <stddef.h>

/* An environment variable the test needs (a failure names it). */
const char *fs_env(const char *name);
/* GET url: the body (malloc'd, caller frees); the test fails unless 200. */
char *fs_get(const char *url);
/* GET FAKE_STRIPE_URL + path, parsed (caller puts). */
struct json_object *fs_fake_get(const char *path);
/* The string o[k], or "". */
const char *fs_jstr(struct json_object *o, const char *k);
/* The fake's charges with metadata[orderId] = order, at most 8 (*root is
 * the parsed answer they live in: the caller puts it). */
size_t fs_charges(const char *order, struct json_object **root, struct json_object *out[8]);
/* The last request the fake saw with this Idempotency-Key (caller puts
 * *root); the test fails if there is none. */
struct json_object *fs_request(const char *key, struct json_object **root);
/* How many requests the fake saw whose path contains s. */
size_t fs_requests_to(const char *s);
/* s %-escaped as in a URL (malloc'd, caller frees). */
char *fs_escape(const char *s);
/* A random UUID v4 (36 characters and a NUL). */
void fs_uuid(char out[37]);

#endif
