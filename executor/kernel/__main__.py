"""Runs the kernel from a directory holding the package, for development:
`python3 -m kernel '<config JSON>'` with the control socket on fd 3. The Go
executor does not use it: its loader (kernel_loader.py) calls
kernel.kernel.main itself."""

from .kernel import main

if __name__ == "__main__":
    main()
