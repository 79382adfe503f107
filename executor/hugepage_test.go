package executor

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKernelKeepsHugePages checks the mechanism behind the executor's speed
// (kernel/hugepages.py): a kernel with a 100,000-row dataset loaded keeps
// much of its memory (40% at least; 60-70% measured) in huge pages while it
// serves executions, so that the fork and exit of each execution copy and
// free few page tables. Skipped where the host disables transparent huge
// pages. It also checks that the heap's reserve is given back after the load,
// or after the first execution of a kernel without datasets.
func TestKernelKeepsHugePages(t *testing.T) {
	if mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("transparent huge pages are disabled on this host")
	}
	e := shared(t)
	path := t.TempDir() + "/rows.csv"
	if err := writeCSV(path, 100_000); err != nil {
		t.Fatal(err)
	}
	ds := []Dataset{{Name: "rows", Path: path, Format: "csv"}}
	for range 200 { // the serve loop's own writes split some pages; they settle
		runOK(t, e, "huge-pages", ds, "x = df.shape")
	}
	anon, huge, heap := kernelMemory(t, kernelPID(t, e, "huge-pages", ds))
	t.Logf("kernel: %d MiB anonymous, %d MiB of it in huge pages; heap %d MiB", anon>>20, huge>>20, heap>>20)
	if anon == 0 || huge*5 < anon*2 {
		t.Errorf("%d of %d KiB of the kernel's anonymous memory in huge pages; want at least 40%%", huge>>10, anon>>10)
	}
	// Idle, the kernel collapses what the forks split back into huge pages
	// (MADV_COLLAPSE, Linux 6.1 on): 90% measured.
	if hasMadvCollapse() {
		err := waitFor(10*time.Second, func() bool {
			anon, huge, _ = kernelMemory(t, kernelPID(t, e, "huge-pages", ds))
			return huge*4 >= anon*3
		})
		t.Logf("kernel idle: %d MiB anonymous, %d MiB of it in huge pages", anon>>20, huge>>20)
		if err != nil {
			t.Errorf("idle kernel: %d of %d KiB of its anonymous memory in huge pages; want the split ones collapsed back (75%% at least)", huge>>10, anon>>10)
		}
	}
	// The heap was grown by a 512 MB reserve for the imports and the load;
	// what they left untouched is given back, so that it does not count in
	// the address-space limit of the executions.
	if heap == 0 || heap > 400<<20 {
		t.Errorf("kernel heap of %d MiB; want the unused reserve given back (under 400 MiB)", heap>>20)
	}

	runOK(t, e, "huge-pages-no-data", nil, "x = 1")
	if _, _, heap := kernelMemory(t, kernelPID(t, e, "huge-pages-no-data", nil)); heap == 0 || heap > 400<<20 {
		t.Errorf("heap of a kernel without datasets: %d MiB; want the unused reserve given back (under 400 MiB)", heap>>20)
	}
}

// kernelMemory returns the anonymous memory, the part of it in huge pages and
// the heap size (bytes) of the kernel in the process tree under pid: the
// process with the most memory among those with children (its spares); the
// supervisor above it is small.
func kernelMemory(t *testing.T, pid int) (anon, huge, heap uint64) {
	t.Helper()
	procs, err := descendants(pid)
	if err != nil {
		t.Fatal(err)
	}
	parents := map[int]bool{}
	for _, p := range procs {
		if pp, err := parentPID(p); err == nil {
			parents[pp] = true
		}
	}
	kernel := 0
	for _, p := range procs {
		if !parents[p] {
			continue
		}
		if kb, err := smapsRollup(p); err == nil && uint64(kb["Anonymous"])<<10 > anon {
			anon, huge, kernel = uint64(kb["Anonymous"])<<10, uint64(kb["AnonHugePages"])<<10, p
		}
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", kernel))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if !strings.HasSuffix(line, "[heap]") {
			continue
		}
		var lo, hi uint64
		if _, err := fmt.Sscanf(line, "%x-%x", &lo, &hi); err == nil {
			heap += hi - lo
		}
	}
	return anon, huge, heap
}

// hasMadvCollapse reports whether the host's Linux has MADV_COLLAPSE (6.1 on).
func hasMadvCollapse() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 6 || major == 6 && minor >= 1
}
