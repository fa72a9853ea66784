/* Unit runner for policy/: generates keys once into a temp dir, then runs
 * every suite. KEEP_TMP=1 keeps the temp dir for inspection. */
#include "tpol.h"

#include <stdio.h>
#include <stdlib.h>

CHECK_MAIN_DEFS

int main(void)
{
    /* expected warnings (failed JWKS fetches, refused configs) stay quiet; set once,
     * before any refresher thread reads the level */
    cm_log_set_level(getenv("POL_TEST_LOG") != NULL ? CM_LOG_DEBUG : CM_LOG_ERROR + 1);
    tp_setup();
    test_attacks();
    test_algs();
    test_interop();
    test_load();
    test_jwks();
    test_cache();
    test_perf();
    test_apikeys();
    test_claims();
    test_mtls();
    test_roles();
    test_cli();
    tp_teardown();
    return check_report("unit_pol");
}
