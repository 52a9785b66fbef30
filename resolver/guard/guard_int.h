/*
 * guard private: the client address as the bytes both the rate limiter
 * and the cookies use (an IPv4-mapped IPv6 address is its IPv4 address).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Copies the address of sa into out (4 or 16 bytes) and returns its
 * length; 0 for a family other than AF_INET or AF_INET6. */
size_t vd_guard_addr_bytes(const struct sockaddr *sa, uint8_t out[16], int *family);
