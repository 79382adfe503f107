"""Tests of kernel.protocol: frames on the control socket (with descriptors
alongside) and tasks handed to an execution process."""

import json
import os
import socket
import struct
import unittest

from kernel import protocol
from kernel.protocol import Conn


class TestConn(unittest.TestCase):
    def setUp(self):
        ours, theirs = socket.socketpair()
        self.peer = ours
        self.conn = Conn(theirs.detach())
        self.addCleanup(ours.close)
        self.addCleanup(self.conn.sock.close)

    def frame(self, header, body=b""):
        h = json.dumps(header, separators=(",", ":")).encode()
        return struct.pack(">I", len(h)) + h + struct.pack(">I", len(body)) + body

    def test_frames_in_pieces(self):
        data = self.frame({"op": "exec", "id": 1}, b"body") + self.frame({"op": "ping", "id": 2})
        self.peer.sendall(data[:5])
        self.conn.fill()
        self.assertIsNone(self.conn.next_frame())
        self.peer.sendall(data[5:])
        self.assertEqual(self.conn.read_frame(), ({"op": "exec", "id": 1}, b"body"))
        self.assertEqual(self.conn.read_frame(), ({"op": "ping", "id": 2}, b""))
        self.peer.close()
        with self.assertRaises(EOFError):
            self.conn.read_frame()

    def test_descriptors(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        socket.send_fds(self.peer, [self.frame({"op": "load", "id": 3})], [r, w])
        self.conn.read_frame()
        (got,) = self.conn.take_fds(1)
        self.assertEqual(os.fstat(got).st_ino, os.fstat(r).st_ino)
        os.close(got)
        with self.assertRaisesRegex(ValueError, "expected 2 file descriptors, got 1"):
            self.conn.take_fds(2)
        stray = self.conn.fds[0]
        self.conn.close_stray_fds()
        with self.assertRaises(OSError):
            os.fstat(stray)

    def test_header_too_large(self):
        self.peer.sendall(struct.pack(">I", (256 << 20) + 1))
        self.conn.fill()
        with self.assertRaisesRegex(ValueError, "too large"):
            self.conn.next_frame()

    def test_send(self):
        self.conn.send({"type": "result", "id": 4}, b"{}")
        protocol.send_frame_fd(self.conn.fileno(), {"type": "fatal", "message": "m"})
        want = self.frame({"type": "result", "id": 4}, b"{}") + self.frame({"type": "fatal", "message": "m"})
        got = b""
        while len(got) < len(want):
            got += self.peer.recv(1 << 16)
        self.assertEqual(got, want)


class TestTasks(unittest.TestCase):
    def test_task_with_a_descriptor(self):
        kernel_end, child_end = socket.socketpair()
        self.addCleanup(kernel_end.close)
        self.addCleanup(child_end.close)
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        protocol.send_task(kernel_end, {"op": "profile", "code": "x" * 100000}, [r])
        header, fds = protocol.recv_task(child_end)
        self.assertEqual(header, {"op": "profile", "code": "x" * 100000})
        self.assertEqual(len(fds), 1)
        self.assertEqual(os.fstat(fds[0]).st_ino, os.fstat(r).st_ino)
        os.close(fds[0])
        protocol.send_task(kernel_end, {"op": "profile", "parsed_max": 10}, [r, w])
        header, fds = protocol.recv_task(child_end)
        self.assertEqual([os.fstat(fd).st_ino for fd in fds], [os.fstat(r).st_ino, os.fstat(w).st_ino])
        for fd in fds:
            os.close(fd)
        protocol.send_task(kernel_end, {"op": "exec"}, None)
        self.assertEqual(protocol.recv_task(child_end), ({"op": "exec"}, []))
        kernel_end.close()
        self.assertIsNone(protocol.recv_task(child_end))


if __name__ == "__main__":
    unittest.main()
