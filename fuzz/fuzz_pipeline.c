/*
 * libFuzzer target for the whole query pipeline: every input is a client
 * query handled by vd_query_handle against a snapshot with local zones
 * (wildcards, CNAMEs, NXDOMAIN fallback), from a client inside a view.
 * The reply must parse back and echo the query's ID; nothing may crash,
 * leak or read out of bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/query.h"
#include "vpcdns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vd_snap_t *snap;
static vd_query_ctx_t *ctx;
static uv_loop_t loop;
static vd_fwd_t *fwd;

static void put(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void init(void)
{
	char dir[] = "/tmp/vd-fuzz-XXXXXX", path[256];
	if (mkdtemp(dir) == NULL)
		abort();
	put(dir, "a.zone",
	    "$ORIGIN example.com.\n$TTL 60\n"
	    "@ SOA ns hm 1 2 3 4 5\n@ A 10.0.0.1\n@ AAAA ::1\n@ TXT \"t\"\n"
	    "*.w A 10.0.0.2\nc CNAME example.com.\nloop CNAME loop2\n"
	    "loop2 CNAME loop\n");
	put(dir, "b.zone",
	    "$ORIGIN corp.test.\n@ 60 SOA ns hm 1 2 3 4 5\nx 60 A 10.1.1.1\n");
	put(dir, "c.yaml",
	    "server:\n  listen: [\"127.0.0.1:53\"]\n  identity: fuzz\n"
	    "views:\n  - name: v\n    clients: [\"0.0.0.0/0\"]\n"
	    "    zones: [a.zone, {path: b.zone, fallback: nxdomain}]\n");
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	vd_errlist_t errs;
	vd_errlist_init(&errs);
	if (vd_conf_load(path, &snap, &errs) != 0)
		abort();
	vd_errlist_deinit(&errs);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.zone", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b.zone", dir);
	unlink(path);
	rmdir(dir);
	uv_loop_init(&loop);
	fwd = vd_fwd_new(&loop);
	ctx = vd_query_ctx_new(fwd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	static vd_rr_t rr;
	if (ctx == NULL)
		init();
	vd_query_client_t c = { .max_reply = 65535 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a000001);
	c.tcp = size > 0 && (data[0] & 1);

	size_t outlen = 0;
	vd_qh_result_t r = vd_query_handle(ctx, snap, &c, data, size, out, &outlen);
	if (r == VD_QH_PENDING)
		abort(); /* no forward rules: nothing may go upstream */
	if (r == VD_QH_REPLY) {
		vd_rr_iter_t it;
		int rc;
		if (outlen < VD_HDR_LEN || vd_hdr_id(out) != vd_get16(data))
			abort();
		if (vd_rr_iter_init(&it, out, outlen, NULL, NULL, NULL) != 0)
			abort();
		while ((rc = vd_rr_iter_next(&it, &rr)) == 1)
			;
		if (rc != 0)
			abort();
	}
	return 0;
}
