/* main.c: runs every HTTP suite against the running stack (TEST_BASE_URL). */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>

extern Suite *(*const tx_test_suites[])(void);

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(NULL);
	for (size_t i = 0; tx_test_suites[i]; i++)
		srunner_add_suite(sr, tx_test_suites[i]());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
