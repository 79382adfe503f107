package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gocloud.dev/blob"
)

// TestStores runs the same checks on every Store implementation.
func TestStores(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"local", func(t *testing.T) Store {
			s, err := OpenStore(context.Background(), "file://"+t.TempDir(), "")
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"blob-mem", func(t *testing.T) Store {
			b, err := blob.OpenBucket(context.Background(), "mem://")
			if err != nil {
				t.Fatal(err)
			}
			s := NewBlobStore(b, t.TempDir())
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"blob-file", func(t *testing.T) Store {
			// A gocloud URL other than file:// goes through BlobStore; use
			// fileblob directly to exercise it on disk.
			b, err := blob.OpenBucket(context.Background(), "file://"+t.TempDir()+"?create_dir=1")
			if err != nil {
				t.Fatal(err)
			}
			s := NewBlobStore(b, t.TempDir())
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			s := st.open(t)
			const key = "datasets/usr_1/dts_1.csv"
			content := "a,b\n1,2\n"

			got, err := s.Put(ctx, key, strings.NewReader(content), 100)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(content))
			if got.Size != int64(len(content)) || got.SHA256 != hex.EncodeToString(sum[:]) || string(got.Head) != content {
				t.Fatalf("Put = %+v", got)
			}
			p, err := s.Path(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(p); err != nil || string(b) != content {
				t.Fatalf("Path content = %q, %v", b, err)
			}

			// Concurrent Paths agree.
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if q, err := s.Path(ctx, key); err != nil || q != p {
						t.Errorf("concurrent Path = %q, %v", q, err)
					}
				})
			}
			wg.Wait()

			// Oversized: ErrTooLarge and nothing stored.
			_, err = s.Put(ctx, "datasets/usr_1/big.csv", strings.NewReader(strings.Repeat("x", 101)), 100)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("oversized Put: %v", err)
			}
			if q, err := s.Path(ctx, "datasets/usr_1/big.csv"); err == nil {
				if _, err := os.Stat(q); err == nil {
					t.Fatal("an oversized upload left a file behind")
				}
			}
			if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*")); len(entries) != 0 {
				t.Fatalf("temporary files left: %v", entries)
			}

			// PutFile moves a file in; Path finds it.
			src := filepath.Join(filepath.Dir(p), ".parsed-test")
			if err := os.WriteFile(src, []byte("parsed"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := s.PutFile(ctx, ParsedKey(key), src); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("PutFile left its file: %v", err)
			}
			if q, err := s.Path(ctx, ParsedKey(key)); err != nil {
				t.Fatal(err)
			} else if b, err := os.ReadFile(q); err != nil || string(b) != "parsed" {
				t.Fatalf("PutFile then Path: %q, %v", b, err)
			}
			if err := s.Delete(ctx, ParsedKey(key)); err != nil {
				t.Fatal(err)
			}

			// Bad keys are refused.
			for _, bad := range []string{"", "../x", "a/../../x", "/etc/passwd", "a//b", ".hidden"} {
				if _, err := s.Put(ctx, bad, strings.NewReader("x"), 10); err == nil {
					t.Errorf("Put(%q) accepted", bad)
				}
			}

			// Delete removes, and is idempotent.
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("second Delete: %v", err)
			}
			if q, err := s.Path(ctx, key); err == nil {
				if _, err := os.Stat(q); err == nil {
					t.Fatal("file still there after Delete")
				}
			}
		})
	}
}
