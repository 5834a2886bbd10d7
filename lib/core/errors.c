/* errors.c: tables generated from TX_ERROR_MAP. */
#include "errors.h"

#include <stddef.h>

struct err_info {
	const char *name;
	int status;
	const char *message;
};

static const struct err_info errs[TX_E__MAX] = {
	[TX_OK] = { "OK", 200, "" },
#define TX_ERR_INFO(n, s, m) [TX_E_##n] = { #n, s, m },
	TX_ERROR_MAP(TX_ERR_INFO)
#undef TX_ERR_INFO
};

static const struct err_info *info(int code)
{
	if (code < 0)
		code = -code;
	if (code <= 0 || code >= TX_E__MAX)
		code = TX_E_INTERNAL;
	return &errs[code];
}

int tx_err_status(int code)
{
	return info(code)->status;
}

const char *tx_err_message(int code)
{
	return info(code)->message;
}

const char *tx_err_name(int code)
{
	return info(code)->name;
}
