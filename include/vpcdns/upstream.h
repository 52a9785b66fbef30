/*
 * upstream: the types that describe upstream servers and groups, owned by
 * fwd (which queries them) and filled in by conf (which parses them from
 * the "upstreams" section into a snapshot). Types and constants only, no
 * functions, so conf can build groups without linking fwd and fwd can use
 * them without linking conf.
 *
 * Ownership: everything a vd_group_t points to lives in the arena of the
 * snapshot that holds it; fwd reads it only while the submitter holds a
 * reference to that snapshot (see vd_fwd_query_t).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Default port of a DNS-over-TLS upstream (RFC 7858). */
#define VD_TLS_PORT 853
/* Servers in one group at most (fwd keeps a per-query bitmap of them). */
#define VD_GROUP_MAX_SERVERS 64

/* One upstream server: "192.0.2.1", "192.0.2.1:5300", "[2001:db8::1]"
 * (UDP, TCP after TC=1), or "tls://1.1.1.1:853#cloudflare-dns.com" (DNS
 * over TLS only). Everything lives in the snapshot arena. */
typedef struct vd_upstream {
	struct sockaddr_storage addr;
	const char *text; /* as written in the config, for logs */
	bool tls;	  /* DNS over TLS */
	/* TLS only: the name sent as SNI and verified against the
	 * certificate; NULL: no SNI, the address is verified against the
	 * certificate's IP SANs instead. */
	const char *tls_name;
} vd_upstream_t;

/* A named group of upstream servers. fwd prefers the one with the lowest
 * smoothed RTT and fails over to the others (see fwd.h). */
typedef struct vd_group {
	const char *name;
	int index; /* position in snap->groups */
	vd_upstream_t *servers;
	size_t nservers;
	/* Identity for the cache: a hash of the name and every server (its
	 * address and transport). Cached answers are keyed by it, so views
	 * forwarding to the same group share them, other groups never do,
	 * and a group whose servers change on reload starts afresh. */
	uint64_t cache_id;
	/* Randomise the case of query names sent to these servers (0x20)
	 * and accept only replies that repeat it exactly. Off for servers
	 * that do not echo the question as sent. Default true. */
	bool use_0x20;
} vd_group_t;
