package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ProfileParsed is Profile that also has the sandboxed reader write ds's
// parsed form to out: the cleaned DataFrame it read, with every column (not
// only ds.Columns), its format and sheet, pickled (protocol 5), that a
// kernel reads in place of the file when Dataset.Parsed names it. out must
// be an empty file open for writing; the reader writes it through a
// descriptor (the sandbox has no path to it), at most maxBytes (it stops
// past them: its file-size limit, RLIMIT_FSIZE, is set to the larger of
// maxBytes and Config.TmpSizeBytes), and only when its read left it half
// of Config.ReadTimeout.
//
// The parsed form is best effort: the ParsedForm says how many bytes were
// written, checked against out's size, or why none were (ParsedForm.Problem;
// out may then hold a part of one, not to be kept). The error is the
// profile's, as Profile's. The server never parses the parsed form: it only
// stores it. ProfileParsed is safe for concurrent use.
func (e *Executor) ProfileParsed(ctx context.Context, ds Dataset, out *os.File, maxBytes int64) (*Profile, ParsedForm, error) {
	if maxBytes <= 0 {
		return nil, ParsedForm{}, fmt.Errorf("%w: a parsed form of at most %d bytes", ErrInvalidRequest, maxBytes)
	}
	var prof *Profile
	var pf ParsedForm
	err := e.withReader(ctx, ds, func(k *kernel, ds Dataset) error {
		var err error
		prof, pf, err = k.profileParsed(ctx, ds, out, maxBytes, e.s.ReadTimeout)
		return err
	})
	return prof, pf, err
}

// profileParsed is profile that also has the child write the dataset's
// parsed form, of at most maxBytes, to out (see Executor.ProfileParsed).
func (k *kernel) profileParsed(ctx context.Context, ds Dataset, out *os.File, maxBytes int64, timeout time.Duration) (*Profile, ParsedForm, error) {
	// run closes the descriptors it sends: the child gets a duplicate, and
	// out stays the caller's.
	dup, err := dupFile(out)
	if err != nil {
		return nil, ParsedForm{}, fmt.Errorf("%w: the parsed form's file: %w", ErrKernel, err)
	}
	defer dup.Close()
	cr, err := k.readTask(ctx, request{Op: "profile", ParsedMax: maxBytes}, ds, timeout, dup)
	if err != nil {
		return nil, ParsedForm{}, err
	}
	if cr.Profile == nil {
		return nil, ParsedForm{}, fmt.Errorf("%w: the profile is missing", ErrKernel)
	}
	return cr.Profile, checkParsed(cr.Parsed, out, maxBytes), nil
}

// dupFile returns a duplicate of f's descriptor, closed on exec.
func dupFile(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var dupErr error
	// Under ForkLock, as os does: no process started meanwhile inherits it.
	syscall.ForkLock.RLock()
	err = sc.Control(func(fd uintptr) {
		dup, dupErr = syscall.Dup(int(fd))
		if dupErr == nil {
			syscall.CloseOnExec(dup)
		}
	})
	syscall.ForkLock.RUnlock()
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	return os.NewFile(uintptr(dup), f.Name()), nil
}

// checkParsed returns what the child said it wrote of a parsed form (got)
// once out's size agrees with it and is within maxBytes, or why none is
// to be kept.
func checkParsed(got *ParsedForm, out *os.File, maxBytes int64) ParsedForm {
	switch {
	case got == nil:
		return ParsedForm{Problem: "the reader wrote none"}
	case got.Problem != "":
		return ParsedForm{Problem: got.Problem}
	case got.Bytes <= 0:
		return ParsedForm{Problem: "the reader wrote none"}
	}
	fi, err := out.Stat()
	switch {
	case err != nil:
		return ParsedForm{Problem: fmt.Sprintf("stat: %v", err)}
	case fi.Size() > maxBytes:
		return ParsedForm{Problem: fmt.Sprintf("%d bytes, over the bound of %d", fi.Size(), maxBytes)}
	case fi.Size() != got.Bytes:
		return ParsedForm{Problem: fmt.Sprintf("the file has %d bytes, the reader wrote %d", fi.Size(), got.Bytes)}
	}
	return ParsedForm{Bytes: got.Bytes}
}

// normalizeParsed returns parsed (Dataset.Parsed) made absolute, or "" when it names no
// regular file: a dataset without a usable parsed form is read from its
// file.
func normalizeParsed(parsed string) string {
	if parsed == "" {
		return ""
	}
	p, err := filepath.Abs(parsed)
	if err != nil {
		return ""
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}
