/* tickets.c: the tickets service program (tickets API and pages). */
#include "tickets/tickets.h"

int main(int argc, char **argv)
{
	return tx_main(argc, argv, &tickets_service);
}
