package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/column"
	"github.com/autoanalyst/autoanalyst/ent"
	entdataset "github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// DefaultMaxBytes is the default upload limit (UPLOAD_MAX_BYTES).
const DefaultMaxBytes = 100 << 20

// Profiler reads datasets inside the sandbox: the server never parses an
// uploaded file itself.
type Profiler interface {
	// Profile describes a dataset's rows and columns.
	Profile(ctx context.Context, ds executor.Dataset) (*executor.Profile, error)
	// Preview returns a dataset's first rows.
	Preview(ctx context.Context, ds executor.Dataset, limit int) (*executor.Preview, error)
	// Inspect looks at a file before it is stored.
	Inspect(ctx context.Context, ds executor.Dataset) (*executor.Inspection, error)
	// ProfileParsed is Profile that also writes the dataset's parsed form
	// to out, at most maxBytes (see executor.Executor.ProfileParsed).
	ProfileParsed(ctx context.Context, ds executor.Dataset, out *os.File, maxBytes int64) (*executor.Profile, executor.ParsedForm, error)
}

// Service stores and profiles uploads. Safe for concurrent use.
type Service struct {
	DB       *ent.Client
	Store    Store
	Profiler Profiler
	MaxBytes int64

	// noParsed holds the storage keys of datasets known to have no parsed
	// form (stored before parsed forms, or whose form was not written):
	// a form is stored with its dataset or never, so Files asks the store
	// (a bucket request with a BlobStore) once per dataset, not per run.
	noParsed sync.Map
}

// UploadInput is one uploaded file.
type UploadInput struct {
	File        io.Reader
	FileName    string
	Name        string
	Description string
	// Sheets are the Excel sheets to store, each as its own dataset (empty:
	// the first sheet).
	Sheets []string
	// Columns are the columns to keep, in this order (empty: all).
	Columns []string
}

// formats maps file extensions to the stored format.
var formats = map[string]entdataset.Format{
	".csv":  entdataset.FormatCSV,
	".tsv":  entdataset.FormatCSV,
	".txt":  entdataset.FormatCSV,
	".xlsx": entdataset.FormatXLSX,
	".xls":  entdataset.FormatXLS,
	".json": entdataset.FormatJSON,
}

// maxSheets bounds the sheets one upload stores.
const maxSheets = 20

// Upload streams the file to storage, profiles it (each sheet asked for) and
// stores one Dataset per sheet, owned by the viewer in ctx.
func (s *Service) Upload(ctx context.Context, in UploadInput) ([]*ent.Dataset, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	fileName, format, err := checkFileName(in.FileName)
	if err != nil {
		return nil, err
	}
	if len(in.Description) > MaxDescriptionBytes {
		return nil, errcode.Field("description", "at most %d bytes", MaxDescriptionBytes)
	}
	sheets, err := cleanList("sheets", in.Sheets, maxSheets)
	if err != nil {
		return nil, err
	}
	if len(sheets) > 0 && !hasSheets(format) {
		return nil, errcode.Field("sheets", "only Excel (.xlsx, .xls) files have sheets; this is a %s file", format)
	}
	columns, err := cleanList("columns", in.Columns, 10000)
	if err != nil {
		return nil, err
	}
	id := pulid.New("dts")
	key := fmt.Sprintf("datasets/%s/%s%s", v.UserID, id, strings.ToLower(filepath.Ext(fileName)))
	stored, err := s.put(ctx, key, in.File, format)
	if err != nil {
		return nil, err
	}
	keys := []string{key}
	keep := false
	defer func() {
		if !keep {
			for _, k := range keys {
				s.deleteStored(context.WithoutCancel(ctx), k)
			}
		}
	}()
	path, err := s.Store.Path(ctx, key)
	if err != nil {
		return nil, err
	}
	fmtName := strings.ToLower(string(format))
	if len(sheets) > 0 {
		book, err := s.Profiler.Inspect(ctx, executor.Dataset{Path: path, Format: fmtName})
		if err != nil {
			return nil, readError(ctx, err, format, key)
		}
		if err := checkSheets("sheets", sheets, book.Sheets); err != nil {
			return nil, err
		}
	}
	type part struct {
		sheet  string
		prof   *executor.Profile
		cols   []column.Profile
		parsed string // its parsed form, a temporary file ("": none)
	}
	parts := []part{{}}
	if len(sheets) > 0 {
		parts = parts[:0]
		for _, sh := range sheets {
			parts = append(parts, part{sheet: sh})
		}
	}
	defer func() {
		for _, p := range parts {
			if p.parsed != "" {
				os.Remove(p.parsed) // gone once stored
			}
		}
	}()
	for i := range parts {
		prof, parsed, err := s.profileParsed(ctx, executor.Dataset{Name: "upload", Path: path, Format: fmtName, Sheet: parts[i].sheet}, stored.Size)
		parts[i].parsed = parsed
		if err != nil {
			return nil, readError(ctx, err, format, key)
		}
		if len(prof.Columns) == 0 {
			if parts[i].sheet != "" {
				return nil, errcode.Field("sheets", "sheet %q has no data", parts[i].sheet)
			}
			return nil, errcode.Field("file", "the file has no data (no column with a value)")
		}
		cols, err := chooseColumns(prof.Columns, columns, parts[i].sheet)
		if err != nil {
			return nil, err
		}
		parts[i].prof, parts[i].cols = prof, cols
	}
	tx, err := s.DB.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	taken := map[string]bool{}
	out := make([]*ent.Dataset, 0, len(parts))
	for i, p := range parts {
		dsID, dsKey := id, key
		if i > 0 {
			// Each sheet keeps its own copy, so deleting one leaves the others.
			dsID = pulid.New("dts")
			dsKey = fmt.Sprintf("datasets/%s/%s%s", v.UserID, dsID, filepath.Ext(key))
			if err := s.copy(ctx, key, dsKey); err != nil {
				return nil, err
			}
			keys = append(keys, dsKey)
		}
		s.storeParsed(ctx, dsKey, p.parsed)
		ident, err := s.uniqueName(ctx, v.UserID, Identifier(datasetName(in.Name, fileName, p.sheet, len(parts) > 1)), taken)
		if err != nil {
			return nil, err
		}
		taken[ident] = true
		c := tx.Dataset.Create().
			SetID(dsID).
			SetUserID(v.UserID).
			SetName(ident).
			SetFileName(fileName).
			SetDescription(in.Description).
			SetFormat(format).
			SetSizeBytes(stored.Size).
			SetSha256(stored.SHA256).
			SetStorageKey(dsKey).
			SetRowCount(p.prof.RowCount).
			SetColumns(p.cols)
		if p.sheet != "" {
			c.SetSheet(p.sheet)
		}
		d, err := c.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("save dataset: %w", err)
		}
		out = append(out, d.Unwrap())
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit datasets: %w", err)
	}
	keep = true
	return out, nil
}

// checkFileName returns the base name of an uploaded file and its format.
func checkFileName(name string) (string, entdataset.Format, error) {
	fileName := filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if fileName == "" || fileName == "." || fileName == "/" || len(fileName) > 255 {
		return "", "", errcode.Field("file", "a file name of 1 to 255 characters is required")
	}
	ext := strings.ToLower(filepath.Ext(fileName))
	format, ok := formats[ext]
	if !ok {
		return "", "", errcode.Field("file", "unsupported file type %q: upload .csv, .tsv, .txt, .xlsx, .xls or .json", ext)
	}
	return fileName, format, nil
}

// put streams an upload to key under the size limit and checks that its
// bytes can be of format. On an error nothing is left stored.
func (s *Service) put(ctx context.Context, key string, r io.Reader, format entdataset.Format) (*Stored, error) {
	max := s.UploadMaxBytes()
	stored, err := s.Store.Put(ctx, key, r, max)
	if errors.Is(err, ErrTooLarge) {
		return nil, &errcode.Error{Code: errcode.LimitExceeded, Field: "file",
			Message: fmt.Sprintf("file is larger than the upload limit of %d bytes (UPLOAD_MAX_BYTES)", max)}
	}
	if err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	if stored.Size == 0 {
		err = errcode.Field("file", "the file is empty")
	} else {
		err = checkContent(format, stored.Head)
	}
	if err != nil {
		s.Store.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	return stored, nil
}

// copy stores a copy of the file at src under dst.
func (s *Service) copy(ctx context.Context, src, dst string) error {
	p, err := s.Store.Path(ctx, src)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("copy upload: %w", err)
	}
	defer f.Close()
	if _, err := s.Store.Put(ctx, dst, f, math.MaxInt64-1); err != nil {
		return fmt.Errorf("copy upload: %w", err)
	}
	return nil
}

// readError turns a failure to read an upload in the sandbox into an error
// for the client.
func readError(ctx context.Context, err error, format entdataset.Format, key string) error {
	if errors.Is(err, executor.ErrSandboxUnavailable) {
		return errcode.New(errcode.Unavailable, "the sandbox that reads datasets is unavailable")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var perr *executor.Error
	if errors.Is(err, executor.ErrDatasetLimit) && errors.As(err, &perr) {
		// The message says which limit, and the setting that sets it.
		return errcode.Field("file", "%s", perr.Message)
	}
	if errors.As(err, &perr) {
		return errcode.Field("file", "could not be read as %s: %s: %s", format, perr.Type, perr.Message)
	}
	if errors.Is(err, executor.ErrDatasetLoad) || errors.Is(err, executor.ErrInvalidRequest) {
		return errcode.Field("file", "could not be read as %s", format)
	}
	return fmt.Errorf("read upload %s: %w", key, err)
}

// uniqueName returns ident, or ident with a numeric suffix, so that it is not
// the name of another of the user's datasets nor in taken.
func (s *Service) uniqueName(ctx context.Context, userID, ident string, taken map[string]bool) (string, error) {
	names, err := s.DB.Dataset.Query().
		Where(entdataset.UserID(userID), entdataset.NameHasPrefix(ident)).
		Select(entdataset.FieldName).
		Strings(ctx)
	if err != nil {
		return "", fmt.Errorf("list dataset names: %w", err)
	}
	all := make(map[string]bool, len(names)+len(taken))
	for n := range taken {
		all[n] = true
	}
	for _, n := range names {
		all[n] = true
	}
	return Unique(ident, all), nil
}

// ole2Magic starts an OLE2 compound file, which holds a legacy .xls workbook.
var ole2Magic = []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")

// hasSheets reports whether files of format are workbooks of sheets.
func hasSheets(format entdataset.Format) bool {
	return format == entdataset.FormatXLSX || format == entdataset.FormatXLS
}

// checkContent refuses files whose bytes do not match their extension.
func checkContent(format entdataset.Format, head []byte) error {
	switch format {
	case entdataset.FormatXLSX:
		if !bytes.HasPrefix(head, []byte("PK\x03\x04")) {
			if bytes.HasPrefix(head, ole2Magic) {
				return errcode.Field("file", "not an Excel .xlsx file: this is a legacy .xls workbook; name it .xls")
			}
			return errcode.Field("file", "not an Excel .xlsx file (it is not a zip archive)")
		}
	case entdataset.FormatXLS:
		if !bytes.HasPrefix(head, ole2Magic) {
			if bytes.HasPrefix(head, []byte("PK\x03\x04")) {
				return errcode.Field("file", "not an Excel .xls file: this is an .xlsx workbook; name it .xlsx")
			}
			return errcode.Field("file", "not an Excel .xls file (it is not an OLE2 compound file)")
		}
	default:
		if bytes.IndexByte(head, 0) >= 0 {
			return errcode.Field("file", "binary content in a %s file", format)
		}
	}
	return nil
}

// Files returns the executor datasets for a chat's datasets, in order, the
// first also being df in the kernel, each with its parsed form when it has
// one.
func (s *Service) Files(ctx context.Context, ds []*ent.Dataset) ([]executor.Dataset, error) {
	out := make([]executor.Dataset, 0, len(ds))
	for _, d := range ds {
		p, err := s.Store.Path(ctx, d.StorageKey)
		if err != nil {
			return nil, fmt.Errorf("locate dataset %s: %w", d.ID, err)
		}
		out = append(out, executor.Dataset{Name: d.Name, Path: p, Format: strings.ToLower(string(d.Format)), Sheet: d.Sheet,
			Columns: columnNames(d.Columns), Parsed: s.parsedPath(ctx, d.StorageKey)})
	}
	return out, nil
}
