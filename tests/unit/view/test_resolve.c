/*
 * Unit tests of the routing walk, vd_view_resolve, on a view built through
 * view's builder functions: the trace is called once per step and changes
 * nothing in the result (the answer path passes NULL, explain a callback),
 * CNAME chains across zones, a CNAME loop ends the walk and is reported,
 * a forward rule names its group by index, a zone that falls back is
 * skipped, and a name with no zone and no rule is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcdns/view.h"
#include "vpcdns/wire.h"

static const char zone_text[] =
	"$ORIGIN local.test.\n$TTL 300\n"
	"@ IN SOA ns.local.test. h.local.test. 1 3600 600 86400 120\n"
	"@ IN NS ns\nns IN A 192.0.2.53\n"
	"www IN A 192.0.2.1\n"
	"alias IN CNAME alias2\nalias2 IN CNAME www\n"
	"loop1 IN CNAME loop2\nloop2 IN CNAME loop1\n"
	"ext IN CNAME host.corp.example.\n";

typedef struct fixture {
	vd_arena_t a;
	vd_zone_t *zone;
	vd_view_t *v;
} fixture_t;

typedef struct steps {
	vd_view_step_kind_t kind[64];
	vd_zl_result_t result[64];
	unsigned n;
} steps_t;

static void on_step(void *arg, const vd_view_trace_t *t)
{
	steps_t *s = arg;

	assert_true(s->n < 64);
	s->kind[s->n] = t->kind;
	s->result[s->n] = t->result;
	s->n++;
}

static const uint8_t *wire(fixture_t *f, const char *text)
{
	uint8_t buf[VD_NAME_MAX];
	size_t len;

	assert_int_equal(vd_name_from_text(text, buf, &len), 0);
	vd_name_lower(buf, buf);
	return vd_arena_memdup(&f->a, buf, len);
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	char path[] = "/tmp/vd-view-resolve.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, zone_text, sizeof(zone_text) - 1),
			 (ssize_t)(sizeof(zone_text) - 1));
	close(fd);
	assert_int_equal(
		vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &f->zone, NULL), 0);
	unlink(path);
	vd_arena_init(&f->a, 0);
	f->v = vd_view_new(&f->a, 0);
	assert_non_null(f->v);
	assert_int_equal(vd_view_add_zone(f->v, &f->a, f->zone), 0);
	vd_view_rule_t rules[] = { { wire(f, "corp.example."), 3 } };
	bool shared = true;
	assert_int_equal(vd_view_build(f->v, rules, 1, NULL, &shared), 0);
	assert_false(shared);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	vd_view_deinit(f->v);
	vd_zone_unref(f->zone);
	vd_arena_deinit(&f->a);
	free(f);
	return 0;
}

/* Resolves name both ways and checks the trace changed nothing. */
static void resolve(fixture_t *f, const char *name, uint16_t qtype, vd_view_res_t *res,
		    steps_t *s)
{
	vd_view_res_t plain;
	const uint8_t *w = wire(f, name);

	memset(s, 0, sizeof(*s));
	vd_view_resolve(f->v, w, qtype, &plain, NULL, NULL);
	vd_view_resolve(f->v, w, qtype, res, on_step, s);
	assert_memory_equal(&plain, res, sizeof(plain));
}

static void test_answer_and_chain(void **state)
{
	fixture_t *f = *state;
	vd_view_res_t res;
	steps_t s;

	resolve(f, "www.local.test.", VD_T_A, &res, &s);
	assert_int_equal(res.nchain, 1);
	assert_int_equal(res.group, -1);
	assert_false(res.refused);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.result[0], VD_ZL_ANSWER);

	resolve(f, "alias.local.test.", VD_T_A, &res, &s);
	assert_int_equal(res.nchain, 3);
	assert_int_equal(res.chain[0].rrset->type, VD_T_CNAME);
	assert_int_equal(res.chain[2].rrset->type, VD_T_A);
	assert_int_equal(s.n, 3);

	/* The walk is for the asked type: www has no AAAA. */
	resolve(f, "www.local.test.", VD_T_AAAA, &res, &s);
	assert_int_equal(res.nchain, 0);
	assert_ptr_equal(res.soa_zone, f->zone);
	assert_int_equal(s.result[0], VD_ZL_NODATA);
}

static void test_loop_stops(void **state)
{
	fixture_t *f = *state;
	vd_view_res_t res;
	steps_t s;

	resolve(f, "loop1.local.test.", VD_T_A, &res, &s);
	assert_int_equal(res.nchain, 2);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.kind[2], VD_VIEW_STEP_LOOP);
}

static void test_forward_and_refused(void **state)
{
	fixture_t *f = *state;
	vd_view_res_t res;
	steps_t s;

	/* A CNAME out of the zone to a forward rule: the chain, then group 3. */
	resolve(f, "ext.local.test.", VD_T_A, &res, &s);
	assert_int_equal(res.nchain, 1);
	assert_int_equal(res.group, 3);
	assert_true(vd_name_equal(res.fwd_name, res.chain[0].rrset->rdata[0]));
	assert_int_equal(s.kind[s.n - 1], VD_VIEW_STEP_FORWARD);

	/* Not in the zone (fallback forward) and no "." rule: refused. */
	resolve(f, "nothing.local.test.", VD_T_A, &res, &s);
	assert_true(res.refused);
	assert_int_equal(s.kind[0], VD_VIEW_STEP_ZONE);
	assert_int_equal(s.result[0], VD_ZL_FALLBACK);
	assert_int_equal(s.kind[s.n - 1], VD_VIEW_STEP_NONE);

	resolve(f, "www.example.org.", VD_T_A, &res, &s);
	assert_true(res.refused);
	assert_int_equal(s.n, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_answer_and_chain),
		T(test_loop_stops),
		T(test_forward_and_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
