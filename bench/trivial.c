/*
 * trivial: the least work a DNS server can do, as a yardstick for the
 * benchmarks in bench/. One thread, one UDP socket, recvmmsg/sendmmsg in
 * batches; every query with one question gets the same reply: QR and RA
 * set, its ID, RD and question kept, one A record (192.0.2.1, TTL 60)
 * pointing at the question name; anything else is dropped. No parsing
 * beyond finding the end of the question, no lookup, no allocation after
 * start. What it reaches is the ceiling of any server on this machine in
 * the same run. Stops on SIGTERM or SIGINT and prints the count of replies
 * to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define BUF 512

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Rewrites the query in p (len bytes, room for BUF) into the reply;
 * returns the reply's length or 0 to drop it. */
static size_t answer(unsigned char *p, size_t len, const unsigned char addr[4])
{
	if (len < 12 + 5 || (p[2] & 0x80) || p[4] || p[5] != 1)
		return 0;
	size_t off = 12;
	while (off < len && p[off]) {
		if (p[off] > 63)
			return 0;
		off += (size_t)p[off] + 1;
	}
	off += 1 + 4; /* root label, type, class */
	if (off > len || off + 16 > BUF)
		return 0;
	p[2] = (unsigned char)(0x80 | (p[2] & 0x01)); /* QR, RD kept, opcode 0 */
	p[3] = 0x80;				      /* RA, NOERROR */
	memset(p + 6, 0, 6);
	p[7] = 1; /* ANCOUNT; NSCOUNT = ARCOUNT = 0: any OPT is dropped */
	static const unsigned char rr[12] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4 };
	memcpy(p + off, rr, sizeof(rr));
	memcpy(p + off + sizeof(rr), addr, 4);
	return off + 16;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, c;
	unsigned char addr[4] = { 192, 0, 2, 1 };
	while ((c = getopt(argc, argv, "s:p:a:")) != -1) {
		switch (c) {
		case 's':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, addr) != 1)
				port = -1;
			break;
		default:
			port = -1;
		}
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: trivial -p PORT [-s ADDR] [-a ANSWER_A]\n");
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "trivial: bad address %s\n", host);
		return 2;
	}
	struct sigaction act = { .sa_handler = on_signal }; /* no SA_RESTART */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 4 << 20;
	if (fd < 0) {
		perror("trivial: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("trivial: bind");
		close(fd);
		return 1;
	}
	static unsigned char buf[BATCH][BUF];
	static struct sockaddr_in from[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr in[BATCH], out[BATCH];
	unsigned long long replies = 0;
	while (!stopping) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = BUF };
			in[i].msg_hdr =
				(struct msghdr){ .msg_iov = &iov[i],
						 .msg_iovlen = 1,
						 .msg_name = &from[i],
						 .msg_namelen = sizeof(from[i]) };
		}
		int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("trivial: recvmmsg");
			break;
		}
		unsigned m = 0;
		for (int i = 0; i < n; i++) {
			size_t len = answer(buf[i], in[i].msg_len, addr);
			if (!len)
				continue;
			iov[i].iov_len = len;
			out[m++].msg_hdr = in[i].msg_hdr;
		}
		for (unsigned done = 0; done < m;) {
			int k = sendmmsg(fd, out + done, m - done, 0);
			if (k < 0) {
				if (errno == EINTR && !stopping)
					continue;
				break; /* a reply lost, as a busy server would lose it */
			}
			done += (unsigned)k;
		}
		replies += m;
	}
	fprintf(stderr, "trivial: %llu replies\n", replies);
	close(fd);
	return 0;
}
