package dataset

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// hostileBudget is how long a hostile file may hold an upload before it is
// refused: seconds, not the execution time limit (EXEC_TIMEOUT, 120s). It
// leaves room for a loaded machine; the checks themselves take milliseconds.
const hostileBudget = 10 * time.Second

// TestUploadRefusesHostileFiles uploads (and inspects) files made to hold a
// sandbox: a workbook whose sheet inflates to 1 GiB, a 50 MB CSV of one line,
// a CSV of 100,000 columns. Each is refused as BAD_USER_INPUT within seconds,
// with a message naming the limit, and leaves no dataset row and no blob.
func TestUploadRefusesHostileFiles(t *testing.T) {
	s, ctx := newService(t)
	s.MaxBytes = DefaultMaxBytes
	dir := t.TempDir()
	tests := []struct {
		name, file string
		write      func(io.Writer) error
		want       string
	}{
		{"xlsx whose sheet inflates to 1 GiB", "bomb.xlsx", writeXLSXBomb, "DATASET_XLSX_MAX_"},
		{"50 MB one-line CSV", "line.csv", writeOneLineCSV, "DATASET_MAX_"},
		{"100,000-column CSV", "wide.csv", writeWideCSV, "DATASET_MAX_COLUMNS"},
	}
	// A first upload starts the kernel that reads datasets: the timings
	// below are the reads', not a Python start-up's.
	if _, err := s.Upload(ctx, UploadInput{File: strings.NewReader("a,b\n1,2\n"), FileName: "warm.csv"}); err != nil {
		t.Fatal(err)
	}
	store := s.Store.(*LocalStore).Dir
	before := blobs(t, store)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if err := writeFile(path, tt.write); err != nil {
				t.Fatal(err)
			}
			for _, op := range []string{"upload", "inspect"} {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if op == "upload" {
					_, err = s.Upload(ctx, UploadInput{File: f, FileName: tt.file})
				} else {
					_, err = s.Inspect(ctx, f, tt.file, "")
				}
				took := time.Since(start)
				f.Close()
				t.Logf("%s: %s: %v", op, took.Round(time.Millisecond), err)
				if errcode.Of(err) != errcode.BadUserInput || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: got %v (%s), want BAD_USER_INPUT naming %s", op, err, errcode.Of(err), tt.want)
				}
				if took > hostileBudget {
					t.Errorf("%s: refused after %s, want within %s", op, took.Round(time.Millisecond), hostileBudget)
				}
			}
			if n := s.DB.Dataset.Query().CountX(ctx); n != 1 {
				t.Errorf("%d datasets stored, want only the first upload's", n)
			}
			if after := blobs(t, store); after != before {
				t.Errorf("blobs left in the store: %s (before: %s)", after, before)
			}
		})
	}
}

// writeFile writes the file at path with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// blobs lists the files under dir.
func blobs(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// writeOneLineCSV writes 50 MB of one line of quoted fields, "a","a",…,
// without a line end: pandas took the whole EXEC_TIMEOUT over it.
func writeOneLineCSV(w io.Writer) error {
	_, err := w.Write(bytes.Repeat([]byte(`"a",`), (50<<20)/4))
	return err
}

// writeWideCSV writes a CSV of 100,000 columns and 5 rows.
func writeWideCSV(w io.Writer) error {
	const cols = 100000
	var b bytes.Buffer
	for r := -1; r < 5; r++ {
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			if r < 0 {
				fmt.Fprintf(&b, "c%d", c)
			} else {
				fmt.Fprintf(&b, "%d", (c*r)%97)
			}
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeXLSXBomb writes testdata/regions.xlsx with its first sheet replaced
// by one whose XML inflates to 1 GiB (41 million rows of one number) from
// about 1 MB: the deflate stream of 1 MiB of rows, repeated.
func writeXLSXBomb(w io.Writer) error {
	src, err := zip.OpenReader("../e2e/testdata/regions.xlsx")
	if err != nil {
		return err
	}
	defer src.Close()
	const row = "<row><c><v>1</v></c></row>"
	chunk := []byte(strings.Repeat(row, (1<<20)/len(row)))
	head := []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	tail := []byte(`</sheetData></worksheet>`)
	const repeats = 1 << 10
	zw := zip.NewWriter(w)
	for _, f := range src.File {
		if f.Name != "xl/worksheets/sheet1.xml" {
			if err := zw.Copy(f); err != nil {
				return err
			}
			continue
		}
		var body bytes.Buffer
		crc := crc32.Update(0, crc32.IEEETable, head)
		size := uint64(len(head) + len(tail) + repeats*len(chunk))
		body.Write(deflated(head, false))
		piece := deflated(chunk, false)
		for range repeats {
			body.Write(piece)
			crc = crc32.Update(crc, crc32.IEEETable, chunk)
		}
		crc = crc32.Update(crc, crc32.IEEETable, tail)
		body.Write(deflated(tail, true))
		fw, err := zw.CreateRaw(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(body.Len()), UncompressedSize64: size})
		if err != nil {
			return err
		}
		if _, err := fw.Write(body.Bytes()); err != nil {
			return err
		}
	}
	return zw.Close()
}

// deflated returns p as deflate blocks that refer to nothing before them,
// so that they can follow any other such blocks; last ends the stream.
func deflated(p []byte, last bool) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	fw.Write(p)
	if last {
		fw.Close()
	} else {
		fw.Flush()
	}
	return b.Bytes()
}

// TestReadLimitErrors checks that a read over a limit, its time included,
// is BAD_USER_INPUT with the executor's message as it is (it names the
// limit and its setting).
func TestReadLimitErrors(t *testing.T) {
	msg := "the file took longer than 20s to read (DATASET_READ_TIMEOUT); upload a smaller file"
	err := readError(context.Background(), fmt.Errorf("%w: %w", executor.ErrDatasetLimit,
		&executor.Error{Type: "TimeoutError", Message: msg}), "CSV", "k")
	if e, ok := errcode.As(err); !ok || e.Code != errcode.BadUserInput || e.Field != "file" || e.Message != msg {
		t.Errorf("got %#v, want BAD_USER_INPUT on file saying %q", err, msg)
	}
	err = readError(context.Background(), fmt.Errorf("%w: %w", executor.ErrDatasetLoad,
		&executor.Error{Type: "ParserError", Message: "bad"}), "CSV", "k")
	if e, ok := errcode.As(err); !ok || e.Message != "could not be read as CSV: ParserError: bad" {
		t.Errorf("another read error: %v", err)
	}
}
