/*
 * fwd private interface: the request and forwarder structures shared by the
 * request state machine (fwd.c), the UDP/TCP transports (fwd_io.c) and the
 * upstream message builder and validator (fwd_msg.c). Everything here runs
 * on the owning loop's thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "vpcdns/fwd.h"
#include "vpcdns/wire.h"

/* Per-attempt timeout used when the caller passes 0. */
#define FWD_DEFAULT_TIMEOUT_MS 2000
/* Released requests kept for reuse per forwarder. */
#define FWD_POOL_MAX 128
/* Random source port tries before letting the kernel choose. */
#define FWD_BIND_TRIES 10
#define FWD_PORT_MIN 1024
/* Header + longest name + type/class + OPT RR. */
#define FWD_QUERY_MAX (VD_HDR_LEN + VD_NAME_MAX + 4 + 11)
#define FWD_RBUF_SIZE 65536

enum fwd_sock_state {
	FWD_SOCK_NONE,    /* no socket handle initialised */
	FWD_SOCK_OPEN,    /* the current attempt's socket */
	FWD_SOCK_CLOSING, /* uv_close called, close callback pending */
};

/* How a response relates to the request (see vd_fwd_msg_check). */
enum fwd_verdict {
	FWD_RESP_OK,
	FWD_RESP_MISMATCH,  /* not an answer to our query */
	FWD_RESP_MALFORMED,
};

typedef struct fwd_req {
	vd_fwd_t *f;
	struct fwd_req *prev, *next;    /* f->active; next is the pool link */
	vd_fwd_cb cb;
	void *arg;
	const vd_group_t *group;
	uint32_t timeout_ms;

	/* the question, as the caller gave it */
	uint8_t qname[VD_NAME_MAX];
	size_t qname_len;
	uint16_t qtype, qclass;
	bool rd, cd, do_bit;

	/* current attempt */
	size_t si;                      /* index in group->servers */
	bool tcp;                       /* transport of this attempt */
	bool edns;                      /* query carries an OPT RR */
	bool formerr_retried;
	int deferred_err;               /* failure to report from timer_cb */
	uint16_t id;
	uint8_t query[FWD_QUERY_MAX];
	size_t qlen;

	/* outcome so far */
	bool done;                      /* callback invoked */
	bool start_pending;             /* start attempt once socket closed */
	bool all_timeouts;
	int last_err;
	uint8_t *saved;                 /* last SERVFAIL/REFUSED/NOTIMP reply */
	size_t saved_len;

	/* handles: one timer for the request, one socket per attempt */
	unsigned nhandles;              /* initialised, close cb not yet run */
	bool timer_open;
	uv_timer_t timer;
	enum fwd_sock_state sock_state;
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_udp_t udp;
		uv_tcp_t tcp;
	} sock;
	uv_udp_send_t send_req;
	uv_connect_t conn_req;
	uv_write_t write_req;
	uint8_t tcp_len[2];             /* outgoing length prefix */

	/* TCP response framing */
	uint8_t tcp_hdr[2];
	unsigned tcp_hdr_have;
	uint8_t *tcp_buf;               /* FWD_RBUF_SIZE bytes, on first use */
	size_t tcp_need, tcp_have;
} fwd_req_t;

struct vd_fwd {
	uv_loop_t *loop;
	vd_fwd_stats_t stats;
	fwd_req_t *active;              /* not yet freed (pending or closing) */
	size_t npending;                /* callback not yet invoked */
	fwd_req_t *pool;
	size_t npool;
	bool closing;
	bool own_closed;
	uv_timer_t own;                 /* keeps close_cb asynchronous */
	void (*close_cb)(void *arg);
	void *close_arg;
	/* Loop-wide scratch: the loop is single-threaded and each callback
	 * consumes the data before returning. */
	vd_rr_t rr;
	uint8_t rbuf[FWD_RBUF_SIZE];
};

/* fwd_msg.c */
/* Builds r->query for the current attempt with a new random ID. */
void vd_fwd_msg_build(fwd_req_t *r);
/* Checks a response against r's query: ID, QR, opcode, question, and that
 * every RR parses. */
enum fwd_verdict vd_fwd_msg_check(fwd_req_t *r, const uint8_t *p, size_t len);
/* Length of a valid wire name, or 0 when name is not one. */
size_t vd_fwd_name_check(const uint8_t *name);

/* fwd_io.c */
/* Opens the attempt's socket and sends the query. A negative return means
 * the attempt failed at once (the socket may be open and must be closed). */
int vd_fwd_io_udp_start(fwd_req_t *r);
int vd_fwd_io_tcp_start(fwd_req_t *r);

/* fwd.c: what the transports report */
/* A response arrived on the current attempt (UDP datagram or TCP frame). */
void vd_fwd_on_response(fwd_req_t *r, const uint8_t *p, size_t len);
/* The current attempt failed with a network error. */
void vd_fwd_on_net_error(fwd_req_t *r, int err);
/* Close callback of the attempt's socket. */
void vd_fwd_on_sock_closed(uv_handle_t *h);
