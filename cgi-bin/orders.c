/* orders.c: the orders service program (orders API, checkout pages). */
#include "orders/orders.h"

int main(int argc, char **argv)
{
	return tx_main(argc, argv, &orders_service);
}
