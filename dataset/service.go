package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	entdataset "github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
	"github.com/autoanalyst/autoanalyst/ent/schema/schematype"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// DefaultMaxBytes is the default upload limit (UPLOAD_MAX_BYTES).
const DefaultMaxBytes = 100 << 20

// Profiler reads a dataset inside the sandbox.
type Profiler interface {
	Profile(ctx context.Context, ds executor.Dataset) (*executor.Profile, error)
}

// Service stores and profiles uploads. Safe for concurrent use.
type Service struct {
	DB       *ent.Client
	Store    Store
	Profiler Profiler
	MaxBytes int64
}

// UploadInput is one uploaded file.
type UploadInput struct {
	File        io.Reader
	FileName    string
	Name        string
	Description string
}

// formats maps file extensions to the stored format.
var formats = map[string]entdataset.Format{
	".csv":  entdataset.FormatCSV,
	".tsv":  entdataset.FormatCSV,
	".txt":  entdataset.FormatCSV,
	".xlsx": entdataset.FormatXLSX,
	".json": entdataset.FormatJSON,
}

// Upload streams the file to storage, profiles it and stores the Dataset,
// owned by the viewer in ctx.
func (s *Service) Upload(ctx context.Context, in UploadInput) ([]*ent.Dataset, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.UserID == "" {
		return nil, errcode.New(errcode.Unauthenticated, "sign in or create a guest session first")
	}
	fileName := filepath.Base(strings.ReplaceAll(in.FileName, "\\", "/"))
	if fileName == "" || fileName == "." || fileName == "/" || len(fileName) > 255 {
		return nil, errcode.Field("file", "a file name of 1 to 255 characters is required")
	}
	ext := strings.ToLower(filepath.Ext(fileName))
	format, ok := formats[ext]
	if !ok {
		return nil, errcode.Field("file", "unsupported file type %q: upload .csv, .tsv, .txt, .xlsx or .json", ext)
	}
	if len(in.Description) > 10000 {
		return nil, errcode.Field("description", "at most 10000 characters")
	}
	max := s.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	id := pulid.New("dts")
	key := fmt.Sprintf("datasets/%s/%s%s", v.UserID, id, ext)
	stored, err := s.Store.Put(ctx, key, in.File, max)
	if errors.Is(err, ErrTooLarge) {
		return nil, &errcode.Error{Code: errcode.LimitExceeded, Field: "file",
			Message: fmt.Sprintf("file is larger than the upload limit of %d bytes (UPLOAD_MAX_BYTES)", max)}
	}
	if err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			s.Store.Delete(context.WithoutCancel(ctx), key)
		}
	}()
	if stored.Size == 0 {
		return nil, errcode.Field("file", "the file is empty")
	}
	if err := checkContent(format, stored.Head); err != nil {
		return nil, err
	}
	path, err := s.Store.Path(ctx, key)
	if err != nil {
		return nil, err
	}
	prof, err := s.Profiler.Profile(ctx, executor.Dataset{Name: "upload", Path: path, Format: strings.ToLower(string(format))})
	if err != nil {
		if errors.Is(err, executor.ErrSandboxUnavailable) {
			return nil, errcode.New(errcode.Unavailable, "the sandbox that reads datasets is unavailable")
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var perr *executor.Error
		if errors.As(err, &perr) {
			return nil, errcode.Field("file", "could not be read as %s: %s: %s", format, perr.Type, perr.Message)
		}
		if errors.Is(err, executor.ErrDatasetLoad) || errors.Is(err, executor.ErrInvalidRequest) {
			return nil, errcode.Field("file", "could not be read as %s", format)
		}
		return nil, fmt.Errorf("profile upload %s: %w", key, err)
	}
	name := in.Name
	if name == "" {
		name = fileName
	}
	ident, err := s.uniqueName(ctx, v.UserID, Identifier(name))
	if err != nil {
		return nil, err
	}
	cols := make([]schematype.DatasetColumn, len(prof.Columns))
	for i, c := range prof.Columns {
		cols[i] = schematype.DatasetColumn{Name: c.Name, Dtype: c.Dtype, NullCount: c.NullCount}
	}
	d, err := s.DB.Dataset.Create().
		SetID(id).
		SetUserID(v.UserID).
		SetName(ident).
		SetFileName(fileName).
		SetDescription(in.Description).
		SetFormat(format).
		SetSizeBytes(stored.Size).
		SetSha256(stored.SHA256).
		SetStorageKey(key).
		SetRowCount(prof.RowCount).
		SetColumns(cols).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("save dataset: %w", err)
	}
	keep = true
	return []*ent.Dataset{d}, nil
}

func (s *Service) uniqueName(ctx context.Context, userID, ident string) (string, error) {
	names, err := s.DB.Dataset.Query().
		Where(entdataset.UserID(userID), entdataset.NameHasPrefix(ident)).
		Select(entdataset.FieldName).
		Strings(ctx)
	if err != nil {
		return "", fmt.Errorf("list dataset names: %w", err)
	}
	taken := make(map[string]bool, len(names))
	for _, n := range names {
		taken[n] = true
	}
	return Unique(ident, taken), nil
}

// checkContent refuses files whose bytes do not match their extension.
func checkContent(format entdataset.Format, head []byte) error {
	switch format {
	case entdataset.FormatXLSX:
		if !bytes.HasPrefix(head, []byte("PK\x03\x04")) {
			return errcode.Field("file", "not an Excel .xlsx file (it is not a zip archive)")
		}
	default:
		if bytes.IndexByte(head, 0) >= 0 {
			return errcode.Field("file", "binary content in a %s file", format)
		}
	}
	return nil
}

// Files returns the executor datasets for a chat's datasets, in order, the
// first also being df in the kernel.
func (s *Service) Files(ctx context.Context, ds []*ent.Dataset) ([]executor.Dataset, error) {
	out := make([]executor.Dataset, 0, len(ds))
	for _, d := range ds {
		p, err := s.Store.Path(ctx, d.StorageKey)
		if err != nil {
			return nil, fmt.Errorf("locate dataset %s: %w", d.ID, err)
		}
		out = append(out, executor.Dataset{Name: d.Name, Path: p, Format: strings.ToLower(string(d.Format)), Sheet: d.Sheet})
	}
	return out, nil
}
