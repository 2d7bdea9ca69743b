/* cellvm-check-net: the test guest's virtio-net check, run in guest user
 * space by /checks/net. Pings HOST (ICMP echo over a raw socket, 3 answers
 * wanted) and fetches http://HOST:PORT/PATH (HTTP/1.0), then prints one
 * CELLVM-DATA line with the body's size and CRC-32 for the host to compare
 * with what it served. Written here because busybox's ping and wget time
 * out with alarm(), and the test kernel has no POSIX timers: every wait is
 * a poll() with a bound instead.
 * Usage: cellvm-check-net HOST PORT PATH   (exit 0: pinged and fetched) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"

#define WAIT_MS	 5000
#define PINGS	 3
#define MAX_BODY (16u << 20)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t icmp_sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] | b[i + 1] << 8);
	if (n & 1)
		s += b[n - 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Wait for fd to be ready for events until deadline; 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left = deadline - now_ms();

	if (left <= 0)
		return 0;
	return poll(&p, 1, (int)left) > 0;
}

/* One echo request, wait for its reply; 0 answered, -1 not. */
static int ping_once(int fd, const struct sockaddr_in *to, uint16_t seq)
{
	struct icmphdr req = {.type = ICMP_ECHO};
	uint8_t buf[1500];
	int64_t deadline = now_ms() + WAIT_MS;

	req.un.echo.id = htons((uint16_t)getpid());
	req.un.echo.sequence = htons(seq);
	req.checksum = icmp_sum(&req, sizeof(req));
	if (sendto(fd, &req, sizeof(req), 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		return -1;
	while (wait_fd(fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct iphdr *ip = (const void *)buf;
		const struct icmphdr *rep;

		if (n < (ssize_t)sizeof(*ip) || n < ip->ihl * 4 + (ssize_t)sizeof(*rep))
			continue;
		rep = (const void *)(buf + ip->ihl * 4);
		if (rep->type == ICMP_ECHOREPLY && rep->un.echo.id == req.un.echo.id &&
		    rep->un.echo.sequence == req.un.echo.sequence)
			return 0;
	}
	return -1;
}

/* GET path from host:port; the body goes to *ret_body (malloc'd). */
static int http_get(const struct sockaddr_in *to, const char *path, uint8_t **ret_body,
		    size_t *ret_len)
{
	char req[512];
	uint8_t *resp = malloc(MAX_BODY + 4096);
	size_t len = 0;
	int64_t deadline = now_ms() + 30 * WAIT_MS;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	const uint8_t *body;
	int n;

	if (fd < 0 || !resp)
		return -1;
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS)
		return -1;
	if (!wait_fd(fd, POLLOUT, deadline))
		return -1;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path,
		     inet_ntoa(to->sin_addr));
	if (send(fd, req, (size_t)n, 0) != n)
		return -1;
	while (len < MAX_BODY + 4096 && wait_fd(fd, POLLIN, deadline)) {
		ssize_t got = recv(fd, resp + len, MAX_BODY + 4096 - len, 0);
		if (got == 0)
			break;
		if (got < 0 && errno != EAGAIN)
			return -1;
		if (got > 0)
			len += (size_t)got;
	}
	close(fd);
	if (len < 12 || memcmp(resp, "HTTP/1.", 7) || memcmp(resp + 9, "200", 3))
		return -1;
	body = memmem(resp, len, "\r\n\r\n", 4);
	if (!body)
		return -1;
	body += 4;
	*ret_len = len - (size_t)(body - resp);
	*ret_body = resp;
	memmove(resp, body, *ret_len);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = {.sin_family = AF_INET};
	uint8_t *body;
	size_t len;
	int fd, answered = 0;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: cellvm-check-net HOST PORT PATH\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0) {
		printf("CELLVM-DATA net error=socket errno=%d\n", errno);
		return 1;
	}
	for (uint16_t seq = 1; seq <= PINGS; seq++)
		answered += ping_once(fd, &to, seq) == 0;
	close(fd);
	if (answered != PINGS) {
		printf("CELLVM-DATA net error=ping answered=%d/%d\n", answered, PINGS);
		return 1;
	}
	to.sin_port = htons((uint16_t)atoi(argv[2]));
	if (http_get(&to, argv[3], &body, &len) < 0) {
		printf("CELLVM-DATA net error=http errno=%d\n", errno);
		return 1;
	}
	printf("CELLVM-DATA net pings=%d bytes=%zu crc32=%08x\n", answered, len,
	       guest_crc32(0, body, len));
	free(body);
	return 0;
}
