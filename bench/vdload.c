/*
 * vdload: a small UDP load client for the benchmarks in bench/. It reads a
 * query file in dnsperf's format ("name TYPE" per line), sends the queries
 * over K UDP sockets in batches (sendmmsg/recvmmsg), either as fast as the
 * server answers with a bounded number outstanding (closed loop, -o) or at
 * a fixed rate paced by the clock (open loop, -Q), for -l seconds. Answers
 * are matched by socket, ID and question. A query with no answer -t
 * seconds after it was sent is lost; after the sending ends (at -l, or
 * early on SIGTERM or SIGINT) the client waits for the last ones the same
 * way, so sent = answered + lost. Prints
 * one line of key=value pairs. Memory is allocated once at start (the
 * queries, 64 Ki slots per socket, the batch buffers) and never during the
 * run. Linux only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 64
#define MAX_BATCH 256
#define RX_SIZE 4096
#define QMAX 300 /* header + name + type + class */
#define NSLOT 65536

struct opts {
	const char *server, *bind, *file;
	int port, socks, batch;
	double secs, timeout;
	uint64_t qps;	 /* 0: closed loop */
	uint64_t outmax; /* closed loop: queries outstanding at most */
	uint64_t maxq;	 /* queries read from the file at most */
};

struct slot {
	uint64_t sent_ns;
	uint32_t q;
	uint32_t used;
};

struct sock {
	int fd;
	uint64_t head, tail; /* next counter to send; oldest possibly in flight */
	struct slot *slots;  /* NSLOT, indexed by ID = counter & 0xffff */
	unsigned char *tx, *rx;
	struct mmsghdr *tmsg, *rmsg;
	struct iovec *tiov, *riov;
	struct sockaddr_in *rname;
};

struct run {
	struct opts o;
	struct sockaddr_in to;
	unsigned char *wire; /* the queries in wire form, one after another */
	uint64_t *woff;	     /* where query i starts in wire */
	uint16_t *wlen;
	uint64_t nq, cursor;
	struct sock s[MAX_SOCKS];
	uint64_t sent, answered, lost, rcode_err, inflight;
	uint64_t hist[1024 + 21 * 64];
	uint64_t max_us;
};

#define NBUCKET (1024 + 21 * 64)

static volatile sig_atomic_t stop_early;

static void on_signal(int sig)
{
	(void)sig;
	stop_early = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Microseconds to a bucket: exact below 1024 us, then 64 per power of two
 * (within 1.6 %). */
static unsigned bucket(uint64_t us)
{
	if (us < 1024)
		return (unsigned)us;
	unsigned lg = 63u - (unsigned)__builtin_clzll(us);
	if (lg > 30)
		return NBUCKET - 1;
	return 1024 + (lg - 10) * 64 + (unsigned)((us >> (lg - 6)) & 63);
}

static uint64_t bucket_value(unsigned b)
{
	if (b < 1024)
		return b;
	unsigned lg = 10 + (b - 1024) / 64, m = (b - 1024) % 64;
	return ((uint64_t)1 << lg) + ((uint64_t)m << (lg - 6));
}

static uint64_t percentile(const struct run *r, double p)
{
	if (!r->answered)
		return 0;
	uint64_t rank = (uint64_t)(p * (double)r->answered + 0.999999), acc = 0;
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < NBUCKET; b++) {
		acc += r->hist[b];
		if (acc >= rank)
			return bucket_value(b);
	}
	return r->max_us;
}

static int qtype_of(const char *t)
{
	static const struct {
		const char *n;
		int v;
	} types[] = { { "A", 1 },    { "NS", 2 },  { "CNAME", 5 },   { "SOA", 6 },
		      { "PTR", 12 }, { "MX", 15 }, { "TXT", 16 },    { "AAAA", 28 },
		      { "SRV", 33 }, { "DS", 43 }, { "DNSKEY", 48 }, { "HTTPS", 65 },
		      { "ANY", 255 } };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcasecmp(t, types[i].n))
			return types[i].v;
	if (!strncasecmp(t, "TYPE", 4) && t[4]) {
		char *end;
		long v = strtol(t + 4, &end, 10);
		if (!*end && v > 0 && v < 65536)
			return (int)v;
	}
	return -1;
}

/* One query in wire form (ID 0, RD set) at out; returns its length or -1. */
static int encode(const char *name, int type, unsigned char *out)
{
	unsigned char *p = out + 12;
	memset(out, 0, 12);
	out[2] = 0x01; /* RD */
	out[5] = 1;    /* QDCOUNT */
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && name[j] != '.')
			j++;
		if (j == i || j - i > 63 || (size_t)(p - out) + (j - i) + 1 > 12 + 254)
			return -1;
		*p++ = (unsigned char)(j - i);
		memcpy(p, name + i, j - i);
		p += j - i;
		i = j + 1;
	}
	*p++ = 0;
	*p++ = (unsigned char)(type >> 8);
	*p++ = (unsigned char)type;
	*p++ = 0;
	*p++ = 1; /* IN */
	return (int)(p - out);
}

static int read_queries(struct run *r)
{
	FILE *f = fopen(r->o.file, "r");
	if (!f) {
		fprintf(stderr, "vdload: %s: %s\n", r->o.file, strerror(errno));
		return -1;
	}
	char line[1024];
	uint64_t lineno = 0, cap = 0, bytes = 0, bcap = 0;
	int rc = -1;
	while (r->nq < r->o.maxq && fgets(line, sizeof(line), f)) {
		lineno++;
		char name[512], type[32];
		if (line[0] == '#' || sscanf(line, "%511s %31s", name, type) < 1)
			continue;
		if (sscanf(line, "%511s %31s", name, type) < 2)
			strcpy(type, "A");
		int t = qtype_of(type);
		if (t < 0) {
			fprintf(stderr, "vdload: %s:%llu: unknown type %s\n", r->o.file,
				(unsigned long long)lineno, type);
			goto out;
		}
		if (r->nq == cap) {
			cap = cap ? cap * 2 : 1024;
			uint64_t *o = realloc(r->woff, cap * sizeof(*o));
			if (!o)
				goto oom;
			r->woff = o;
			uint16_t *l = realloc(r->wlen, cap * sizeof(*l));
			if (!l)
				goto oom;
			r->wlen = l;
		}
		if (bytes + QMAX > bcap) {
			bcap = bcap ? bcap * 2 : 65536;
			unsigned char *w = realloc(r->wire, bcap);
			if (!w)
				goto oom;
			r->wire = w;
		}
		int len = encode(name, t, r->wire + bytes);
		if (len < 0) {
			fprintf(stderr, "vdload: %s:%llu: bad name %s\n", r->o.file,
				(unsigned long long)lineno, name);
			goto out;
		}
		r->woff[r->nq] = bytes;
		r->wlen[r->nq++] = (uint16_t)len;
		bytes += (uint64_t)len;
	}
	if (!r->nq) {
		fprintf(stderr, "vdload: %s: no queries\n", r->o.file);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "vdload: out of memory\n");
out:
	fclose(f);
	return rc;
}

static int open_sock(struct run *r, struct sock *s)
{
	int b = r->o.batch;
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	int sz = 4 << 20;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (r->o.bind) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		if (inet_pton(AF_INET, r->o.bind, &a.sin_addr) != 1 ||
		    bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	}
	s->slots = calloc(NSLOT, sizeof(*s->slots));
	s->tx = malloc((size_t)b * QMAX);
	s->rx = malloc((size_t)b * RX_SIZE);
	s->tmsg = calloc((size_t)b, sizeof(*s->tmsg));
	s->rmsg = calloc((size_t)b, sizeof(*s->rmsg));
	s->tiov = calloc((size_t)b, sizeof(*s->tiov));
	s->riov = calloc((size_t)b, sizeof(*s->riov));
	s->rname = calloc((size_t)b, sizeof(*s->rname));
	if (!s->slots || !s->tx || !s->rx || !s->tmsg || !s->rmsg || !s->tiov ||
	    !s->riov || !s->rname)
		return -1;
	for (int i = 0; i < b; i++) {
		s->tiov[i].iov_base = s->tx + (size_t)i * QMAX;
		s->tmsg[i].msg_hdr.msg_iov = &s->tiov[i];
		s->tmsg[i].msg_hdr.msg_iovlen = 1;
		s->tmsg[i].msg_hdr.msg_name = &r->to;
		s->tmsg[i].msg_hdr.msg_namelen = sizeof(r->to);
		s->riov[i].iov_base = s->rx + (size_t)i * RX_SIZE;
		s->riov[i].iov_len = RX_SIZE;
		s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
		s->rmsg[i].msg_hdr.msg_iovlen = 1;
		s->rmsg[i].msg_hdr.msg_name = &s->rname[i];
	}
	return 0;
}

static void close_sock(struct sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->slots);
	free(s->tx);
	free(s->rx);
	free(s->tmsg);
	free(s->rmsg);
	free(s->tiov);
	free(s->riov);
	free(s->rname);
}

/* The oldest slot of s is given up: no answer came in time. */
static void expire(struct run *r, struct sock *s, uint64_t now, int force)
{
	while (s->tail < s->head) {
		struct slot *sl = &s->slots[s->tail & 0xffff];
		if (sl->used) {
			if (!force &&
			    now - sl->sent_ns < (uint64_t)(r->o.timeout * 1e9))
				break;
			sl->used = 0;
			r->lost++;
			r->inflight--;
			force = 0;
		}
		s->tail++;
	}
}

/* Sends up to n queries on s; returns how many went out, -1 on a hard
 * error. Queries the kernel did not take are taken back. */
static int send_batch(struct run *r, struct sock *s, int n)
{
	uint64_t now = now_ns(), cur0 = r->cursor;
	for (int i = 0; i < n; i++) {
		if (s->head - s->tail == NSLOT)
			expire(r, s, now, 1);
		uint16_t id = (uint16_t)(s->head & 0xffff);
		uint64_t q = r->cursor++ % r->nq;
		unsigned char *p = s->tx + (size_t)i * QMAX;
		memcpy(p, r->wire + r->woff[q], r->wlen[q]);
		p[0] = (unsigned char)(id >> 8);
		p[1] = (unsigned char)id;
		s->tiov[i].iov_len = r->wlen[q];
		s->slots[id] =
			(struct slot){ .sent_ns = now, .q = (uint32_t)q, .used = 1 };
		s->head++;
	}
	int done = sendmmsg(s->fd, s->tmsg, (unsigned)n, 0);
	if (done < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS &&
		    errno != EINTR) {
			perror("vdload: sendmmsg");
			return -1;
		}
		done = 0;
	}
	for (int i = n - 1; i >= done; i--) /* give back what was not sent */
		s->slots[--s->head & 0xffff].used = 0;
	r->cursor = cur0 + (uint64_t)done;
	r->sent += (uint64_t)done;
	r->inflight += (uint64_t)done;
	return done;
}

static void take_answer(struct run *r, struct sock *s, const unsigned char *p,
			size_t len, const struct sockaddr_in *from, uint64_t now)
{
	if (len < 12 || !(p[2] & 0x80) || from->sin_port != r->to.sin_port ||
	    from->sin_addr.s_addr != r->to.sin_addr.s_addr)
		return;
	struct slot *sl = &s->slots[(p[0] << 8) | p[1]];
	if (!sl->used)
		return; /* late, duplicate or stray */
	const unsigned char *qw = r->wire + r->woff[sl->q];
	size_t ql = r->wlen[sl->q];
	if (len < ql || memcmp(p + 4, qw + 4, 2) || memcmp(p + 12, qw + 12, ql - 12))
		return; /* not this question */
	sl->used = 0;
	r->inflight--;
	r->answered++;
	if (p[3] & 0x0f)
		r->rcode_err++;
	uint64_t us = (now - sl->sent_ns) / 1000;
	r->hist[bucket(us)]++;
	if (us > r->max_us)
		r->max_us = us;
}

/* Reads what s has; returns the number of datagrams. */
static int drain(struct run *r, struct sock *s)
{
	int total = 0;
	for (;;) {
		for (int i = 0; i < r->o.batch; i++)
			s->rmsg[i].msg_hdr.msg_namelen = sizeof(s->rname[i]);
		int n = recvmmsg(s->fd, s->rmsg, (unsigned)r->o.batch, MSG_DONTWAIT,
				 NULL);
		if (n <= 0)
			return total;
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++)
			take_answer(r, s, s->rx + (size_t)i * RX_SIZE,
				    s->rmsg[i].msg_len, &s->rname[i], now);
		total += n;
		if (n < r->o.batch)
			return total;
	}
}

static int loop(struct run *r, double *elapsed)
{
	struct pollfd pfd[MAX_SOCKS];
	int k = r->o.socks, next = 0;
	uint64_t start = now_ns(), stop = start + (uint64_t)(r->o.secs * 1e9);
	uint64_t end = 0; /* when the sending ended */
	for (int i = 0; i < k; i++)
		pfd[i] = (struct pollfd){ .fd = r->s[i].fd, .events = POLLIN };
	for (;;) {
		uint64_t now = now_ns();
		if (stop_early && stop > now)
			stop = now;
		int sending = now < stop, wait_ns = 1000000;
		if (!sending && !end)
			end = now;
		if (sending) {
			uint64_t want;
			if (r->o.qps) {
				uint64_t due = (uint64_t)((double)(now - start) *
							  (double)r->o.qps / 1e9) +
					       1;
				want = due > r->sent ? due - r->sent : 0;
				if (!want) {
					double at = (double)(r->sent) * 1e9 /
						    (double)r->o.qps;
					double w = at - (double)(now - start);
					wait_ns = w < 1e6 ? (int)(w > 0 ? w : 0)
							  : 1000000;
				}
			} else {
				want = r->inflight < r->o.outmax
					       ? r->o.outmax - r->inflight
					       : 0;
			}
			while (want) {
				int n = want > (uint64_t)r->o.batch ? r->o.batch
								    : (int)want;
				int done = send_batch(r, &r->s[next], n);
				next = (next + 1) % k;
				if (done < 0)
					return -1;
				if (done < n) {
					wait_ns = 0;
					break;
				}
				want -= (uint64_t)done;
			}
		}
		int got = 0;
		for (int i = 0; i < k; i++)
			got += drain(r, &r->s[i]);
		now = now_ns();
		for (int i = 0; i < k; i++)
			expire(r, &r->s[i], now, 0);
		if (!sending && !r->inflight)
			break;
		if (!got && wait_ns > 0) {
			struct timespec ts = { 0, wait_ns };
			if (ppoll(pfd, (nfds_t)k, &ts, NULL) < 0 && errno != EINTR) {
				perror("vdload: ppoll");
				return -1;
			}
		}
	}
	*elapsed = (double)(end - start) / 1e9;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: vdload -d FILE [-s ADDR] [-p PORT] [-l SECONDS] [-Q "
			"QPS | -o OUT]\n"
			"              [-k SOCKETS] [-t TIMEOUT] [-b BIND_ADDR] [-B "
			"BATCH] [-n MAXQ]\n"
			"  -d  queries, one \"name TYPE\" a line (dnsperf format)\n"
			"  -s  server IPv4 address (127.0.0.1)      -p  port (53)\n"
			"  -l  seconds of sending (10; SIGTERM ends it early)\n"
			"  -t  seconds to "
			"wait for an answer (1)\n"
			"  -Q  queries per second, open loop        -o  closed loop: "
			"outstanding (256)\n"
			"  -k  sockets (4)   -b  source address     -B  batch (32)   "
			"-n  queries read (all)\n"
			"prints: sent answered lost rcode_err elapsed_s qps p50_us "
			"p99_us max_us\n");
}

int main(int argc, char **argv)
{
	static struct run r; /* large: the histogram */
	r.o = (struct opts){ .server = "127.0.0.1",
			     .port = 53,
			     .socks = 4,
			     .batch = 32,
			     .secs = 10,
			     .timeout = 1,
			     .outmax = 256,
			     .maxq = UINT32_MAX };
	int c, rc = 1;
	while ((c = getopt(argc, argv, "d:s:p:l:Q:o:k:t:b:B:n:h")) != -1) {
		switch (c) {
		case 'd':
			r.o.file = optarg;
			break;
		case 's':
			r.o.server = optarg;
			break;
		case 'p':
			r.o.port = atoi(optarg);
			break;
		case 'l':
			r.o.secs = atof(optarg);
			break;
		case 'Q':
			r.o.qps = strtoull(optarg, NULL, 10);
			break;
		case 'o':
			r.o.outmax = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			r.o.socks = atoi(optarg);
			break;
		case 't':
			r.o.timeout = atof(optarg);
			break;
		case 'b':
			r.o.bind = optarg;
			break;
		case 'B':
			r.o.batch = atoi(optarg);
			break;
		case 'n':
			r.o.maxq = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!r.o.file || r.o.port <= 0 || r.o.port > 65535 || r.o.secs <= 0 ||
	    r.o.timeout <= 0 || r.o.socks < 1 || r.o.socks > MAX_SOCKS ||
	    r.o.batch < 1 || r.o.batch > MAX_BATCH || r.o.outmax < 1 || !r.o.maxq) {
		usage();
		return 2;
	}
	r.to = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_port = htons((uint16_t)r.o.port) };
	if (inet_pton(AF_INET, r.o.server, &r.to.sin_addr) != 1) {
		fprintf(stderr, "vdload: bad server address %s\n", r.o.server);
		return 2;
	}
	for (int i = 0; i < MAX_SOCKS; i++)
		r.s[i].fd = -1;
	struct sigaction act = { .sa_handler = on_signal };
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	if (read_queries(&r) < 0)
		goto out;
	for (int i = 0; i < r.o.socks; i++) {
		if (open_sock(&r, &r.s[i]) < 0) {
			perror("vdload: socket");
			goto out;
		}
	}
	double elapsed = 0;
	if (loop(&r, &elapsed) < 0)
		goto out;
	printf("sent=%llu answered=%llu lost=%llu rcode_err=%llu elapsed_s=%.3f "
	       "qps=%.0f "
	       "p50_us=%llu p99_us=%llu max_us=%llu\n",
	       (unsigned long long)r.sent, (unsigned long long)r.answered,
	       (unsigned long long)r.lost, (unsigned long long)r.rcode_err, elapsed,
	       elapsed > 0 ? (double)r.answered / elapsed : 0.0,
	       (unsigned long long)percentile(&r, 0.50),
	       (unsigned long long)percentile(&r, 0.99), (unsigned long long)r.max_us);
	rc = 0;
out:
	for (int i = 0; i < MAX_SOCKS; i++)
		close_sock(&r.s[i]);
	free(r.wire);
	free(r.woff);
	free(r.wlen);
	return rc;
}
