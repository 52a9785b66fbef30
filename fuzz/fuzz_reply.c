/*
 * libFuzzer target for the reply writer: every input is an upstream (or
 * cached) message handed to vd_query_write_message for a client of a view
 * with local zones, so upstream CNAMEs into local data are completed from
 * it. The input's ID picks the client (UDP or TCP, EDNS size, DO), stale
 * or aged TTLs, an EDE, and whether a local CNAME step precedes the
 * forwarded name. The reply must fit the client's limit exactly (the
 * buffer is allocated at that size), parse back, and carry the client's
 * ID and question as sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <uv.h>

#include "query_int.h"
#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/query.h"
#include "vpcdns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vd_snap_t *snap;
static vd_query_ctx_t *ctx;
static uv_loop_t loop;
static vd_fwd_t *fwd;
static vd_resolution_t out_chain; /* out.example.com: a local CNAME out */
static vd_rr_t rr;

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

static void drop(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void init(void)
{
	static const uint8_t out_name[] = "\3out\7example\3com";
	char dir[] = "/tmp/vd-fuzz-XXXXXX", path[256];
	if (mkdtemp(dir) == NULL)
		abort();
	put(dir, "a.zone",
	    "$ORIGIN example.com.\n$TTL 60\n"
	    "@ SOA ns hm 1 2 3 4 5\n@ A 10.0.0.1\n@ AAAA ::1\n@ TXT \"t\"\n"
	    "*.w A 10.0.0.2\nc CNAME example.com.\nloop CNAME loop2\n"
	    "loop2 CNAME loop\nout CNAME www.elsewhere.test.\n");
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
	drop(dir, "c.yaml");
	drop(dir, "a.zone");
	drop(dir, "b.zone");
	rmdir(dir);
	uv_loop_init(&loop);
	fwd = vd_fwd_new(&loop);
	ctx = vd_query_ctx_new(fwd);
	if (fwd == NULL || ctx == NULL)
		abort();
	/* One CNAME step in local data that leaves the view's zones. */
	vd_query_resolve(snap->views[0], snap, out_name, VD_T_A, &out_chain);
	if (out_chain.walk.nchain != 1 || out_chain.group != NULL)
		abort();
}

static void set_qname(vd_query_msg_t *q, const uint8_t *name)
{
	q->qname_len = vd_name_len(name);
	memcpy(q->qname, name, q->qname_len);
	vd_name_lower(q->qname_lc, name);
}

/* The reply parses, fits, and echoes the client's ID and question. */
static void check_reply(const uint8_t *out, size_t n, size_t cap,
			const vd_query_msg_t *q)
{
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype, qclass;
	vd_rr_iter_t it;
	int rc;

	if (n < VD_HDR_LEN || n > cap || vd_hdr_id(out) != q->id ||
	    !(vd_hdr_flags(out) & VD_F_QR))
		abort();
	if (vd_rr_iter_init(&it, out, n, qname, &qtype, &qclass) != 0 ||
	    vd_hdr_qdcount(out) != 1 || qtype != q->qtype || qclass != q->qclass ||
	    vd_name_len(qname) != q->qname_len ||
	    memcmp(qname, q->qname, q->qname_len) != 0)
		abort();
	while ((rc = vd_rr_iter_next(&it, &rr)) == 1)
		;
	if (rc != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t edns_sizes[4] = { 512, 1232, 4096, 65535 };
	if (ctx == NULL)
		init();
	/* Callers pass a message that has at least a header (fwd checked it,
	 * or the cache stored it). */
	if (size < VD_HDR_LEN)
		return 0;
	uint16_t knobs = vd_hdr_id(data);

	vd_query_client_t c = { .max_reply = 65535, .tcp = knobs & 1 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a000001);

	vd_query_msg_t q = {
		.id = 0x4242, .flags = VD_F_RD, .qtype = VD_T_A, .qclass = VD_C_IN
	};
	q.edns = knobs & 2;
	q.edns_udp = edns_sizes[(knobs >> 2) & 3];
	q.edns_do = knobs & 0x80;

	vd_rctx_t rc = { .snap = snap, .view = snap->views[0], .client = &c, .q = &q };
	uint8_t name[VD_NAME_MAX] = { 0 };
	uint16_t qtype = VD_T_A, qclass = VD_C_IN;
	vd_rr_iter_t it;
	if (knobs & 0x20) {
		/* The client asked for out.example.com; its target went upstream. */
		set_qname(&q, out_chain.walk.chain[0].owner);
		rc.chain = out_chain.walk.chain;
		rc.nchain = out_chain.walk.nchain;
		rc.fwd_name = out_chain.walk.chain[0].rrset->rdata[0];
	} else {
		/* The client asked the question the message answers. */
		if (vd_rr_iter_init(&it, data, size, name, &qtype, &qclass) != 0 ||
		    name[0] == 0)
			memcpy(name, "\7example\3com", 13);
		set_qname(&q, name);
		q.qtype = qtype;
		q.qclass = qclass;
		rc.fwd_name = q.qname;
	}

	size_t cap = vd_query_reply_limit(&c, &q);
	uint8_t *out = malloc(cap);
	if (out == NULL)
		abort();
	size_t n = vd_query_write_message(ctx, &rc, data, size,
					  (uint32_t)(knobs >> 8) * 97, knobs & 0x10,
					  knobs & 0x40 ? VD_EDE_STALE : -1, out);
	check_reply(out, n, cap, &q);
	free(out);
	return 0;
}
