/* TCP load for the per-packet bench (scripts/bench.ts): connections per second and bulk throughput, with no
 * runtime of its own in the way, so that the firewall's cost is what the figures compare.
 *   tcpload serve PORT                       one epoll loop on [::]:PORT; prints "ready"
 *   tcpload conn HOST PORT SECONDS PARALLEL   connect, send 1 byte, read the answer, close; prints "connections/s cpu"
 *   tcpload up HOST PORT SECONDS              send as fast as the path takes; prints "bytes/s cpu" (bytes the far end got)
 *   tcpload down HOST PORT SECONDS            receive as fast as the server sends; prints "bytes/s cpu"
 *   tcpload cpu HOST PORT                     prints the server's CPU seconds so far
 * cpu: the client's own CPU seconds (user + system) over the run. Packets are mostly processed in the softirq of
 * the task that sends them, so the two processes' CPU time includes the kernel's work on their packets, the
 * firewall's too. A client's first byte tells the server what to do: 'c' answer one byte and close, 'u' read
 * until EOF and then report the byte count, 'd' send until the client closes, 'r' report its CPU seconds. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 17];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

struct conn {
	int fd;
	char mode; /* 0 until the first byte */
	unsigned long long bytes;
};

static _Noreturn void serve(int port)
{
	int l = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0), off = 0, on = 1;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any };
	setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4096))
		die("listen");
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	signal(SIGPIPE, SIG_IGN);
	printf("ready\n");
	fflush(stdout);
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof *c);
					c->fd = fd;
					struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			int done = 0;
			if (c->mode == 'd') {
				while (write(c->fd, buf, sizeof buf) > 0)
					;
				if (errno != EAGAIN)
					done = 1;
			} else {
				ssize_t r;
				while ((r = read(c->fd, buf, sizeof buf)) > 0) {
					if (!c->mode) {
						c->mode = buf[0];
						if (c->mode == 'c' || c->mode == 'r') {
							char line[32] = "x";
							int len = c->mode == 'r' ? snprintf(line, sizeof line, "%.6f\n", cpu()) : 1;
							if (write(c->fd, line, (size_t)len) < 0) { /* the client learns by EOF */ }
							done = 1;
							break;
						}
						if (c->mode == 'd') {
							struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
							epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
							break;
						}
					}
					c->bytes += (unsigned long long)r;
				}
				if (r == 0) {
					if (c->mode == 'u') {
						/* the uploader waits for the count so that it measures what arrived */
						char line[32];
						int len = snprintf(line, sizeof line, "%llu\n", c->bytes);
						if (write(c->fd, line, (size_t)len) < 0) { /* nothing to do */ }
					}
					done = 1;
				} else if (r < 0 && errno != EAGAIN)
					done = 1;
			}
			if (done) {
				close(c->fd);
				free(c);
			}
		}
	}
}

static struct sockaddr_storage target;
static socklen_t target_len;

static void resolve(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *res;
	if (getaddrinfo(host, port, &hints, &res))
		die("address");
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = res->ai_addrlen;
	freeaddrinfo(res);
}

static int dial(int nonblock)
{
	int fd = socket(target.ss_family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&target, target_len) && errno != EINPROGRESS)
		die("connect");
	return fd;
}

static void conns(double seconds, int parallel)
{
	int ep = epoll_create1(0);
	unsigned long long done = 0;
	double t0 = now(), end = t0 + seconds, c0 = cpu();
	for (int i = 0; i < parallel; i++) {
		int fd = dial(1);
		struct epoll_event e = { .events = EPOLLOUT, .data.fd = fd };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	}
	struct epoll_event evs[256];
	while (now() < end) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (evs[i].events & EPOLLOUT) {
				if ((evs[i].events & (EPOLLERR | EPOLLHUP)) || write(fd, "c", 1) != 1)
					die("connection refused or reset");
				struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
				continue;
			}
			char b[8];
			ssize_t r = read(fd, b, sizeof b);
			if (r > 0)
				continue; /* the answer; EOF follows */
			if (r < 0 && errno == EAGAIN)
				continue;
			close(fd);
			done++;
			int nfd = dial(1);
			struct epoll_event e = { .events = EPOLLOUT, .data.fd = nfd };
			epoll_ctl(ep, EPOLL_CTL_ADD, nfd, &e);
		}
	}
	printf("%.1f %.6f\n", (double)done / (now() - t0), cpu() - c0);
}

static void bulk(char mode, double seconds)
{
	int fd = dial(0);
	if (write(fd, &mode, 1) != 1)
		die("write");
	unsigned long long bytes = 0;
	double t0 = now(), end = t0 + seconds, c0 = cpu();
	if (mode == 'u') {
		while (now() < end) {
			ssize_t w = write(fd, buf, sizeof buf);
			if (w <= 0)
				die("upload");
		}
		shutdown(fd, SHUT_WR);
		char line[32] = { 0 };
		size_t got = 0;
		ssize_t r;
		while (got < sizeof line - 1 && (r = read(fd, line + got, sizeof line - 1 - got)) > 0)
			got += (size_t)r;
		bytes = strtoull(line, NULL, 10);
	} else {
		while (now() < end) {
			ssize_t r = read(fd, buf, sizeof buf);
			if (r <= 0)
				die("download");
			bytes += (unsigned long long)r;
		}
	}
	printf("%.0f %.6f\n", (double)bytes / (now() - t0), cpu() - c0);
	close(fd);
}

int main(int argc, char **argv)
{
	memset(buf, 'a', sizeof buf);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		serve(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "conn")) {
		resolve(argv[2], argv[3]);
		conns(atof(argv[4]), atoi(argv[5]));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "cpu")) {
		resolve(argv[2], argv[3]);
		int fd = dial(0);
		char line[32] = { 0 };
		size_t got = 0;
		ssize_t r;
		if (write(fd, "r", 1) != 1)
			die("write");
		while (got < sizeof line - 1 && (r = read(fd, line + got, sizeof line - 1 - got)) > 0)
			got += (size_t)r;
		printf("%s", line);
		return 0;
	}
	if (argc == 5 && (!strcmp(argv[1], "up") || !strcmp(argv[1], "down"))) {
		resolve(argv[2], argv[3]);
		bulk(argv[1][0], atof(argv[4]));
		return 0;
	}
	fprintf(stderr, "usage: tcpload serve PORT | conn HOST PORT SECONDS PARALLEL | up|down HOST PORT SECONDS | cpu HOST PORT\n");
	return 2;
}
