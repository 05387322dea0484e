/* The ceiling for bulk loads: a minimal sender that only encodes ADT batches (the helper's own encoder), sends
 * 16 messages per sendmsg and reads the acks — no FFI, no per-entry bookkeeping, no error recovery.
 * usage: ceiling NETNS_PATH SETNAME COUNT   (the set must exist, hash:net inet with timeout support)
 * prints: elapsed microseconds */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include "../src/wire.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: ceiling NETNS_PATH SETNAME COUNT\n");
		return 2;
	}
	int ns = open(argv[1], O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
		perror(argv[1]);
		return 1;
	}
	uint32_t n = (uint32_t)strtoul(argv[3], NULL, 10);
	size_t cap = 16 * 66000;
	sipa_entry *es = calloc(n, sizeof *es);
	uint8_t *tx = malloc(cap), *rx = malloc(1 << 16);
	int rc = 1;
	if (!es || !tx || !rx) {
		perror("malloc");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		es[i].op = SIPA_OP_ADD, es[i].family = 4, es[i].prefix = 32, es[i].timeout = 3600;
		es[i].addr[0] = 10, es[i].addr[1] = (uint8_t)(i >> 16), es[i].addr[2] = (uint8_t)(i >> 8), es[i].addr[3] = (uint8_t)i;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER), size = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint32_t done = 0, seq = 1;
	while (done < n) {
		struct nlbuf b = { .data = tx, .len = 0, .cap = cap };
		uint32_t msgs = 0;
		while (msgs < 16 && done < n) {
			uint32_t k = wire_ipset_adt(&b, seq++, argv[2], es + done, n - done, 0);
			if (!k)
				break;
			done += k;
			msgs++;
		}
		if (send(fd, tx, b.len, 0) < 0) {
			perror("send");
			goto out;
		}
		for (uint32_t got = 0; got < msgs;) {
			ssize_t r = recv(fd, rx, 1 << 16, 0);
			if (r < 0) {
				perror("recv");
				goto out;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, r); h = NLMSG_NEXT(h, r))
				if (h->nlmsg_type == NLMSG_ERROR) {
					if (((struct nlmsgerr *)NLMSG_DATA(h))->error) {
						fprintf(stderr, "kernel error %d\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error);
						goto out;
					}
					got++;
				}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.0f\n", (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3);
	rc = 0;
out:
	free(es);
	free(tx);
	free(rx);
	return rc;
}
