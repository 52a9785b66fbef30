/*
 * net: the listeners of one event loop. UDP sockets receive into one
 * per-loop buffer and answer from another (no allocation per datagram);
 * TCP connections follow RFC 7766: 2-byte length framing across partial
 * reads, pipelined queries answered as they complete (possibly out of
 * order), an idle timeout, and a bound on open connections. Every query
 * goes through vd_query_handle against the snapshot installed with
 * vd_net_set_snap. Depends on query and libuv.
 *
 * Threading: a vd_net_t belongs to one loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/conf.h"
#include "vpcdns/query.h"

/* libuv's loop, declared here so that including this header does not
 * pull <uv.h> into every module that includes query.h. */
typedef struct uv_loop_s uv_loop_t;

typedef struct vd_net vd_net_t;

typedef struct vd_net_stats {
	uint64_t udp_recv, udp_sent, udp_send_errors;
	/* Replies that found the socket buffer full: bytes queued now (copies
	 * and their requests, at most 256 KiB per worker), and replies dropped
	 * because the queue was at that bound. */
	uint64_t udp_queued, udp_queue_dropped;
	uint64_t tcp_accepted, tcp_rejected, tcp_idle_closed, tcp_queries;
	uint64_t tcp_open;
	/* Idle connections closed to admit a new one (the table was full);
	 * connections refused by tcp_max_connections_per_client. */
	uint64_t tcp_evicted, tcp_client_rejected;
	/* Closed because a message did not arrive in full, or queued
	 * replies made no progress, within tcp_io_timeout. */
	uint64_t tcp_read_timeouts, tcp_write_timeouts;
	/* Times reading stopped because a client did not read its replies. */
	uint64_t tcp_paused;
} vd_net_stats_t;

/* qctx must outlive the vd_net_t. NULL on out of memory. */
vd_net_t *vd_net_new(uv_loop_t *loop, vd_query_ctx_t *qctx);
/* Installs the snapshot new queries are answered from; the vd_net_t takes
 * its own reference and drops the previous one. TCP limits are read from
 * the current snapshot when a connection is accepted or goes idle. */
void vd_net_set_snap(vd_net_t *n, vd_snap_t *snap);
/* With on, listeners are opened with SO_REUSEPORT so that several workers
 * (each with its own vd_net_t and loop) serve the same addresses and the
 * kernel spreads clients across them. Call before vd_net_listen. */
void vd_net_set_reuseport(vd_net_t *n, bool on);
/* Opens UDP and TCP listeners on addr. Returns 0 or a libuv error. */
int vd_net_listen(vd_net_t *n, const struct sockaddr *addr);
/* Takes no new queries, for a clean shutdown: UDP sockets stop reading
 * (they stay open so that the replies of queries in flight still go
 * out), TCP listeners close, and each TCP connection stops reading and
 * ends once the replies it owes are written (or tcp_io_timeout passes).
 * vd_net_conns then counts down to 0. */
void vd_net_drain(vd_net_t *n);
/* TCP connections open (not yet closed). */
size_t vd_net_conns(const vd_net_t *n);
/* Closes listeners and connections; close_cb runs when every handle is
 * closed, then the vd_net_t is freed (with its snapshot reference). */
void vd_net_close(vd_net_t *n, void (*close_cb)(void *arg), void *arg);
const vd_net_stats_t *vd_net_stats(const vd_net_t *n);
