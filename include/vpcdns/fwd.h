/*
 * fwd: queries upstream servers for one event loop. Each query goes out
 * with a random ID from the CSPRNG, from a fresh UDP socket bound to a
 * random source port (CSPRNG), connected to the server. A response is
 * accepted only when it comes from the server's address and port, carries
 * the query's ID, has QR set and repeats the question (type, class, and
 * the name: with the group's use_0x20, the default, the name goes out with
 * the case of each letter random per attempt and must come back exactly
 * so; without it, compared case-insensitively); anything else is dropped
 * and counted. An accepted answer is then scrubbed (fwd_msg.c, after
 * Unbound's scrubber): records that are not part of the question's
 * CNAME chain, of the zones above it, or addresses of the NS/MX/SRV
 * targets kept are removed and counted before the callback sees it.
 * TC=1 retries the same server over TCP. A timeout or network error moves
 * to another server of the group. Depends on wire, util, libuv, OpenSSL;
 * the groups and servers it is given are the types in upstream.h.
 *
 * Servers: a vd_fwd_t keeps state per server, keyed by (address, tls,
 * tls_name) rather than by group, so it survives reloads: a smoothed RTT
 * (srtt = 7/8 srtt + 1/8 sample; 376 ms until measured), an exponential
 * back-off after timeouts and network errors (1 s, 2 s, 4 s ... 2 min; one
 * query probes the server when it ends, a success resets it), and its
 * TCP or TLS connection. Each query goes to the fastest server not backed
 * off (about 1 in 20 to another one at random, to keep measuring them);
 * when every server left is backed off they are tried anyway, the one that
 * failed longest ago first.
 *
 * Streams: TCP (after TC=1) and DNS over TLS (RFC 7858; every query to a
 * tls:// server) use one connection per server, reused and pipelined
 * (answers matched by ID and question), closed after 10 s idle, re-dialled
 * when broken; a query caught on a reused connection that broke is retried
 * once on a fresh one. TLS is 1.2 or later, verifies the certificate
 * against vd_upstream_t.tls_name (also sent as SNI) or else the address,
 * and resumes the server's last session when re-dialling.
 *
 * Threading: a vd_fwd_t and its requests belong to one loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/upstream.h"
#include "vpcdns/wire.h"

/* libuv's loop, declared here so that including this header does not
 * pull <uv.h> into every module that includes query.h. */
typedef struct uv_loop_s uv_loop_t;

typedef struct vd_fwd vd_fwd_t;

typedef struct vd_fwd_stats {
	uint64_t queries; /* submitted */
	uint64_t sent_udp, sent_tcp;
	uint64_t answered;
	uint64_t dropped_mismatch; /* wrong ID, address, question, not QR */
	uint64_t dropped_malformed;
	uint64_t timeouts;
	uint64_t net_errors;
	uint64_t tc_retries;
	uint64_t failovers;
	uint64_t failed; /* every server failed */
	/* appended with the server choice and stream transports */
	uint64_t rejected_inflight; /* submits refused: max_inflight reached */
	uint64_t deadlines;	    /* queries stopped by query_timeout_ms */
	uint64_t explored;	    /* attempts sent to a server other than
				    * the fastest, to measure it */
	uint64_t probes;	    /* attempts probing a backed-off server */
	uint64_t sent_tls;	    /* queries written on TLS connections */
	uint64_t conn_opened;	    /* TCP and TLS connections dialled */
	uint64_t conn_reused;	    /* queries that joined an open connection */
	uint64_t conn_broken;	    /* connections lost with queries on them */
	uint64_t conn_retries;	    /* queries retried on a fresh connection */
	uint64_t tls_failures;	    /* handshakes or verifications that failed */
	uint64_t tls_resumed;	    /* handshakes that resumed a session */
	uint64_t socket_failures;   /* attempts whose socket could not be
				    * opened (EMFILE, ENFILE, ENOBUFS, ENOMEM) */
	uint64_t scrubbed;	    /* records removed from answers: not part
				    * of the question's chain or zone */
} vd_fwd_stats_t;

/* Upper bounds of the upstream response time buckets, in milliseconds
 * (+Inf is the last bucket). */
#define VD_FWD_RTT_BUCKETS 12
extern const uint32_t vd_fwd_rtt_bounds_ms[VD_FWD_RTT_BUCKETS];

/* One server's counters, kept with what fwd knows about it (so keyed by
 * address, transport and TLS name, and surviving reloads). */
typedef struct vd_fwd_server_stats {
	uint64_t queries;   /* attempts sent to it */
	uint64_t answers;   /* valid responses */
	uint64_t timeouts;  /* attempts that timed out */
	uint64_t errors;    /* network and TLS errors */
	uint64_t malformed; /* responses that did not parse */
	/* response times of answers that measured one (not cumulative) */
	uint64_t rtt[VD_FWD_RTT_BUCKETS + 1];
	uint64_t rtt_sum_ms;
	bool up;	/* not failing (false: backed off) */
	unsigned fails; /* consecutive failures counted */
} vd_fwd_server_stats_t;

/* What to ask. qname is copied; group must stay valid until the callback
 * (the caller holds a snapshot reference). */
typedef struct vd_fwd_query {
	const vd_group_t *group;
	const uint8_t *qname; /* wire form; case is kept on the wire */
	uint16_t qtype, qclass;
	bool rd, cd, do_bit; /* passed through from the client */
	uint32_t timeout_ms; /* per attempt; 0: 2000 */
	/* The whole query, every attempt included; past it the callback
	 * gets VD_ETIMEOUT even if servers are left. 0: 3000. */
	uint32_t query_timeout_ms;
	/* When this many queries are already pending in this vd_fwd_t the
	 * submit fails with VD_ELIMIT (and rejected_inflight moves).
	 * 0: no bound. */
	uint32_t max_inflight;
	/* CA bundle (PEM) for verifying tls:// servers; NULL: the system
	 * store. Must stay valid until the callback, like group. When it
	 * differs from the one in use, TLS connections opened under the
	 * old one are not reused and saved sessions are dropped. */
	const char *tls_ca_file;
} vd_fwd_query_t;

/* Called exactly once per submitted query, on the loop thread.
 * status 0: resp/len hold a validated response (possibly with a SERVFAIL
 * or REFUSED rcode when every server answered so), valid only during
 * the call. status VD_ETIMEOUT: every server timed out, or
 * query_timeout_ms passed. Other negative status: network errors (refused,
 * unreachable, a TLS handshake or certificate verification that failed:
 * -EPROTO) or -ECANCELED at close.
 * ede is the suggested Extended DNS Error code when status != 0
 * (VD_EDE_NO_REACHABLE_AUTHORITY or VD_EDE_NETWORK_ERROR). */
typedef void (*vd_fwd_cb)(void *arg, int status, int ede, const uint8_t *resp,
			  size_t len);

/* NULL on out of memory. */
vd_fwd_t *vd_fwd_new(uv_loop_t *loop);
/* Submits a query; cb is called later (never from inside this call).
 * Returns 0, or a negative error (then cb is never called): -EINVAL,
 * -ECANCELED while closing, -ENOMEM, VD_ELIMIT past q->max_inflight. */
int vd_fwd_submit(vd_fwd_t *f, const vd_fwd_query_t *q, vd_fwd_cb cb, void *arg);
/* Cancels every pending query (callbacks get -ECANCELED), closes all
 * handles; close_cb runs once every handle is closed, then the vd_fwd_t
 * is freed. */
void vd_fwd_close(vd_fwd_t *f, void (*close_cb)(void *arg), void *arg);
const vd_fwd_stats_t *vd_fwd_stats(const vd_fwd_t *f);
/* u's counters in f: 0, or -ENOENT when f has never used u (out is
 * then all zero and up). */
int vd_fwd_server_stats(const vd_fwd_t *f, const vd_upstream_t *u,
			vd_fwd_server_stats_t *out);
/* Upstream TCP and TLS connections open (or closing). */
size_t vd_fwd_conns(const vd_fwd_t *f);
/* Number of queries in flight. */
size_t vd_fwd_pending(const vd_fwd_t *f);
/* An observer of upstream traffic (query logs: dnstap FORWARDER_*
 * messages, and which server answered): called on the loop thread with
 * each attempt's query when it is sent (response false) and with each
 * response that matched its query, as the server sent it, before the
 * callback of vd_fwd_submit sees it (response true). pkt is valid only
 * during the call. fn must not block; NULL removes it. */
typedef void (*vd_fwd_tap_fn)(void *arg, const struct sockaddr *server, bool tcp,
			      bool response, const uint8_t *pkt, size_t len);
void vd_fwd_set_tap(vd_fwd_t *f, vd_fwd_tap_fn fn, void *arg);
/* Servers' state changes (backed off, recovered) logged at debug level
 * instead of as warnings, for a client whose queries are not the
 * clients' (the daemon's loop probes). Call before the first submit. */
void vd_fwd_set_quiet(vd_fwd_t *f, bool quiet);
/* Replaces the clock used for RTTs, back-off and deadlines (milliseconds,
 * monotonic); NULL restores vd_now_ms. For tests: timers still run on the
 * loop's own clock, for the durations this clock implies. */
void vd_fwd_set_clock(vd_fwd_t *f, uint64_t (*now_ms)(void *arg), void *arg);
