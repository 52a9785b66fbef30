/*
 * util: error codes, logging, socket addresses and CIDRs, a bump arena, a
 * CSPRNG wrapper and an error list for "file:line: reason" messages.
 * Depends on nothing else in vpcdns (libc and OpenSSL's RAND_bytes only).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- errors ------------------------------------------------------------
 * 0 is success; negative errno values (-ENOMEM, -EINVAL, ...) and libuv's
 * UV_E* codes (which are -errno on Unix) pass through; project codes are
 * below -1000.
 */
enum {
	VD_EMALF = -1001, /* malformed input (packet, name, address) */
	VD_ECONF = -1002, /* configuration or zone file invalid */
	VD_ENOTFOUND = -1003,
	VD_ESPACE = -1004, /* output buffer too small */
	VD_ETIMEOUT = -1005,
	VD_ELIMIT = -1006, /* a configured bound was reached */
};

/* Static string for any error code above (or -errno). Never NULL. */
const char *vd_strerror(int err);

/* ---- invariants --------------------------------------------------------
 * VD_REQUIRE(cond) is always on, in release builds too: for invariants
 * whose violation would corrupt memory (a reference count going below
 * zero, a write cursor past its buffer). It logs the condition with its
 * file and line and aborts. Never use it for input a client or a file
 * controls: those get an error, not a crash.
 */
_Noreturn void vd_require_failed(const char *cond, const char *file, int line);
#define VD_REQUIRE(cond)                                              \
	do {                                                          \
		if (__builtin_expect(!(cond), 0))                     \
			vd_require_failed(#cond, __FILE__, __LINE__); \
	} while (0)

/* ---- logging -----------------------------------------------------------
 * Lines go to stderr as "YYYY-mm-ddTHH:MM:SSZ level: message\n". Thread-safe
 * (one fprintf per line). The level is a process global set at start.
 * When stderr is the journal's stream (JOURNAL_STREAM names its device
 * and inode, as systemd sets it) each line starts with its syslog
 * priority instead of the time, "<4>warning: message", so journald
 * records the level (journalctl -p warning). With vd_log_set_syslog(true)
 * lines go to syslog(3) (facility daemon) instead.
 */
typedef enum { VD_LOG_ERR = 0, VD_LOG_WARN, VD_LOG_INFO, VD_LOG_DEBUG } vd_log_level_t;
void vd_log_set_level(vd_log_level_t level);
vd_log_level_t vd_log_get_level(void);
void vd_log_set_syslog(bool on);
void vd_log(vd_log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- addresses ---------------------------------------------------------
 * vd_addr_parse accepts "1.2.3.4", "1.2.3.4:53", "::1", "[::1]",
 * "[::1]:53". A missing port becomes default_port. Returns 0 or VD_EMALF.
 */
int vd_addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *out);
/* "1.2.3.4:53" or "[::1]:53" into buf (at least 64 bytes). Returns buf. */
const char *vd_addr_fmt(const struct sockaddr *sa, char *buf, size_t len);
/* Same family, address and port. */
bool vd_addr_equal(const struct sockaddr *a, const struct sockaddr *b);
socklen_t vd_addr_len(const struct sockaddr *sa);

/* A CIDR prefix. IPv4 is kept as 4 bytes (family AF_INET), IPv6 as 16. */
typedef struct vd_cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; bits past prefix are zero */
	uint8_t prefix;	  /* 0..32 or 0..128 */
} vd_cidr_t;

/* "10.0.0.0/16", "2001:db8::/32", or a bare address (= /32 or /128).
 * Host bits set ("10.0.0.1/16") are an error: VD_EMALF. */
int vd_cidr_parse(const char *s, vd_cidr_t *out);
bool vd_cidr_equal(const vd_cidr_t *a, const vd_cidr_t *b);
/* Whether the address (AF_INET/AF_INET6 sockaddr) lies inside c. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as IPv4. */
bool vd_cidr_contains(const vd_cidr_t *c, const struct sockaddr *sa);

/* ---- arena -------------------------------------------------------------
 * Bump allocator in linked chunks. Memory lives until vd_arena_reset or
 * vd_arena_deinit. Not thread-safe: one owner at a time. Allocations are
 * 16-byte aligned. Under ASan, reset poisons what it frees.
 */
typedef struct vd_arena_chunk vd_arena_chunk_t;
typedef struct vd_arena {
	vd_arena_chunk_t *head;
	size_t chunk_size; /* default size of new chunks */
	size_t used;	   /* bytes handed out since last reset (statistics) */
} vd_arena_t;

void vd_arena_init(vd_arena_t *a, size_t chunk_size);
void vd_arena_deinit(vd_arena_t *a);
/* Keeps the first chunk, frees the rest. */
void vd_arena_reset(vd_arena_t *a);
/* NULL only on out of memory. */
void *vd_arena_alloc(vd_arena_t *a, size_t size);
void *vd_arena_memdup(vd_arena_t *a, const void *p, size_t size);
char *vd_arena_strdup(vd_arena_t *a, const char *s);
/* Appends elem (size bytes) to an array allocated from the arena,
 * doubling its capacity when full (the old block stays in the arena
 * until reset). *arr, *n and *cap describe the array. 0 or -ENOMEM. */
int vd_arena_push(vd_arena_t *a, void **arr, size_t *n, size_t *cap, const void *elem,
		  size_t size);

/* ---- randomness --------------------------------------------------------
 * CSPRNG (OpenSSL RAND_bytes) behind a small per-thread buffer. Aborts the
 * process if the CSPRNG fails: continuing with predictable IDs would be a
 * security bug. */
void vd_rand_bytes(void *buf, size_t len);
uint16_t vd_rand_u16(void);
uint32_t vd_rand_u32(void);
/* Uniform in [0, n), n > 0. */
uint32_t vd_rand_uniform(uint32_t n);

/* ---- hashing -----------------------------------------------------------
 * The one hash function for every table: SipHash-1-3 of the n bytes at p
 * (p may be NULL when n is 0), keyed by seed. Allocation-free, any
 * thread. Chain fields with the previous result as the next seed:
 * vd_hash(b, nb, vd_hash(a, na, seed)).
 *
 * Tables whose keys a client chooses (the answer cache, the upstream
 * fetches in flight) must be keyed with vd_hash_seed(): a random seed
 * drawn from the CSPRNG on the first call and the same for the rest of
 * the process, so nobody outside can predict which names collide.
 * Tables built only from configuration and zone files may use the fixed
 * VD_HASH_SEED_FIXED, so that a hash is the same on every run. */
uint64_t vd_hash(const void *p, size_t n, uint64_t seed);
uint64_t vd_hash_seed(void);
#define VD_HASH_SEED_FIXED 0x7670636e73000001ull
/* A checksum of n bytes for data at rest (the zone image): four 64-bit
 * multiply-xorshift lanes over 32-byte strides, about five times the speed
 * of vd_hash on long inputs. Every bit of the input reaches the result
 * (any single changed bit changes it), but it is not keyed against a
 * chosen input: never use it for a table a client fills. */
uint64_t vd_checksum(const void *p, size_t n, uint64_t seed);
/* SipHash-2-4 (the reference variant: two compression, four finalisation
 * rounds) of n bytes with a 128-bit key, for MACs rather than tables:
 * DNS server cookies (RFC 9018). Serialise the result little-endian to
 * get the reference implementation's 8 output bytes. */
uint64_t vd_siphash24(const void *p, size_t n, const uint8_t key[16]);

/* ---- error list --------------------------------------------------------
 * Collects "file:line: reason" messages while loading a config. Owns its
 * strings (malloc). vd_errlist_add formats one message; line 0 omits the
 * line ("file: reason"). */
typedef struct vd_errlist {
	char **msgs;
	size_t count;
	size_t cap;
} vd_errlist_t;

void vd_errlist_init(vd_errlist_t *e);
void vd_errlist_deinit(vd_errlist_t *e);
void vd_errlist_add(vd_errlist_t *e, const char *file, unsigned long line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void vd_errlist_vadd(vd_errlist_t *e, const char *file, unsigned long line,
		     const char *fmt, va_list ap);

/* ---- time --------------------------------------------------------------
 * Monotonic milliseconds (CLOCK_MONOTONIC). */
uint64_t vd_now_ms(void);
/* The same clock in microseconds, for durations. */
uint64_t vd_now_us(void);
