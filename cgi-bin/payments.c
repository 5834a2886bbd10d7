/* payments.c: the payments service program (payments API, the checkout
 * form's POST). */
#include "payments/payments.h"

int main(int argc, char **argv)
{
	return tx_main(argc, argv, &payments_service);
}
