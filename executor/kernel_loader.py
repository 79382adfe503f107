"""Starts the Auto-Analyst kernel from its sources, passed on the command line.

The Go executor runs `python3 -s -B -c <this file> <config JSON> <module>...`,
each <module> the path of one file of the kernel package (kernel/capture.py),
a newline, and its source: the package (executor/kernel/*.py) is embedded in
the binary and needs nothing on the host's file system, nor a mount in the
sandbox. This file installs an importer of those sources, leaves sys.argv as
["-c", <config JSON>], and runs kernel.kernel.main (run).
"""

import sys

if __name__ == "__main__" and sys.path and sys.path[0] in ("", "."):
    del sys.path[0]  # the current directory: nothing is imported from it

import importlib.machinery
import linecache


class SourceImporter:
    """Finds and loads the modules of the package from their sources (a meta
    path finder and its loader). Their file names are their paths in the
    package, their lines in linecache for tracebacks."""

    def __init__(self, sources):
        self.sources = sources  # path ("kernel/capture.py") -> source

    def find_spec(self, name, path=None, target=None):
        base = name.replace(".", "/")
        for origin, package in ((base + "/__init__.py", True), (base + ".py", False)):
            if origin in self.sources:
                spec = importlib.machinery.ModuleSpec(name, self, origin=origin, is_package=package)
                spec.has_location = True
                return spec
        return None

    def create_module(self, spec):
        return None  # the default module

    def exec_module(self, module):
        origin = module.__spec__.origin
        exec(compile(self.sources[origin], origin, "exec", dont_inherit=True), module.__dict__)

    def get_source(self, name):
        spec = self.find_spec(name)
        return None if spec is None else self.sources[spec.origin]


def install(args):
    """Installs the importer of the modules in args ("path\\nsource" each)."""
    sources = {}
    for arg in args:
        path, _, source = arg.partition("\n")
        sources[path] = source
        linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    sys.meta_path.insert(0, SourceImporter(sources))


def run():
    """Installs the modules passed after the configuration and runs the kernel."""
    install(sys.argv[2:])
    del sys.argv[2:]
    from kernel.kernel import main

    main()


if __name__ == "__main__":  # as the -c program; tests import it
    run()
