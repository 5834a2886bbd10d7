/* pq_without_gss_ldap.c: what a statically linked libpq needs of GSSAPI
 * and LDAP, answered "not available".
 *
 * The release programs are linked statically (Makefile, STATIC), so that
 * each process maps only the code it runs: a dynamically linked program
 * here mapped about 8 MB of shared libraries, most of them pulled in by
 * Debian's libpq (Kerberos, LDAP and through it GnuTLS, p11-kit, nettle,
 * ...), none of which we use. Debian ships libpq.a but not static
 * archives of libgssapi_krb5 or libldap, and libpq.a refers to both:
 *
 *   GSSAPI  authentication and transport encryption with Kerberos. libpq
 *           asks gss_acquire_cred for a credential cache before it offers
 *           GSS encryption (gssencmode=prefer, the default); here there is
 *           none, so it goes on with TLS or plain TCP. A server that
 *           demands GSSAPI authentication gets a clear connection error.
 *   LDAP    "ldap://" lines in a pg_service.conf service definition.
 *           ldap_init answers NULL; libpq reports "could not create LDAP
 *           structure" for such a service.
 *
 * Our DATABASE_URLs use password (SCRAM) or peer/trust authentication, as
 * DESIGN.md describes. Each definition below has the exact prototype of
 * its header, so the compiler checks the signatures libpq was built
 * against. This file is linked only into static programs; the dynamically
 * linked builds (ASan, tests) use the system's libpq, Kerberos and LDAP.
 */
#define LDAP_DEPRECATED 1
#include <gssapi/gssapi.h>
#include <ldap.h>
#include <stddef.h>

/* 1.2.840.113554.1.2.1.4, RFC 2743's GSS_C_NT_HOSTBASED_SERVICE. */
static gss_OID_desc hostbased_service = {10, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &hostbased_service;

static OM_uint32 unavailable(OM_uint32 *minor)
{
	if (minor)
		*minor = 0;
	return GSS_S_UNAVAILABLE;
}

static OM_uint32 done(OM_uint32 *minor)
{
	if (minor)
		*minor = 0;
	return GSS_S_COMPLETE;
}

OM_uint32 gss_acquire_cred(OM_uint32 *minor, gss_name_t name, OM_uint32 time_req,
			   gss_OID_set mechs, gss_cred_usage_t usage, gss_cred_id_t *cred,
			   gss_OID_set *actual, OM_uint32 *time_rec)
{
	(void)name, (void)time_req, (void)mechs, (void)usage, (void)actual, (void)time_rec;
	if (cred)
		*cred = GSS_C_NO_CREDENTIAL;
	return unavailable(minor);
}

OM_uint32 gss_import_name(OM_uint32 *minor, gss_buffer_t input, gss_OID type,
			  gss_name_t *output)
{
	(void)input, (void)type;
	if (output)
		*output = GSS_C_NO_NAME;
	return unavailable(minor);
}

OM_uint32 gss_init_sec_context(OM_uint32 *minor, gss_cred_id_t cred, gss_ctx_id_t *ctx,
			       gss_name_t target, gss_OID mech, OM_uint32 flags,
			       OM_uint32 time_req, gss_channel_bindings_t bindings,
			       gss_buffer_t input, gss_OID *actual_mech, gss_buffer_t output,
			       OM_uint32 *ret_flags, OM_uint32 *time_rec)
{
	(void)cred, (void)ctx, (void)target, (void)mech, (void)flags, (void)time_req;
	(void)bindings, (void)input, (void)actual_mech, (void)ret_flags, (void)time_rec;
	if (output) {
		output->length = 0;
		output->value = NULL;
	}
	return unavailable(minor);
}

/* Not GSS_S_COMPLETE: libpq stops asking for more of the message. */
OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech,
			     OM_uint32 *context, gss_buffer_t text)
{
	(void)status, (void)type, (void)mech;
	if (context)
		*context = 0;
	if (text) {
		text->length = 0;
		text->value = NULL;
	}
	return unavailable(minor);
}

OM_uint32 gss_wrap(OM_uint32 *minor, gss_ctx_id_t ctx, int conf, gss_qop_t qop,
		   gss_buffer_t input, int *conf_state, gss_buffer_t output)
{
	(void)ctx, (void)conf, (void)qop, (void)input, (void)conf_state, (void)output;
	return unavailable(minor);
}

OM_uint32 gss_unwrap(OM_uint32 *minor, gss_ctx_id_t ctx, gss_buffer_t input,
		     gss_buffer_t output, int *conf_state, gss_qop_t *qop)
{
	(void)ctx, (void)input, (void)output, (void)conf_state, (void)qop;
	return unavailable(minor);
}

OM_uint32 gss_wrap_size_limit(OM_uint32 *minor, gss_ctx_id_t ctx, int conf, gss_qop_t qop,
			      OM_uint32 req_output_size, OM_uint32 *max_input_size)
{
	(void)ctx, (void)conf, (void)qop, (void)req_output_size;
	if (max_input_size)
		*max_input_size = 0;
	return unavailable(minor);
}

/* Releasing what was never made succeeds, as with the real library. */
OM_uint32 gss_release_buffer(OM_uint32 *minor, gss_buffer_t buffer)
{
	if (buffer) {
		buffer->length = 0;
		buffer->value = NULL;
	}
	return done(minor);
}

OM_uint32 gss_release_cred(OM_uint32 *minor, gss_cred_id_t *cred)
{
	if (cred)
		*cred = GSS_C_NO_CREDENTIAL;
	return done(minor);
}

OM_uint32 gss_release_name(OM_uint32 *minor, gss_name_t *name)
{
	if (name)
		*name = GSS_C_NO_NAME;
	return done(minor);
}

OM_uint32 gss_delete_sec_context(OM_uint32 *minor, gss_ctx_id_t *ctx, gss_buffer_t output)
{
	if (ctx)
		*ctx = GSS_C_NO_CONTEXT;
	if (output) {
		output->length = 0;
		output->value = NULL;
	}
	return done(minor);
}

LDAP *ldap_init(LDAP_CONST char *host, int port)
{
	(void)host, (void)port;
	return NULL;
}

char *ldap_err2string(int err)
{
	(void)err;
	return (char *)"LDAP is not available in this build";
}

int ldap_set_option(LDAP *ld, int option, LDAP_CONST void *value)
{
	(void)ld, (void)option, (void)value;
	return LDAP_OPT_ERROR;
}

int ldap_simple_bind(LDAP *ld, LDAP_CONST char *who, LDAP_CONST char *passwd)
{
	(void)ld, (void)who, (void)passwd;
	return -1;
}

int ldap_result(LDAP *ld, int msgid, int all, struct timeval *timeout, LDAPMessage **result)
{
	(void)ld, (void)msgid, (void)all, (void)timeout;
	if (result)
		*result = NULL;
	return -1;
}

int ldap_search_st(LDAP *ld, LDAP_CONST char *base, int scope, LDAP_CONST char *filter,
		   char **attrs, int attrsonly, struct timeval *timeout, LDAPMessage **res)
{
	(void)ld, (void)base, (void)scope, (void)filter, (void)attrs, (void)attrsonly;
	(void)timeout;
	if (res)
		*res = NULL;
	return LDAP_NOT_SUPPORTED;
}

int ldap_count_entries(LDAP *ld, LDAPMessage *chain)
{
	(void)ld, (void)chain;
	return -1;
}

LDAPMessage *ldap_first_entry(LDAP *ld, LDAPMessage *chain)
{
	(void)ld, (void)chain;
	return NULL;
}

struct berval **ldap_get_values_len(LDAP *ld, LDAPMessage *entry, LDAP_CONST char *target)
{
	(void)ld, (void)entry, (void)target;
	return NULL;
}

void ldap_value_free_len(struct berval **vals)
{
	(void)vals;
}

int ldap_msgfree(LDAPMessage *lm)
{
	(void)lm;
	return 0;
}

int ldap_unbind(LDAP *ld)
{
	(void)ld;
	return LDAP_SUCCESS;
}
