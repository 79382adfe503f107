"""Tests of kernel.errors: agent blocks, the limits errors come from, and
the description of an execution's error (type, message, line, agent,
traceback without the kernel's frames)."""

import errno
import linecache
import unittest
from unittest import mock

from kernel import config, errors
from kernel.errors import CODE_FILE

AGENTS = """x = 1
# preprocessing_agent code start
y = x + 1
# preprocessing_agent code end
# data_viz_agent code start
z = y * 2
w = undefined_name
"""


def raised(code):
    """Runs code as an execution does (compiled as CODE_FILE) and returns
    what it raised."""
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
    try:
        exec(compile(code, CODE_FILE, "exec"), {})
    except BaseException as e:  # noqa: B036
        return e
    raise AssertionError("the code raised nothing")


class TestAgentBlocks(unittest.TestCase):
    def test_blocks(self):
        # The second block has no end: it runs to the last line.
        self.assertEqual(errors.agent_blocks(AGENTS), [("preprocessing_agent", 2, 4), ("data_viz_agent", 5, 7)])

    def test_start_without_end_before_another(self):
        code = "# a code start\nx\n# b code start\ny\n# B CODE END\nz"
        self.assertEqual(errors.agent_blocks(code), [("a", 1, 2), ("b", 3, 5)])

    def test_agent_for_line(self):
        self.assertEqual(errors.agent_for_line(AGENTS, 1), "")
        self.assertEqual(errors.agent_for_line(AGENTS, 3), "preprocessing_agent")
        self.assertEqual(errors.agent_for_line(AGENTS, 7), "data_viz_agent")
        self.assertEqual(errors.agent_for_line(AGENTS, 0), "")


class TestDescribeError(unittest.TestCase):
    def describe(self, code):
        return errors.describe_error(raised(code), code)

    def test_name_error_in_an_agent_block(self):
        d = self.describe(AGENTS)
        self.assertEqual((d["type"], d["message"], d["line"], d["agent"]),
                         ("NameError", "name 'undefined_name' is not defined", 7, "data_viz_agent"))
        self.assertTrue(d["traceback"].startswith("Traceback (most recent call last):\n  File \"<code>\", line 7"))
        self.assertIn("w = undefined_name", d["traceback"])
        self.assertNotIn("test_errors", d["traceback"])  # the frames before the code's are left out

    def test_line_of_the_code_not_of_the_library(self):
        code = "import json\n\ndef f(s):\n    return json.loads(s)\n\nf('{')"
        d = self.describe(code)
        self.assertEqual((d["type"], d["line"]), ("JSONDecodeError", 4))
        self.assertIn("json/decoder.py", d["traceback"])

    def test_syntax_error(self):
        code = "x = 1\nif x\n    print(x)"
        try:
            compile(code, CODE_FILE, "exec")
        except SyntaxError as e:
            d = errors.describe_error(e, code)
        self.assertEqual((d["type"], d["message"], d["line"]), ("SyntaxError", "expected ':'", 2))

    def test_long_message_cut(self):
        d = self.describe("raise ValueError('x' * 20000)")
        self.assertEqual(len(d["message"]), errors.MAX_MESSAGE)
        self.assertLessEqual(len(d["traceback"]), errors.MAX_TRACEBACK)

    def test_unprintable(self):
        d = self.describe("class E(Exception):\n    def __str__(self):\n        raise RuntimeError\nraise E()")
        self.assertEqual((d["type"], d["message"]), ("E", "<unprintable E>"))

    def test_memory_limit(self):
        with mock.patch.object(config, "MEMORY", 2 << 30):
            d = self.describe("raise MemoryError")
        self.assertEqual(d["type"], "MemoryError")
        self.assertEqual(d["message"], "this execution reached the memory limit of 2 GiB")
        with mock.patch.object(config, "MEMORY", 0):
            d = self.describe("raise MemoryError('big')")
        self.assertEqual(d["message"], "big (this execution reached the available memory)")

    def test_tmp_limit(self):
        with mock.patch.object(config, "TMP_SIZE", 64 << 20):
            d = self.describe("import errno, os\nraise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))")
        self.assertIn("(this execution reached the 64 MiB limit of /tmp and of any file it writes)", d["message"])

    def test_process_limit(self):
        with mock.patch.object(config, "NPROC", 256):
            d = self.describe("raise RuntimeError(\"can't start new thread\")")
            self.assertIn("its limit of 256 processes and threads", d["message"])
            # EAGAIN where a process is started (a line that forks)...
            pipe = "import os\nr, w = os.pipe()\nos.set_blocking(r, False)\n"
            d = self.describe(pipe + "pid = os.fork() if False else os.read(r, 1)")
            self.assertIn("(this execution reached its limit of 256 processes", d["message"])
            # ...but not on non-blocking I/O.
            d = self.describe(pipe + "data = os.read(r, 1)")
            self.assertEqual((d["type"], d["message"]), ("BlockingIOError", "[Errno 11] Resource temporarily unavailable"))

    def test_limit_reached_otherwise_empty(self):
        self.assertEqual(errors.limit_reached(OSError(errno.ENOENT, "missing")), "")
        self.assertEqual(errors.limit_reached(ValueError("x")), "")


if __name__ == "__main__":
    unittest.main()
