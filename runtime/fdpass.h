/* fdpass - descriptors over Unix sockets (SCM_RIGHTS), for every place the
 * hypervisor hands one on: the client's request with its output file
 * (runtime/hvclient.c), and inside tach-hv a request passed from the base
 * zygote to a sub-zygote and on to a spare test process, with the client's
 * connection and output file. */
#ifndef TACH_FDPASS_H
#define TACH_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FDPASS_MAX 2		/* descriptors in one message */

/* Sends the iovcnt parts of iov, all of them, with nfds (at most
 * FDPASS_MAX) descriptors attached to the first byte: on a stream socket
 * the rest may take more sendmsg calls, and they go without. Never raises
 * SIGPIPE. The descriptors stay the caller's; iov is used up. Returns 0, or
 * -1 with errno set. */
int fdpass_sendv(int sock, struct iovec *iov, int iovcnt, const int *fds, int nfds);
/* fdpass_sendv of one buffer. */
int fdpass_send(int sock, const void *data, size_t len, const int *fds, int nfds);

/* Receives one message of up to len bytes into data, and the descriptors
 * that came with it: the first FDPASS_MAX into fds, close-on-exec and the
 * caller's to close, *nfds of them; any more are closed. Returns the
 * message's length, 0 at EOF, or -1 with errno set. */
ssize_t fdpass_recv(int sock, void *data, size_t len, int *fds, int *nfds);

#endif
