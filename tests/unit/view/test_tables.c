/*
 * Unit tests of a view's lookup tables at the size of a large VPC: 400
 * endpoint zones, each with two addresses in two AZs at its apex and one
 * single-address name, plus a shared vpce apex held by two zones and a
 * forward rule on one zone's apex. Every zone apex routes to its zone,
 * the shared apex to the first zone then the other, the rule's name to
 * its group; every two-address RRset has its AZs, a single-address one
 * and an RRset of no zone of the view have none.
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

#define NZONES 400

typedef struct fixture {
	vd_arena_t a;
	vd_zone_t *zones[NZONES + 2];
	vd_view_t *v;
} fixture_t;

static const uint8_t *wire(fixture_t *f, const char *text)
{
	uint8_t buf[VD_NAME_MAX];
	size_t len;

	assert_int_equal(vd_name_from_text(text, buf, &len), 0);
	vd_name_lower(buf, buf);
	return vd_arena_memdup(&f->a, buf, len);
}

static vd_zone_t *zone(const char *text)
{
	char path[] = "/tmp/vd-view-tables.XXXXXX";
	int fd = mkstemp(path);
	vd_zone_t *z = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_FORWARD, &z, NULL),
			 0);
	unlink(path);
	return z;
}

static void subnet(fixture_t *f, const char *cidr, const char *az)
{
	vd_cidr_t c;

	assert_int_equal(vd_cidr_parse(cidr, &c), 0);
	assert_int_equal(vd_view_add_subnet(f->v, &f->a, &c, az, VD_VIEW_SUBNET_ADDR),
			 0);
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	char text[512];

	vd_arena_init(&f->a, 0);
	f->v = vd_view_new(&f->a, 0);
	assert_non_null(f->v);
	subnet(f, "10.1.0.0/16", "use1-az1");
	subnet(f, "10.2.0.0/16", "use1-az2");
	for (int i = 0; i < NZONES; i++) {
		snprintf(text, sizeof(text),
			 "$ORIGIN svc%d.us-east-1.amazonaws.com.\n$TTL 60\n"
			 "@ SOA ns.invalid. h.invalid. 1 3600 600 86400 60\n"
			 "@ A 10.1.%d.%d\n@ A 10.2.%d.%d\none A 10.1.%d.%d\n",
			 i, i / 250, i % 250 + 1, i / 250, i % 250 + 1, i / 250,
			 i % 250 + 1);
		f->zones[i] = zone(text);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof(text),
			 "$ORIGIN us-east-1.vpce.amazonaws.com.\n$TTL 60\n"
			 "@ SOA ns.invalid. h.invalid. 1 3600 600 86400 60\n"
			 "vpce-%d A 10.1.9.%d\nvpce-%d A 10.2.9.%d\n",
			 i, i + 1, i, i + 1);
		f->zones[NZONES + i] = zone(text);
	}
	for (int i = 0; i < NZONES + 2; i++)
		assert_int_equal(vd_view_add_zone(f->v, &f->a, f->zones[i]), 0);
	vd_view_rule_t rules[] = { { wire(f, "svc7.us-east-1.amazonaws.com."), 5 },
				   { wire(f, "corp.example."), 2 } };
	bool shared = true;
	assert_int_equal(vd_view_build(f->v, rules, 2, NULL, &shared), 0);
	assert_false(shared);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	vd_view_deinit(f->v);
	for (int i = 0; i < NZONES + 2; i++)
		vd_zone_unref(f->zones[i]);
	vd_arena_deinit(&f->a);
	free(f);
	return 0;
}

static const vd_view_route_t *route(fixture_t *f, const char *name)
{
	return vd_view_route(f->v, wire(f, name), UINT_MAX);
}

static void test_every_name_routes(void **state)
{
	fixture_t *f = *state;
	char name[128];

	for (int i = 0; i < NZONES; i++) {
		snprintf(name, sizeof(name), "one.svc%d.us-east-1.amazonaws.com.", i);
		const vd_view_route_t *e = route(f, name);
		assert_non_null(e);
		assert_ptr_equal(vd_view_route_zone(e), f->zones[i]);
		assert_ptr_equal(vd_view_route_name(e), vd_zone_apex(f->zones[i]));
		assert_int_equal(vd_view_route_group(e), i == 7 ? 5 : -1);
	}
	assert_null(route(f, "svc400.us-east-1.amazonaws.com."));
	assert_null(route(f, "amazonaws.com."));
	assert_int_equal(vd_view_route_group(route(f, "www.corp.example.")), 2);
	assert_null(vd_view_route_zone(route(f, "www.corp.example.")));
}

static void test_shared_apex(void **state)
{
	fixture_t *f = *state;
	const vd_view_route_t *e = route(f, "vpce-1.us-east-1.vpce.amazonaws.com.");
	const vd_rrset_t *rs = NULL;
	const vd_zone_t *z = NULL;
	bool wild = false;

	assert_non_null(e);
	assert_ptr_equal(vd_view_route_zone(e), f->zones[NZONES]);
	assert_int_equal(vd_view_route_group(e), -1);
	assert_int_equal(
		vd_view_route_lookup(e, wire(f, "vpce-1.us-east-1.vpce.amazonaws.com."),
				     VD_T_A, &rs, &wild, &z),
		VD_ZL_ANSWER);
	assert_ptr_equal(z, f->zones[NZONES + 1]);
	assert_int_equal(rs->count, 2);
}

static const vd_rrset_t *rrset_at(fixture_t *f, const vd_zone_t *z, const char *name)
{
	const vd_rrset_t *rs = NULL;

	assert_int_equal(vd_zone_lookup(z, wire(f, name), VD_T_A, &rs, NULL),
			 VD_ZL_ANSWER);
	return rs;
}

static void test_every_rrset_has_its_azs(void **state)
{
	fixture_t *f = *state;
	char name[128];
	vd_rrset_t copy;

	for (int i = 0; i < NZONES; i++) {
		snprintf(name, sizeof(name), "svc%d.us-east-1.amazonaws.com.", i);
		const vd_rrset_t *rs = rrset_at(f, f->zones[i], name);
		const vd_az_rrset_t *p = vd_view_rrset_az(f->v, rs);
		assert_non_null(p);
		assert_int_equal(p->count, 2);
		assert_int_equal(p->az[0], 0);
		assert_int_equal(p->az[1], 1);
		/* One address: no AZ order to give. */
		snprintf(name, sizeof(name), "one.svc%d.us-east-1.amazonaws.com.", i);
		assert_null(vd_view_rrset_az(f->v, rrset_at(f, f->zones[i], name)));
		/* The same records elsewhere: not this view's RRset. */
		copy = *rs;
		assert_null(vd_view_rrset_az(f->v, &copy));
	}
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "vpce-%d.us-east-1.vpce.amazonaws.com.",
			 i);
		assert_non_null(vd_view_rrset_az(f->v, rrset_at(f, f->zones[NZONES + i],
								name)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_name_routes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shared_apex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_rrset_has_its_azs, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
