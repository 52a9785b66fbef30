/*
 * A fixture for the query-pipeline tests: a temporary folder for the
 * config and zones, a libuv loop with a fake upstream on 127.0.0.1 that
 * answers every query with one A record (address and TTL chosen by the
 * test), and the snapshot, upstream client and query context built from
 * the config the test writes.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/query.h"
#include "vpcdns/wire.h"

typedef struct qfix {
	char dir[64];
	uv_loop_t loop;
	uv_udp_t upstream;
	int upstream_port;
	uint8_t answer[4]; /* what the fake upstream answers */
	uint32_t ttl;
	vd_snap_t *snap;
	vd_fwd_t *fwd;
	vd_query_ctx_t *ctx;
	uint8_t rbuf[4096];
} qfix_t;

static inline void qfix_write(qfix_t *f, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static inline void qfix_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	qfix_t *f = h->data;
	(void)s;
	b->base = (char *)f->rbuf;
	b->len = sizeof(f->rbuf);
}

static inline void qfix_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
			     const struct sockaddr *addr, unsigned flags)
{
	qfix_t *f = h->data;
	static uint8_t out[512];
	vd_query_msg_t q;
	vd_wbuf_t w;
	(void)flags;
	if (n <= 0 || addr == NULL)
		return;
	assert_int_equal(vd_query_msg_parse((uint8_t *)b->base, (size_t)n, &q),
			 VD_QP_OK);
	vd_wbuf_init(&w, out, sizeof(out));
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_F_AA | VD_F_RD | VD_F_RA);
	vd_wbuf_rr(&w, 1, q.qname, VD_T_A, VD_C_IN, f->ttl, f->answer, 4);
	assert_int_equal(w.err, 0);
	uv_buf_t sb = uv_buf_init((char *)out, (unsigned)w.len);
	uv_udp_try_send(h, &sb, 1, addr);
}

/* The folder, the loop and the fake upstream. */
static inline void qfix_start(qfix_t *f, const uint8_t answer[4], uint32_t ttl)
{
	struct sockaddr_in sin;
	int len = sizeof(sin);

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/vd-query-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memcpy(f->answer, answer, 4);
	f->ttl = ttl;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_ip4_addr("127.0.0.1", 0, &sin);
	uv_udp_init(&f->loop, &f->upstream);
	f->upstream.data = f;
	assert_int_equal(uv_udp_bind(&f->upstream, (struct sockaddr *)&sin, 0), 0);
	uv_udp_getsockname(&f->upstream, (struct sockaddr *)&sin, &len);
	f->upstream_port = ntohs(sin.sin_port);
	uv_udp_recv_start(&f->upstream, qfix_alloc, qfix_recv);
}

/* Writes conf as vpcdns.yaml and builds the snapshot and contexts. */
static inline void qfix_load(qfix_t *f, const char *conf)
{
	char path[256];
	vd_errlist_t errs;

	qfix_write(f, "vpcdns.yaml", conf);
	snprintf(path, sizeof(path), "%s/vpcdns.yaml", f->dir);
	vd_errlist_init(&errs);
	int rc = vd_conf_load(path, &f->snap, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	vd_errlist_deinit(&errs);
	assert_int_equal(rc, 0);
	f->fwd = vd_fwd_new(&f->loop);
	f->ctx = vd_query_ctx_new(f->fwd);
	assert_non_null(f->ctx);
	assert_int_equal(vd_query_snap_changed(f->ctx, f->snap), 0);
}

static inline void qfix_closed(void *arg)
{
	(void)arg;
}

static inline int qfix_rm(const char *path, const struct stat *st, int flag,
			  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void qfix_stop(qfix_t *f)
{
	vd_fwd_close(f->fwd, qfix_closed, NULL);
	uv_close((uv_handle_t *)&f->upstream, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_loop_close(&f->loop);
	vd_query_ctx_free(f->ctx);
	vd_snap_unref(f->snap);
	nftw(f->dir, qfix_rm, 16, FTW_DEPTH | FTW_PHYS);
}
