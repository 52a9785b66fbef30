/*
 * fwd: queries upstream servers for one event loop. Each query goes out
 * with a random ID from the CSPRNG, from a fresh UDP socket bound to a
 * random source port (CSPRNG), connected to the server. A response is
 * accepted only when it comes from the server's address and port, carries
 * the query's ID, has QR set and repeats the question (name compared
 * case-insensitively, type, class); anything else is dropped and counted.
 * TC=1 retries the same server over TCP. A timeout or network error moves
 * to the group's next server. Depends on conf, wire, util, libuv.
 *
 * Threading: a vd_fwd_t and its requests belong to one loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/wire.h"

typedef struct vd_fwd vd_fwd_t;

typedef struct vd_fwd_stats {
	uint64_t queries;          /* submitted */
	uint64_t sent_udp, sent_tcp;
	uint64_t answered;
	uint64_t dropped_mismatch; /* wrong ID, address, question, not QR */
	uint64_t dropped_malformed;
	uint64_t timeouts;
	uint64_t net_errors;
	uint64_t tc_retries;
	uint64_t failovers;
	uint64_t failed;           /* every server failed */
} vd_fwd_stats_t;

/* What to ask. qname is copied; group must stay valid until the callback
 * (the caller holds a snapshot reference). */
typedef struct vd_fwd_query {
	const vd_group_t *group;
	const uint8_t *qname;      /* wire form; case is kept on the wire */
	uint16_t qtype, qclass;
	bool rd, cd, do_bit;       /* passed through from the client */
	uint32_t timeout_ms;       /* per attempt */
} vd_fwd_query_t;

/* Called exactly once per submitted query, on the loop thread.
 * status 0: resp/len hold a validated response (possibly with a SERVFAIL
 * or REFUSED rcode when every server answered so), valid only during
 * the call. status VD_ETIMEOUT: every server timed out. Other negative
 * status: network errors (refused, unreachable) or -ECANCELED at close.
 * ede is the suggested Extended DNS Error code when status != 0
 * (VD_EDE_NO_REACHABLE_AUTHORITY or VD_EDE_NETWORK_ERROR). */
typedef void (*vd_fwd_cb)(void *arg, int status, int ede, const uint8_t *resp,
			  size_t len);

/* NULL on out of memory. */
vd_fwd_t *vd_fwd_new(uv_loop_t *loop);
/* Submits a query; cb is called later (never from inside this call).
 * Returns 0, or a negative error (then cb is never called). */
int vd_fwd_submit(vd_fwd_t *f, const vd_fwd_query_t *q, vd_fwd_cb cb, void *arg);
/* Cancels every pending query (callbacks get -ECANCELED), closes all
 * handles; close_cb runs once every handle is closed, then the vd_fwd_t
 * is freed. */
void vd_fwd_close(vd_fwd_t *f, void (*close_cb)(void *arg), void *arg);
const vd_fwd_stats_t *vd_fwd_stats(const vd_fwd_t *f);
/* Number of queries in flight. */
size_t vd_fwd_pending(const vd_fwd_t *f);
