/* errors.h: every error a request can end in, with its HTTP status and the
 * contract's message, from one X-macro (libuv's UV_ERRNO_MAP).
 *
 * Functions that act return 0 or -TX_E_<NAME>. The client sees only the
 * message here; details (SQLSTATE, libpq text, request id) go to the log.
 * CONFLICT is a unique violation: callers turn it into their own message
 * ("Email in use"); left alone it is a 400 like any other bad request.
 */
#ifndef TX_ERRORS_H
#define TX_ERRORS_H

#define TX_ERROR_MAP(X)                                          \
	X(BAD_REQUEST, 400, "Something went wrong")              \
	X(CONFLICT, 400, "Something went wrong")                 \
	X(NOT_AUTHORIZED, 401, "Not authorized")                 \
	X(FORBIDDEN, 403, "Invalid or missing form token")       \
	X(NOT_FOUND, 404, "Not Found")                           \
	X(TOO_LARGE, 413, "Request body too large")              \
	X(INTERNAL, 500, "Something went wrong")                 \
	X(UNAVAILABLE, 503, "Service temporarily unavailable")

enum tx_err {
	TX_OK = 0,
#define TX_ERR_ENUM(name, status, msg) TX_E_##name,
	TX_ERROR_MAP(TX_ERR_ENUM)
#undef TX_ERR_ENUM
	TX_E__MAX
};

/* Status and message of -code or code; unknown codes are INTERNAL. */
int tx_err_status(int code);
const char *tx_err_message(int code);
const char *tx_err_name(int code);

#endif
