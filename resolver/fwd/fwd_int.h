/*
 * fwd private interface: the structures shared by the request state
 * machine (fwd.c), the per-server table with RTT, back-off and server
 * choice (fwd_sel.c), the UDP transport (fwd_io.c), the reused TCP and TLS
 * connections (fwd_conn.c), the OpenSSL glue (fwd_tls.c) and the upstream
 * message builder and validator (fwd_msg.c). Everything here runs on the
 * owning loop's thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <openssl/ssl.h>

#include "vpcdns/fwd.h"
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

/* Per-attempt timeout used when the caller passes 0. */
#define FWD_DEFAULT_TIMEOUT_MS 2000
/* Whole-query deadline used when the caller passes 0. */
#define FWD_DEFAULT_DEADLINE_MS 3000
/* Released requests kept for reuse per forwarder. */
#define FWD_POOL_MAX 128
/* Random source port tries before letting the kernel choose. */
#define FWD_BIND_TRIES 10
#define FWD_PORT_MIN 1024
/* Header + longest name + type/class + OPT RR. */
#define FWD_QUERY_MAX (VD_HDR_LEN + VD_NAME_MAX + 4 + 11)
#define FWD_RBUF_SIZE 65536

/* Server choice (see fwd.h). */
#define FWD_SRTT_INIT_MS 376	/* a server never measured (Unbound's) */
#define FWD_EXPLORE_PERMILLE 50 /* attempts sent to a random other one */
#define FWD_BACKOFF_MIN_MS 1000
#define FWD_BACKOFF_MAX_MS 120000
/* Server table: buckets, and how many entries before unused ones (no
 * request, no connection, idle for FWD_SERVER_FORGET_MS) are dropped. */
#define FWD_SERVER_BUCKETS 256
#define FWD_SERVERS_SOFT_MAX 1024
#define FWD_SERVER_FORGET_MS (10 * 60 * 1000)

/* Scrubbing: CNAME/DNAME chain names followed, zones (kept SOA/NS
 * owners) and NS/MX/SRV targets remembered, records judged per message
 * (a 64 KiB message holds at most 5,957 records of 11 bytes). */
#define FWD_SCRUB_CHAIN 16
#define FWD_SCRUB_ZONES 8
#define FWD_SCRUB_TARGETS 32
#define FWD_SCRUB_RRS 6144

/* Streams. */
#define FWD_CONN_IDLE_MS 10000
#define FWD_CONN_BUCKETS 64 /* requests on a connection, by ID */

enum fwd_sock_state {
	FWD_SOCK_NONE,	  /* no socket handle initialised */
	FWD_SOCK_OPEN,	  /* the current attempt's socket */
	FWD_SOCK_CLOSING, /* uv_close called, close callback pending */
};

/* How a response relates to the request (see vd_fwd_msg_check). */
enum fwd_verdict {
	FWD_RESP_OK,
	FWD_RESP_MISMATCH, /* not an answer to our query */
	FWD_RESP_MALFORMED,
};

typedef struct fwd_conn fwd_conn_t;

/* Scratch of vd_fwd_msg_scrub, one per forwarder. */
typedef struct fwd_scrub {
	uint8_t chain[FWD_SCRUB_CHAIN][VD_NAME_MAX];
	unsigned nchain;
	uint8_t zones[FWD_SCRUB_ZONES][VD_NAME_MAX];
	unsigned nzones;
	uint8_t targets[FWD_SCRUB_TARGETS][VD_NAME_MAX];
	unsigned ntargets;
	uint8_t keep[FWD_SCRUB_RRS];
	uint8_t out[FWD_RBUF_SIZE];
} fwd_scrub_t;

/* What fwd knows about one upstream server. Lives in f's table while a
 * request or a connection holds it (refs) and some time after. */
typedef struct fwd_server {
	struct fwd_server *hnext; /* hash chain */
	uint32_t hash;
	struct sockaddr_storage addr;
	bool tls;
	char *tls_name; /* malloc'd; NULL: verify the address */
	char *label;	/* malloc'd "tls://addr#name", for logs */
	/* level of the state-change lines (down, recovered) */
	vd_log_level_t state_log;
	unsigned refs;
	uint64_t last_used;

	/* RTT and health, in the forwarder's clock */
	uint32_t srtt; /* ms; FWD_SRTT_INIT_MS until measured */
	bool measured;
	unsigned fails;	    /* consecutive failures; 0: healthy */
	uint64_t failed_at; /* last failure counted */
	uint64_t backoff_until;
	bool probing; /* a request is probing it */

	/* counters, and the outage being logged (once when it starts, once
	 * when it ends, with counts: never per query) */
	vd_fwd_server_stats_t st;
	uint64_t down_since;		     /* forwarder clock */
	uint64_t down_timeouts, down_errors; /* during this outage */
	bool garbage_logged;		     /* until the next valid answer */

	/* stream transport */
	fwd_conn_t *conn;     /* connection new queries join */
	SSL_SESSION *session; /* last TLS session, for resumption */
	bool tls_logged;      /* a TLS failure was logged */
} fwd_server_t;

typedef struct fwd_req {
	vd_fwd_t *f;
	struct fwd_req *prev, *next; /* f->active; next is the pool link */
	vd_fwd_cb cb;
	void *arg;
	const vd_group_t *group;
	const char *tls_ca_file;
	uint32_t timeout_ms;
	uint64_t deadline; /* forwarder clock */

	/* the question, as the caller gave it */
	uint8_t qname[VD_NAME_MAX];
	size_t qname_len;
	uint16_t qtype, qclass;
	bool rd, cd, do_bit;
	bool use_0x20; /* the group's, at submit */

	/* the group's servers, each holding a reference */
	fwd_server_t *srv[VD_GROUP_MAX_SERVERS];
	size_t nsrv;
	uint64_t tried; /* bit i: srv[i] had an attempt */

	/* current attempt */
	fwd_server_t *cur;
	bool probe; /* cur->probing is ours */
	bool tcp;   /* a stream: TCP after TC=1, or TLS */
	bool edns;  /* query carries an OPT RR */
	bool formerr_retried;
	bool conn_retried;   /* retried after a broken connection */
	int deferred_err;    /* failure to report from timer_cb */
	uint64_t sent_at;    /* forwarder clock, for the RTT */
	uint32_t attempt_ms; /* this attempt's own timeout */
	uint16_t id;
	/* the name as this attempt sent it: with 0x20 (group->use_0x20)
	 * each letter's case is random, and a reply must repeat it */
	uint8_t sent_qname[VD_NAME_MAX];
	uint8_t query[FWD_QUERY_MAX];
	size_t qlen;

	/* on a stream connection */
	fwd_conn_t *conn;
	struct fwd_req *cprev, *cnext; /* the connection's bucket by ID */
	bool conn_sent;		       /* query written on it */
	bool conn_reused;	       /* the connection had answered before */

	/* outcome so far */
	bool done;	    /* callback invoked */
	bool start_pending; /* start attempt once socket closed */
	bool all_timeouts;
	int last_err;
	uint8_t *saved; /* last SERVFAIL/REFUSED/NOTIMP reply */
	size_t saved_len;

	/* handles: one timer for the request, one UDP socket per attempt */
	unsigned nhandles; /* initialised, close cb not yet run */
	bool timer_open;
	uv_timer_t timer;
	enum fwd_sock_state sock_state;
	union {
		uv_handle_t h;
		uv_udp_t udp;
	} sock;
	uv_udp_send_t send_req;
} fwd_req_t;

enum fwd_conn_state {
	FWD_CONN_CONNECTING,
	FWD_CONN_HANDSHAKE, /* TLS */
	FWD_CONN_READY,
	FWD_CONN_CLOSING,
};

/* One TCP or TLS connection to a server. Freed from the close callbacks
 * of its two handles. */
struct fwd_conn {
	vd_fwd_t *f;
	fwd_conn_t *prev, *next; /* f->conns */
	fwd_server_t *srv;	 /* holds a reference */
	enum fwd_conn_state state;
	bool tls;
	bool retired;	  /* srv->conn no longer points here */
	bool established; /* connected (and TLS handshake done) */
	bool tls_error;	  /* OpenSSL failed on it after that */
	unsigned nhandles;
	uv_tcp_t tcp;
	uv_timer_t idle;
	uv_connect_t connect_req;
	uint64_t answered; /* responses that matched a request */
	int broken_err;	   /* told to the requests when broken */

	/* requests attached, by ID */
	fwd_req_t *bucket[FWD_CONN_BUCKETS];
	size_t nreqs;

	/* response framing */
	uint8_t hdr[2];
	unsigned hdr_have;
	size_t need, have;
	uint8_t *frame; /* 65535 bytes */

	/* TLS: memory BIOs between OpenSSL and the socket */
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	unsigned ctx_gen; /* f->tls_gen it was made under */
};

struct vd_fwd {
	uv_loop_t *loop;
	vd_fwd_stats_t stats;
	fwd_req_t *active; /* not yet freed (pending or closing) */
	size_t npending;   /* callback not yet invoked */
	fwd_req_t *pool;
	size_t npool;
	bool closing;
	bool own_closed;
	uv_timer_t own;	   /* keeps close_cb asynchronous */
	vd_fwd_tap_fn tap; /* see vd_fwd_set_tap; NULL: none */
	bool quiet;	   /* see vd_fwd_set_quiet */
	void *tap_arg;
	void (*close_cb)(void *arg);
	void *close_arg;

	/* sockets that could not be opened: logged at most every
	 * FWD_SOCK_LOG_MS, with the count of those not logged */
	uint64_t sock_fail_logged_ms;
	uint64_t sock_fail_unlogged;

	/* clock, choice */
	uint64_t (*now_fn)(void *arg);
	void *now_arg;
	unsigned explore_permille; /* tests set 0 for a fixed order */
	uint32_t conn_idle_ms;	   /* tests shorten it */

	/* servers and connections */
	fwd_server_t *servers[FWD_SERVER_BUCKETS];
	size_t nservers;
	fwd_conn_t *conns;
	size_t nconns; /* not yet freed */

	/* TLS context for the CA file in use */
	SSL_CTX *tls_ctx;
	char *tls_ca;	    /* malloc'd; NULL: system store */
	bool tls_ctx_ready; /* tls_ctx/tls_ca describe a try */
	unsigned tls_gen;   /* bumped when the context changes */

	/* Loop-wide scratch: the loop is single-threaded and each callback
	 * consumes the data before returning. */
	vd_rr_t rr;
	uint8_t rbuf[FWD_RBUF_SIZE];
	fwd_scrub_t scrub;
};

/* fwd.c */
uint64_t vd_fwd_now(const vd_fwd_t *f);

/* fwd_msg.c */
/* Builds r->query for the current attempt with a new random ID. */
void vd_fwd_msg_build(fwd_req_t *r);
/* Checks a response against r's query: ID, QR, opcode, question, and that
 * every RR parses. */
enum fwd_verdict vd_fwd_msg_check(fwd_req_t *r, const uint8_t *p, size_t len);
/* Removes from a response that vd_fwd_msg_check accepted every record
 * that does not belong to r's question (see fwd_msg.c), counting them in
 * f->stats.scrubbed. *out is p itself when nothing goes, else a fresh
 * message in f->scrub.out (valid until the next call). */
void vd_fwd_msg_scrub(fwd_req_t *r, const uint8_t *p, size_t len, const uint8_t **out,
		      size_t *outlen);
/* Length of a valid wire name, or 0 when name is not one. */
size_t vd_fwd_name_check(const uint8_t *name);

/* fwd_sel.c: the server table */
/* The entry for u, created when new; takes a reference. NULL: no memory. */
fwd_server_t *vd_fwd_server_get(vd_fwd_t *f, const vd_upstream_t *u);
void vd_fwd_server_put(vd_fwd_t *f, fwd_server_t *s);
/* Frees every entry (at close, once no connection is left). */
void vd_fwd_servers_free(vd_fwd_t *f);

/* fwd_sel.c: server choice. Picks among srv[0..n) those whose bit in
 * tried is clear: a server whose back-off has ended and that nobody is
 * probing (*probe set), else the lowest SRTT among healthy ones (now and
 * then, *explored set, another healthy one at random), else the one that
 * failed longest ago. Returns the index, or -1 when every server was
 * tried. */
int vd_fwd_sel_pick(const vd_fwd_t *f, fwd_server_t *const *srv, size_t n,
		    uint64_t tried, uint64_t now, bool *probe, bool *explored);
/* An answer came back after rtt_ms (UINT32_MAX: no RTT sample): the
 * server is healthy. */
void vd_fwd_sel_success(fwd_server_t *s, uint64_t now, uint32_t rtt_ms);
/* A timeout (timeout_ms > 0, which also counts as an RTT sample) or a
 * network error of an attempt sent at sent_at. Failures of attempts sent
 * before the last counted failure belong to the same outage and do not
 * lengthen the back-off. */
void vd_fwd_sel_failure(fwd_server_t *s, uint64_t now, uint64_t sent_at,
			uint32_t timeout_ms, bool was_probe);
/* Counts a timeout (timeout_ms > 0) or a network error (err) of
 * s as vd_fwd_sel_failure does, and logs the server going down when it
 * does. */
void vd_fwd_sel_down(fwd_server_t *s, uint64_t now, uint64_t sent_at,
		     uint32_t timeout_ms, bool was_probe, int err);
/* Counts an answer (vd_fwd_sel_success) and logs a recovery. */
void vd_fwd_sel_up(fwd_server_t *s, uint64_t now, uint32_t rtt_ms);
/* A response from s that did not parse: counted, logged once until s
 * answers validly again. */
void vd_fwd_sel_garbage(fwd_server_t *s);
/* The back-off after n consecutive failures. */
uint32_t vd_fwd_sel_backoff_ms(unsigned n);

/* fwd_io.c */
/* Opens the attempt's UDP socket and sends the query. A negative return
 * means the attempt failed at once (the socket may be open and must be
 * closed). */
int vd_fwd_io_udp_start(fwd_req_t *r);

/* fwd_conn.c */
/* Sends r's query on r->cur's connection, dialling one when there is
 * none. Negative: the attempt failed at once (r is not attached). */
int vd_fwd_conn_send(fwd_req_t *r);
/* Takes r off its connection (its attempt is over); no-op when none. */
void vd_fwd_conn_detach(fwd_req_t *r);
/* Closes every connection (vd_fwd_close). */
void vd_fwd_conn_close_all(vd_fwd_t *f);
/* Stops new queries from joining TLS connections made under an older
 * TLS context. */
void vd_fwd_conn_retire_tls(vd_fwd_t *f);

/* fwd_tls.c */
/* Makes f->tls_ctx trust ca_file (NULL: the system store), building a new
 * context when it differs from the one in use. 0 or a negative error
 * (logged once per CA file). */
int vd_fwd_tls_ctx(vd_fwd_t *f, const char *ca_file);
/* Creates c->ssl for c->srv: SNI and name or address verification, the
 * saved session, memory BIOs. 0 or -ENOMEM. */
int vd_fwd_tls_new(fwd_conn_t *c);
/* Runs the handshake on whatever arrived: 1 done, 0 waiting for the
 * server, -EPROTO failed (logged once per server until a success). */
int vd_fwd_tls_handshake(fwd_conn_t *c);
/* The server closed the connection during the handshake: counted and
 * logged like a failed handshake. */
void vd_fwd_tls_closed(fwd_conn_t *c);
/* Before c->ssl is freed: unless TLS itself failed on an established
 * connection, its session stays resumable (OpenSSL would otherwise drop
 * every session of a connection that ended without a close_notify, which
 * is how DNS servers often close idle ones). */
void vd_fwd_tls_end(fwd_conn_t *c);
/* Queues a close_notify (sent by the next flush). */
void vd_fwd_tls_notify_close(fwd_conn_t *c);
/* Encrypts p into the write BIO. 0 or -EPROTO. */
int vd_fwd_tls_write(fwd_conn_t *c, const uint8_t *p, size_t len);
void vd_fwd_tls_free_ctx(vd_fwd_t *f);

/* fwd_conn.c: what fwd_tls.c hands back */
/* Sends whatever OpenSSL queued in c->wbio. 0 or a negative error. */
int vd_fwd_conn_flush_tls(fwd_conn_t *c);

/* fwd.c: what the transports report */
/* A response arrived on the current attempt (UDP datagram or stream
 * frame). */
void vd_fwd_on_response(fwd_req_t *r, const uint8_t *p, size_t len);
/* The current attempt failed with a network error. */
void vd_fwd_on_net_error(fwd_req_t *r, int err);
/* r's connection broke (r is already detached). reused: it had answered
 * queries before r joined, so the server probably just closed it. */
void vd_fwd_on_conn_broken(fwd_req_t *r, int err, bool reused);
/* Close callback of the attempt's UDP socket. */
void vd_fwd_on_sock_closed(uv_handle_t *h);
/* A connection was freed: the forwarder may finish closing. */
void vd_fwd_on_conn_freed(vd_fwd_t *f);
