package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets (tests, shared mounts through gocloud)
	_ "gocloud.dev/blob/memblob"  // mem:// buckets (tests)
	_ "gocloud.dev/blob/s3blob"   // s3:// buckets (AWS S3, MinIO, R2, ...)
	"gocloud.dev/gcerrors"
)

// OpenStore opens the store named by a BLOB_URL. A file:// URL (or a plain
// path) is a LocalStore on that directory: the sandbox reads its files in
// place, and several machines share it when it is a shared mount. Any other
// URL is a gocloud.dev bucket (s3://bucket?region=..., mem://) whose files are
// cached under cacheDir on the machine that executes code.
func OpenStore(ctx context.Context, blobURL, cacheDir string) (Store, error) {
	u, err := url.Parse(blobURL)
	if err != nil {
		return nil, fmt.Errorf("blob URL: %w", err)
	}
	if u.Scheme == "" || u.Scheme == "file" {
		dir := u.Path
		if u.Scheme == "file" && u.Host != "" { // file://./data/blobs
			dir = u.Host + u.Path
		}
		if dir == "" {
			return nil, fmt.Errorf("blob URL %q names no directory", blobURL)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("blob directory: %w", err)
		}
		return &LocalStore{Dir: dir}, nil
	}
	b, err := blob.OpenBucket(ctx, blobURL)
	if err != nil {
		return nil, fmt.Errorf("open blob bucket %s://%s: %w", u.Scheme, u.Host, err)
	}
	return NewBlobStore(b, cacheDir), nil
}

// BlobStore keeps files in a gocloud.dev bucket and caches the ones code runs
// on in a local directory: stored files never change, so a cached copy stays
// valid until Delete. It is safe for concurrent use.
type BlobStore struct {
	bucket   *blob.Bucket
	cacheDir string

	mu      sync.Mutex
	loading map[string]*fetch
}

type fetch struct {
	done chan struct{}
	err  error
}

// NewBlobStore returns a store on bucket, caching files under cacheDir.
func NewBlobStore(bucket *blob.Bucket, cacheDir string) *BlobStore {
	return &BlobStore{bucket: bucket, cacheDir: cacheDir, loading: map[string]*fetch{}}
}

// keyRE is what a storage key may look like: the service makes them from ids.
// Segments start with a letter or digit, so ".." cannot appear as one.
var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

func checkKey(key string) error {
	if len(key) > 300 || !keyRE.MatchString(key) {
		return fmt.Errorf("dataset: bad storage key %q", key)
	}
	return nil
}

// Put implements Store. The upload streams to the bucket; an oversized or
// failed one is aborted and leaves nothing behind.
func (s *BlobStore) Put(ctx context.Context, key string, r io.Reader, max int64) (*Stored, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	h := sha256.New()
	head := &headWriter{max: 8192}
	n, err := io.Copy(io.MultiWriter(w, h, head), io.LimitReader(ctxReader{ctx, r}, max+1))
	if err == nil && n > max {
		err = ErrTooLarge
	}
	if err != nil {
		cancel() // a canceled writer discards what it wrote
		_ = w.Close()
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("write blob %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write blob %s: %w", key, err)
	}
	return &Stored{Key: key, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Head: head.b}, nil
}

// PutFile implements Store: it uploads the file and moves it into the
// cache, where Path finds it without a download.
func (s *BlobStore) PutFile(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	_, err = s.Put(ctx, key, f, math.MaxInt64-1)
	f.Close()
	if err != nil {
		return err
	}
	dst := filepath.Join(s.cacheDir, key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err == nil && os.Rename(path, dst) == nil {
		return nil
	}
	// Not cached: Path downloads it when asked.
	os.Remove(path)
	return nil
}

// Path implements Store: it downloads key into the cache once (concurrent
// callers wait for the same download) and returns the cached file.
func (s *BlobStore) Path(ctx context.Context, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	dst := filepath.Join(s.cacheDir, key)
	for {
		if _, err := os.Stat(dst); err == nil {
			return dst, nil
		}
		s.mu.Lock()
		f, busy := s.loading[key]
		if !busy {
			f = &fetch{done: make(chan struct{})}
			s.loading[key] = f
			s.mu.Unlock()
			f.err = s.download(ctx, key, dst)
			s.mu.Lock()
			delete(s.loading, key)
			s.mu.Unlock()
			close(f.done)
			if f.err != nil {
				return "", f.err
			}
			return dst, nil
		}
		s.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil && ctx.Err() == nil {
				continue // the other caller's download failed (maybe its ctx ended): try ourselves
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (s *BlobStore) download(ctx context.Context, key, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("create blob cache: %w", err)
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return fmt.Errorf("blob %s: %w", key, os.ErrNotExist)
		}
		return fmt.Errorf("read blob %s: %w", key, err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".fetch-*")
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("download blob %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("download blob %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("cache blob %s: %w", key, err)
	}
	return nil
}

// Delete implements Store: it removes the blob and the cached copy.
func (s *BlobStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	if err := os.Remove(filepath.Join(s.cacheDir, key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete cached blob %s: %w", key, err)
	}
	return nil
}

// Close closes the bucket.
func (s *BlobStore) Close() error { return s.bucket.Close() }
