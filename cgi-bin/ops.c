/* ops.c: the operations program (health, metrics, the ops page). */
#include "ops/ops.h"

int main(int argc, char **argv)
{
	return tx_main(argc, argv, &ops_service);
}
