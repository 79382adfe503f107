package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrTooLarge is returned by Store.Put when the content exceeds the limit.
var ErrTooLarge = errors.New("dataset: file too large")

// Stored describes a file written to the store.
type Stored struct {
	Key    string
	Size   int64
	SHA256 string
	// Head is the first bytes of the file, for format checks.
	Head []byte
}

// Store keeps uploaded files. Safe for concurrent use.
type Store interface {
	// Put streams r into the store under key, refusing more than max bytes.
	Put(ctx context.Context, key string, r io.Reader, max int64) (*Stored, error)
	// PutFile moves the local file at path into the store under key: it
	// is gone once PutFile succeeds (on an error the caller removes it).
	PutFile(ctx context.Context, key, path string) error
	// Path returns a local file path for key, for mounting into the sandbox.
	Path(ctx context.Context, key string) (string, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// LocalStore keeps files in a directory. Safe for concurrent use.
type LocalStore struct {
	Dir string
}

func (s *LocalStore) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, filepath.FromSlash(key)), nil
}

// Put implements Store. It writes to a temporary file and renames it into
// place, so a failed or oversized upload leaves nothing behind.
func (s *LocalStore) Put(ctx context.Context, key string, r io.Reader, max int64) (*Stored, error) {
	dst, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, fmt.Errorf("create storage directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".upload-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	head := &headWriter{max: 8192}
	n, err := io.Copy(io.MultiWriter(tmp, h, head), io.LimitReader(ctxReader{ctx, r}, max+1))
	if err != nil {
		return nil, fmt.Errorf("write upload: %w", err)
	}
	if n > max {
		return nil, ErrTooLarge
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write upload: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	ok = true
	return &Stored{Key: key, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Head: head.b}, nil
}

// PutFile implements Store: it renames the file into place (path must be
// on the store's file system: a file beside a stored one is).
func (s *LocalStore) PutFile(_ context.Context, key, path string) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("create storage directory: %w", err)
	}
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Path implements Store.
func (s *LocalStore) Path(_ context.Context, key string) (string, error) {
	return s.path(key)
}

// Delete implements Store.
func (s *LocalStore) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

type headWriter struct {
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		w.b = append(w.b, p[:room]...)
	}
	return len(p), nil
}

// ctxReader stops a copy when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
