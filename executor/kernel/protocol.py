"""The kernel's two wire formats.

Frames on the control socket with Go (fd 3), in both directions:

    u32 header length | header JSON | u32 body length | body bytes

(big-endian lengths), file descriptors passed alongside (SCM_RIGHTS): Conn,
and send_frame_fd before there is one. And the task the kernel hands to a
waiting execution process on its own socket: u32 length, JSON, and at most
MAX_TASK_FDS descriptors (send_task, recv_task).
"""

import collections
import json
import os
import socket
import struct

CTRL_FD = 3  # the control socket
MAX_TASK_FDS = 2  # a dataset file, and a profile's parsed form


class Conn:
    """Frames over the control socket, with file descriptors passed alongside."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.buf = bytearray()
        self.fds = collections.deque()
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def fill(self):
        """Reads what is available (blocks until something is)."""
        while True:
            try:
                data, anc, flags, _ = self.sock.recvmsg(1 << 16, socket.CMSG_SPACE(64 * 4))
                break
            except InterruptedError:
                continue
        for level, typ, payload in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                n = len(payload) - len(payload) % 4
                self.fds.extend(struct.unpack("%di" % (n // 4), payload[:n]))
        if not data:
            self.eof = True
        self.buf += data

    def next_frame(self):
        """Returns the next (header, body) already received, or None."""
        buf = self.buf
        if len(buf) < 4:
            return None
        hl = struct.unpack_from(">I", buf)[0]
        if hl > (256 << 20):
            raise ValueError("frame header too large")
        if len(buf) < 8 + hl:
            return None
        bl = struct.unpack_from(">I", buf, 4 + hl)[0]
        end = 8 + hl + bl
        if len(buf) < end:
            return None
        header = json.loads(bytes(buf[4:4 + hl]))
        body = bytes(buf[8 + hl:end])
        del buf[:end]
        return header, body

    def read_frame(self):
        """Returns the next (header, body), reading until it is there."""
        while True:
            f = self.next_frame()
            if f is not None:
                return f
            if self.eof:
                raise EOFError
            self.fill()

    def take_fds(self, n):
        """Takes the next n descriptors received."""
        if len(self.fds) < n:
            raise ValueError("expected %d file descriptors, got %d" % (n, len(self.fds)))
        return [self.fds.popleft() for _ in range(n)]

    def close_stray_fds(self):
        """Closes the descriptors received that no request took."""
        while self.fds:
            try:
                os.close(self.fds.popleft())
            except OSError:
                pass

    def send(self, header, body=b""):
        """Sends one frame."""
        h = json.dumps(header, separators=(",", ":")).encode()
        self.sock.sendall(struct.pack(">I", len(h)) + h + struct.pack(">I", len(body)))
        if body:
            self.sock.sendall(body)


def send_frame_fd(fd, header, body=b""):
    """Sends one frame on a raw descriptor (before there is a Conn)."""
    h = json.dumps(header, separators=(",", ":")).encode()
    data = struct.pack(">I", len(h)) + h + struct.pack(">I", len(body)) + body
    while data:
        n = os.write(fd, data)
        data = data[n:]


def send_task(sock, header, data_fds):
    """Sends a task to a waiting child: u32 length, JSON, and the
    descriptors data_fds (None or empty: none; at most MAX_TASK_FDS)."""
    data = json.dumps(header).encode()
    data = struct.pack(">I", len(data)) + data
    if not data_fds:
        sock.sendall(data)
        return
    if len(data_fds) > MAX_TASK_FDS:
        raise ValueError("%d descriptors for a task (at most %d)" % (len(data_fds), MAX_TASK_FDS))
    rights = struct.pack("%di" % len(data_fds), *data_fds)
    n = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
    if n < len(data):
        sock.sendall(data[n:])


def recv_task(sock):
    """Receives a task in the child: (header, its descriptors, a list);
    None when the kernel closed the socket."""
    buf = bytearray()
    fds = []
    while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">I", buf)[0]:
        try:
            data, anc, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(4 * MAX_TASK_FDS))
        except InterruptedError:
            continue
        for level, typ, payload in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                n = len(payload) - len(payload) % 4
                fds.extend(struct.unpack("%di" % (n // 4), payload[:n]))
        if not data:
            return None
        buf += data
    n = struct.unpack_from(">I", buf)[0]
    header = json.loads(bytes(buf[4:4 + n]))
    return header, fds
