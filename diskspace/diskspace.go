// Package diskspace checks that the file systems the server writes to (its
// data folder, the blob folder) have room left, for the readiness check: a
// full disk makes uploads, sign-ups and runs fail, and an operator should see
// why before users do.
package diskspace

import (
	"context"
	"fmt"
	"syscall"
)

// Free returns the bytes available to an unprivileged user on the file
// system holding path.
func Free(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Check returns a readiness check that fails while the file system holding
// path has less than minFree bytes available, naming what is left. The check
// is safe for concurrent use.
func Check(path string, minFree uint64) func(context.Context) error {
	return func(context.Context) error {
		free, err := Free(path)
		if err != nil {
			return err
		}
		if free < minFree {
			return fmt.Errorf("disk full: %d MiB free under %s, %d MiB needed", free>>20, path, minFree>>20)
		}
		return nil
	}
}
