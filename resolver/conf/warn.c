/*
 * Warnings for --check: configurations that load and serve but are likely
 * mistakes. An open resolver (a view for every address on a listen
 * address other clients can reach) and an upstream that is this host on
 * the port of a wildcard listener (every query forwarded there loops back
 * to us). Warnings go to their own list as "file:line: warning: ..." and
 * never make a load fail; reloads do not look for them.
 */
#include "conf_int.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void warn(cbuild_t *b, const char *file, unsigned long line, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
static void warn(cbuild_t *b, const char *file, unsigned long line, const char *fmt,
		 ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vd_errlist_add(b->warns, file ? file : b->file, line, "warning: %s", msg);
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(a);
	}
	return false;
}

static bool is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

static uint16_t port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void vd_conf_warn_open(cbuild_t *b)
{
	const vd_server_conf_t *s = &b->snap->server;
	const struct sockaddr *open = NULL;
	char addr[64];

	if (!b->warns)
		return;
	for (size_t i = 0; i < s->nlisten && !open; i++)
		if (!is_loopback((const struct sockaddr *)&s->listen[i]))
			open = (const struct sockaddr *)&s->listen[i];
	if (!open)
		return;
	vd_addr_fmt(open, addr, sizeof(addr));
	for (size_t i = 0; i < b->nclients; i++) {
		const client_ref_t *c = &b->clients[i];
		if (c->cidr.prefix != 0)
			continue;
		warn(b, c->file, c->line,
		     "view %s is for every %s address (%s) and listens on %s: an "
		     "open resolver that anyone who reaches it can use",
		     vd_view_name(b->snap->views[c->view]),
		     c->cidr.family == AF_INET ? "IPv4" : "IPv6",
		     c->cidr.family == AF_INET ? "0.0.0.0/0" : "::/0", addr);
	}
}

static void read_ifaddrs(cbuild_t *b)
{
	struct ifaddrs *list = NULL;
	size_t n = 0;

	b->ifaddrs_read = true;
	if (getifaddrs(&list) < 0)
		return;
	for (struct ifaddrs *i = list; i; i = i->ifa_next)
		n += i->ifa_addr && (i->ifa_addr->sa_family == AF_INET ||
				     i->ifa_addr->sa_family == AF_INET6);
	b->ifaddrs = calloc(n ? n : 1, sizeof(*b->ifaddrs));
	if (!b->ifaddrs) {
		freeifaddrs(list);
		vd_conf_nomem(b);
		return;
	}
	for (struct ifaddrs *i = list; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		memcpy(&b->ifaddrs[b->nifaddrs++], i->ifa_addr,
		       vd_addr_len(i->ifa_addr));
	}
	freeifaddrs(list);
}

/* Same family and address, ports aside (scope IDs aside too: a link-local
 * address of ours is ours on any interface). */
static bool same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

void vd_conf_warn_upstream(cbuild_t *b, const vd_group_t *g, const vd_upstream_t *u,
			   unsigned long line)
{
	const vd_server_conf_t *s = &b->snap->server;
	const struct sockaddr *ua = (const struct sockaddr *)&u->addr;
	const struct sockaddr *wild = NULL;
	char addr[64];

	if (!b->warns)
		return;
	for (size_t i = 0; i < s->nlisten && !wild; i++) {
		const struct sockaddr *l = (const struct sockaddr *)&s->listen[i];
		/* "::" receives IPv4 too unless the system makes it v6-only. */
		if (is_wildcard(l) && port_of(l) == port_of(ua) &&
		    (l->sa_family == ua->sa_family || l->sa_family == AF_INET6))
			wild = l;
	}
	if (!wild)
		return;
	if (!b->ifaddrs_read)
		read_ifaddrs(b);
	for (size_t i = 0; i < b->nifaddrs; i++) {
		if (!same_host((const struct sockaddr *)&b->ifaddrs[i], ua))
			continue;
		vd_addr_fmt(wild, addr, sizeof(addr));
		warn(b, NULL, line,
		     "upstreams.%s: '%s' is an address of this host and we listen "
		     "on %s: queries forwarded there come back to us (a "
		     "forwarding loop)",
		     g->name, u->text ? u->text : "?", addr);
		return;
	}
}

void vd_conf_warn_free(cbuild_t *b)
{
	free(b->ifaddrs);
	b->ifaddrs = NULL;
	b->nifaddrs = 0;
}
