/*
 * The public headers do not include <uv.h>: fwd.h and net.h only
 * forward-declare the loop type they take, so a module that includes
 * query.h (or any other public header) is not compiled against libuv.
 * Only net/, fwd/ and main.c include <uv.h>, in their own sources.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vpcdns/cache.h"
#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/import.h"
#include "vpcdns/net.h"
#include "vpcdns/query.h"
#include "vpcdns/upstream.h"
#include "vpcdns/util.h"
#include "vpcdns/view.h"
#include "vpcdns/wire.h"
#include "vpcdns/zone.h"

#ifdef UV_VERSION_MAJOR
#define UV_INCLUDED 1
#else
#define UV_INCLUDED 0
#endif

static void test_no_public_header_includes_uv(void **state)
{
	(void)state;
	assert_int_equal(UV_INCLUDED, 0);
}

/* The forward declarations are the libuv type itself: the API still takes
 * the caller's uv_loop_t. */
static void test_loop_type_is_declared(void **state)
{
	vd_fwd_t *(*fwd_new)(uv_loop_t *) = vd_fwd_new;
	vd_net_t *(*net_new)(uv_loop_t *, vd_query_ctx_t *) = vd_net_new;
	(void)state;
	assert_non_null(fwd_new);
	assert_non_null(net_new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_public_header_includes_uv),
		cmocka_unit_test(test_loop_type_is_declared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
