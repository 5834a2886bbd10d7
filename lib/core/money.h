/* money.h: prices as whole cents.
 *
 * The API takes any number or numeric string > 0 and <= 1,000,000 (the
 * rule of validator.js isFloat({gt: 0}), bounded; more than two decimals
 * are rounded to cents) and answers with the shortest JavaScript number
 * text, so 10.5 stays 10.5 and 20 stays 20.
 */
#ifndef TX_MONEY_H
#define TX_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define TX_MAX_CENTS 100000000LL

/* 0 and *cents, or -1 when s is not an acceptable price. */
int tx_price_parse(const char *s, int64_t *cents);
/* 2000 -> "20", 1050 -> "10.5", 1 -> "0.01". */
void tx_price_format(int64_t cents, char *out, size_t cap);

#endif
