/*
 * Unit tests of the per-view request metrics across reloads: a view that
 * stays keeps its counters, and the slots of views that are gone do not
 * pile up when the inventory changes on every reload.
 */
#include "query_fixture.h"

#include <arpa/inet.h>

static qfix_t fx;
static uint8_t out[65535];

static void on_respond(void *token, const vd_query_client_t *c, const uint8_t *pkt,
		       size_t len)
{
	(void)token;
	(void)c;
	(void)pkt;
	(void)len;
}

/* One query for keep.test from 127.0.0.1 (the view "keep"). */
static void ask(vd_snap_t *snap)
{
	uint8_t q[64], wire[VD_NAME_MAX];
	size_t n, outlen = 0;
	assert_int_equal(vd_name_from_text("keep.test", wire, &n), 0);
	memset(q, 0, 12);
	vd_set16(q, 0x4242);
	vd_set16(q + 4, 1);
	memcpy(q + 12, wire, n);
	vd_set16(q + 12 + n, VD_T_A);
	vd_set16(q + 14 + n, VD_C_IN);
	vd_query_client_t c = { .max_reply = 65535, .respond = on_respond };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	assert_int_equal(vd_query_handle(fx.ctx, snap, &c, q, 16 + n, out, &outlen),
			 VD_QH_REPLY);
}

static vd_snap_t *load(int i)
{
	char conf[512], path[300];
	vd_snap_t *s = NULL;

	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:5999\"]\n"
		 "views:\n  - name: keep\n    clients: [\"127.0.0.1/32\"]\n"
		 "  - name: gone%d\n    clients: [\"10.%d.0.0/16\"]\n",
		 i, i);
	qfix_write(&fx, "next.yaml", conf);
	snprintf(path, sizeof(path), "%s/next.yaml", fx.dir);
	assert_int_equal(vd_conf_load(path, &s, NULL), 0);
	return s;
}

static void test_views_come_and_go(void **state)
{
	vd_query_metrics_t m;
	vd_snap_t *prev = fx.snap;

	(void)state;
	fx.snap = NULL;
	for (int i = 0; i < 100; i++) {
		vd_snap_t *s = load(i);
		assert_int_equal(vd_query_snap_changed(fx.ctx, s), 0);
		ask(s);
		vd_snap_unref(prev);
		prev = s;
	}
	fx.snap = prev;
	assert_int_equal(vd_query_metrics_copy(fx.ctx, &m), 0);
	/* slot 0, keep, the last gone<i>, and at most the spare ones */
	assert_true(m.nslots <= 2 * 3 + VD_QM_SLOTS_SPARE);
	uint64_t keep = 0;
	for (size_t i = 1; i < m.nslots; i++) {
		if (strcmp(m.names[i], "keep") != 0)
			continue;
		for (int t = 0; t < VD_QM_TRANSPORTS; t++)
			for (int f = 0; f < VD_QM_FAMILIES; f++)
				for (int q = 0; q < VD_QM_QTYPES; q++)
					keep += m.v[i].requests[t][f][q];
	}
	assert_int_equal(keep, 100); /* kept across every compaction */
	vd_query_metrics_deinit(&m);
}

static int setup(void **state)
{
	static const uint8_t answer[4] = { 192, 0, 2, 7 };
	(void)state;
	qfix_start(&fx, answer, 60);
	qfix_load(&fx, "server:\n  listen: [\"127.0.0.1:5999\"]\n"
		       "views:\n  - name: keep\n    clients: [\"127.0.0.1/32\"]\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	qfix_stop(&fx);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_views_come_and_go, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
