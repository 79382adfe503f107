"""Unit tests of the kernel package's parts that need no sandbox: reading,
sniffing and cleaning datasets, describing errors, capturing output,
figures and tables, the wire format, and the loader the Go executor starts.

Run from executor/: `python3 -B -m unittest discover -s kernel/tests -t .`
(`make test-python`), with Debian's Python and its data stack.
"""
