/* auth.c: the auth service program (users, sessions, auth pages). */
#include "auth/auth.h"

int main(int argc, char **argv)
{
	return tx_main(argc, argv, &auth_service);
}
