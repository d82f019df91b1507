/* SPDX-License-Identifier: MIT */
/*
 * A vhost-user front-end's messages, shared by test_vhost.c, test_vhost_hostile.c and
 * fuzz/fuzz_vhost_sock.c (test_vhost_fe_send_bytes only: the fuzz targets have no cmocka).
 */
#ifndef VIOMMU_TEST_VHOST_FE_H
#define VIOMMU_TEST_VHOST_FE_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <viommu/spec/vhost_user.h>

#include "test_common.h"

/*
 * Send @len bytes of @buf on @fd as one sendmsg, with @nfds fds (at most 16) as SCM_RIGHTS;
 * @msg_flags adds to MSG_NOSIGNAL. Returns 0 when all of it went, -EMSGSIZE for a short send,
 * else -errno. No cmocka in it: the fuzz targets send their scripts' bytes with it too.
 */
static inline int test_vhost_fe_send_bytes(int fd, const void *buf, size_t len, const int *fds,
					   size_t nfds, int msg_flags)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 16)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL | msg_flags);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/*
 * Send one message on @fd: the raw header fields (so malformed ones can be sent too), @size
 * payload bytes (at most 512) and @nfds fds (at most 16) as SCM_RIGHTS; @msg_flags adds to
 * MSG_NOSIGNAL. Returns 0 when all of it went, -EMSGSIZE for a short send, else -errno.
 */
static inline int test_vhost_fe_send(int fd, uint32_t req, uint32_t flags, const void *payload,
				     uint32_t size, const int *fds, size_t nfds, int msg_flags)
{
	uint8_t buf[VIOMMU_VHOST_USER_HDR_SIZE + 512];
	struct viommu_vhost_user_header hd = { .request = req, .flags = flags, .size = size };

	assert_true(size <= 512 && nfds <= 16);
	memcpy(buf, &hd, sizeof(hd));
	if (size)
		memcpy(buf + VIOMMU_VHOST_USER_HDR_SIZE, payload, size);
	return test_vhost_fe_send_bytes(fd, buf, VIOMMU_VHOST_USER_HDR_SIZE + size, fds, nfds,
					msg_flags);
}

#endif
