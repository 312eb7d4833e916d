"""Pseudo-terminals and the ``--console-socket`` protocol.

With ``process.terminal`` the container's init opens /dev/ptmx *inside* the container (its own
devpts instance), makes the slave its stdin/stdout/stderr and controlling terminal, and sends the
master to the engine over the Unix socket named by ``--console-socket`` as SCM_RIGHTS ancillary
data, with the name "/dev/ptmx" as payload -- what runc does, and what containerd's shim and
dockerd expect. The engine connected that socket for us before the container was started.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSCTTY = 0x540E


def open_pty() -> tuple[int, str]:
    """(master fd, slave path) from the devpts instance mounted at /dev/pts."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    num = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    return master, f"/dev/pts/{num}"


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int] | None:
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return rows, cols


def make_controlling(slave: int) -> None:
    for target in (0, 1, 2):
        os.dup2(slave, target)
    fcntl.ioctl(0, TIOCSCTTY, 0)


def send_fd(sock_fd: int, fd: int, name: str = "/dev/ptmx") -> None:
    import socket

    sock = socket.socket(fileno=os.dup(sock_fd))
    try:
        socket.send_fds(sock, [name.encode()], [fd])
    finally:
        sock.close()


def connect_console_socket(path: str) -> int:
    """Connect to the engine's console socket; returns the fd (inherited by the container init)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        from dockyard.errors import InvalidArgument

        raise InvalidArgument(f"--console-socket {path}: cannot connect: {exc.strerror}") from None
    return sock.detach()


def console_pair() -> tuple[int, int]:
    """A socket pair standing in for --console-socket when ``run`` proxies the terminal itself."""
    import socket

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return a.detach(), b.detach()


def recv_fd(sock_fd: int) -> int:
    import socket

    sock = socket.socket(fileno=os.dup(sock_fd))
    try:
        _msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1)
    finally:
        sock.close()
    if not fds:
        raise OSError(5, "the container init sent no terminal")
    return fds[0]


def proxy(master: int, stdin: int = 0, stdout: int = 1) -> None:
    """Copy between our stdio and the pty master until the container side hangs up."""
    import select

    old = None
    if os.isatty(stdin):
        old = termios.tcgetattr(stdin)
        raw = termios.tcgetattr(stdin)
        raw[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
        raw[1] &= ~termios.OPOST
        raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        raw[6][termios.VMIN] = 1
        raw[6][termios.VTIME] = 0
        termios.tcsetattr(stdin, termios.TCSANOW, raw)
        size = get_size(stdin)
        if size:
            set_size(master, *size)
    fds = [master, stdin]
    try:
        while True:
            ready, _, _ = select.select(fds, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    return
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:
                    fds.remove(stdin)
                else:
                    os.write(master, data)
    finally:
        if old is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, old)
