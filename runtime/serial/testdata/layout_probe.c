/* Prints the termios layout and the constants runtime/serial/ hard-codes, as JSON, so a test (and
 * a cross-compiled run under qemu-aarch64) can compare them with the TypeScript tables.
 * Build: cc -O0 -o probe layout_probe.c    aarch64: aarch64-linux-gnu-gcc -static ... */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>

#define P(name) printf("  \"%s\": %lu,\n", #name, (unsigned long)(name))
#define O(field) printf("  \"off_%s\": %zu,\n", #field, offsetof(struct termios, field))

int main(void) {
  struct termios t = {0};
  printf("{\n");
  printf("  \"size\": %zu,\n", sizeof(struct termios));
  O(c_iflag); O(c_oflag); O(c_cflag); O(c_lflag); O(c_line); O(c_cc); O(c_ispeed); O(c_ospeed);
  P(NCCS); P(VTIME); P(VMIN);
  P(IXON); P(IXANY); P(IXOFF);
  P(CBAUD); P(CSIZE); P(CS5); P(CS6); P(CS7); P(CS8); P(CSTOPB); P(CREAD); P(PARENB); P(PARODD);
  P(HUPCL); P(CLOCAL); P(CRTSCTS);
  P(B50); P(B75); P(B110); P(B134); P(B150); P(B200); P(B300); P(B600); P(B1200); P(B1800);
  P(B2400); P(B4800); P(B9600); P(B19200); P(B38400); P(B57600); P(B115200); P(B230400);
  P(B460800); P(B500000); P(B576000); P(B921600); P(B1000000); P(B1152000); P(B1500000);
  P(B2000000); P(B2500000); P(B3000000); P(B3500000); P(B4000000);
  P(O_RDWR); P(O_NOCTTY); P(O_NONBLOCK); P(O_CLOEXEC);
  P(POLLIN); P(POLLOUT); P(POLLERR); P(POLLHUP); P(POLLNVAL);
  P(TIOCEXCL); P(TIOCMGET); P(TIOCMBIS); P(TIOCMBIC); P(TIOCSBRK); P(TIOCCBRK);
  P(TIOCM_DTR); P(TIOCM_RTS); P(TIOCM_CTS); P(TIOCM_CAR); P(TIOCM_DSR);
  P(TCSANOW); P(TCIFLUSH); P(TCOFLUSH); P(TCIOFLUSH); P(LOCK_EX); P(LOCK_NB);
  P(EPERM); P(ENOENT); P(EINTR); P(EIO); P(ENXIO); P(EBADF); P(EAGAIN); P(EACCES); P(EBUSY);
  P(ENODEV); P(EISDIR); P(EINVAL); P(ENOTTY); P(ELOOP); P(ENOTDIR); P(EROFS);
  P(sizeof(struct pollfd)); P(offsetof(struct pollfd, events)); P(offsetof(struct pollfd, revents));
  /* cfsetospeed really writes the speed_t code into c_cflag's CBAUD bits. */
  cfsetospeed(&t, B115200);
  printf("  \"cflag_after_cfsetospeed_B115200\": %lu\n", (unsigned long)(t.c_cflag & CBAUD));
  printf("}\n");
  return 0;
}
