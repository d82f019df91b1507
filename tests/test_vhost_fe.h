/* SPDX-License-Identifier: MIT */
/* A vhost-user front-end's messages, shared by test_vhost.c and test_vhost_hostile.c. */
#ifndef VIOMMU_TEST_VHOST_FE_H
#define VIOMMU_TEST_VHOST_FE_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <viommu/spec/vhost_user.h>

#include "test_common.h"

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
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = VIOMMU_VHOST_USER_HDR_SIZE + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	assert_true(size <= 512 && nfds <= 16);
	memcpy(buf, &hd, sizeof(hd));
	if (size)
		memcpy(buf + VIOMMU_VHOST_USER_HDR_SIZE, payload, size);
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
	return n == (ssize_t)iov.iov_len ? 0 : -EMSGSIZE;
}

#endif
