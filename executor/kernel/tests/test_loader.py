"""Tests of executor/kernel_loader.py, the program the Go executor starts
the kernel with: it imports the package from sources passed as arguments
(never from the file system), keeps argv[1] for the kernel, and gives
tracebacks the kernel's source lines."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

EXECUTOR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOADER = os.path.join(EXECUTOR, "kernel_loader.py")


def package_args(files):
    """The loader's arguments for files (path -> source), as the Go
    executor's packageArgs builds them."""
    return [path + "\n" + source for path, source in sorted(files.items())]


def real_package():
    """The files of the kernel package, as the Go executor embeds them."""
    files = {}
    for path in sorted(glob.glob(os.path.join(EXECUTOR, "kernel", "*.py"))):
        with open(path) as f:
            files["kernel/" + os.path.basename(path)] = f.read()
    return files


def python(args, cwd):
    """Runs Debian's Python (this one) with args in cwd; returns its stdout."""
    out = subprocess.run([sys.executable, *args], cwd=cwd, env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("exit %d: %s" % (out.returncode, out.stderr))
    return out.stdout


class TestLoader(unittest.TestCase):
    def setUp(self):
        with open(LOADER) as f:
            self.loader = f.read()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.cwd = tmp.name

    def test_runs_the_package_from_its_arguments(self):
        fake = {
            "kernel/__init__.py": "",
            "kernel/other.py": "VALUE = 'from the arguments'\n",
            "kernel/kernel.py": textwrap.dedent("""\
                import json, sys, traceback
                from .other import VALUE

                def main():
                    try:
                        raise ValueError(VALUE)
                    except ValueError:
                        tb = traceback.format_exc()
                    print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "tb": tb,
                                      "file": sys.modules["kernel.other"].__file__}))
                """),
        }
        # A package of the same name in the current directory is not used.
        os.mkdir(os.path.join(self.cwd, "kernel"))
        for name in ("__init__.py", "kernel.py"):
            with open(os.path.join(self.cwd, "kernel", name), "w") as f:
                f.write("raise SystemExit('imported from the current directory')\n")
        out = json.loads(python(["-s", "-B", "-c", self.loader, '{"memory": 1}', *package_args(fake)], self.cwd))
        self.assertEqual(out["argv"], ["-c", '{"memory": 1}'])
        self.assertNotIn(out["path0"], ("", "."))
        self.assertEqual(out["file"], "kernel/other.py")
        self.assertIn('File "kernel/kernel.py", line 6, in main\n    raise ValueError(VALUE)\n', out["tb"])
        self.assertIn("ValueError: from the arguments", out["tb"])

    def test_imports_the_real_package(self):
        # Every module of the package imports from the arguments alone (the
        # data stack is imported only once the kernel runs).
        check = textwrap.dedent("""\
            import importlib.util, json, sys
            spec = importlib.util.spec_from_file_location("kernel_loader", sys.argv[1])
            loader = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loader)
            loader.install(sys.argv[2:])
            import kernel.kernel, kernel.__main__
            mods = {n: type(m.__loader__).__name__ for n, m in sys.modules.items() if n.split(".")[0] == "kernel"}
            print(json.dumps({"mods": mods, "pandas": "pandas" in sys.modules}))
            """)
        files = real_package()
        out = json.loads(python(["-s", "-B", "-c", check, LOADER, *package_args(files)], "/"))
        want = {p[:-3].replace("/", ".").replace(".__init__", ""): "SourceImporter" for p in files}
        self.assertEqual(out["mods"], want)
        self.assertFalse(out["pandas"])

    def test_arguments_fit(self):
        # Linux refuses a single argument of 128 KiB or more (MAX_ARG_STRLEN).
        for arg in package_args(real_package()):
            self.assertLess(len(arg.encode()), 128 << 10, arg.partition("\n")[0])


if __name__ == "__main__":
    unittest.main()
