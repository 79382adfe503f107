package executor

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestKernelModules checks what the binary passes to the kernel's loader: every
// module of the package kernel/ (not its tests), one argument each, named by
// its path, each argument short enough for execve.
func TestKernelModules(t *testing.T) {
	seen := map[string]bool{}
	for _, arg := range kernelModules {
		name, src, ok := strings.Cut(arg, "\n")
		if !ok || !strings.HasPrefix(name, "kernel/") || !strings.HasSuffix(name, ".py") || strings.Count(name, "/") != 1 {
			t.Errorf("argument %.60q: not a module of the package kernel/", arg)
		}
		if len(arg) >= 128<<10 {
			t.Errorf("%s: %d bytes, beyond MAX_ARG_STRLEN", name, len(arg))
		}
		if !strings.HasPrefix(src, `"""`) {
			t.Errorf("%s: no module docstring", name)
		}
		seen[name] = true
	}
	for _, want := range []string{"kernel/__init__.py", "kernel/kernel.py", "kernel/protocol.py"} {
		if !seen[want] {
			t.Errorf("%s is not passed to the loader (got %d modules)", want, len(seen))
		}
	}
	if !strings.Contains(kernelLoader, "def run():") {
		t.Error("kernelLoader is not kernel_loader.py")
	}
}

// TestPackageArgs checks packageArgs on a package with a subdirectory and a
// file that is not Python: neither is passed.
func TestPackageArgs(t *testing.T) {
	fsys := fstest.MapFS{
		"pkg/b.py":          {Data: []byte("B")},
		"pkg/__init__.py":   {Data: []byte("")},
		"pkg/notes.txt":     {Data: []byte("x")},
		"pkg/tests/test.py": {Data: []byte("T")},
	}
	got := strings.Join(packageArgs(fsys, "pkg"), "|")
	if want := "pkg/__init__.py\n|pkg/b.py\nB"; got != want {
		t.Errorf("packageArgs = %q, want %q", got, want)
	}
}
