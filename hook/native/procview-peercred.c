/*
 * procview-peercred: prints the credentials of the process at the other end of the unix socket
 * it gets as its descriptor 3, as "pid uid gid", from SO_PEERCRED (the kernel's record of who
 * called connect(), which the peer cannot forge). Descriptor 3, not stdin: Node's child_process
 * makes a child's descriptors 0-2 blocking, and that flag belongs to the socket the service
 * itself goes on reading.
 *
 * Why a program: the hook socket's server is Node, and Node has no getsockopt(); the only other
 * ways are a native addon (a build toolchain and ABI ties for every Node release) or
 * guessing the peer from /proc (no record of the other end exists there). The service runs this
 * once per connection with the accepted socket as descriptor 3; a connection costs a container
 * start a millisecond or two. Without an answer from it, the service serves nobody.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/socket.h>

int main(void) {
  struct ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(3, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0 || length != sizeof cred) {
    perror("procview-peercred: SO_PEERCRED on descriptor 3");
    return 1;
  }
  printf("%d %u %u\n", (int)cred.pid, (unsigned)cred.uid, (unsigned)cred.gid);
  return 0;
}
