package dataset

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// Inspect reads an upload in the sandbox without storing it: its Excel
// sheets, the encoding and delimiter of a CSV, the headers and the first 10
// rows as text (of sheet, or the first sheet), so that a client can choose
// sheets and columns before uploading. The file lives in a temporary
// directory until Inspect returns.
func (s *Service) Inspect(ctx context.Context, file io.Reader, name, sheet string) (*Inspection, error) {
	if _, err := viewer.Require(ctx); err != nil {
		return nil, err
	}
	fileName, format, err := checkFileName(name)
	if err != nil {
		return nil, err
	}
	sheet = strings.TrimSpace(sheet)
	if sheet != "" && !hasSheets(format) {
		return nil, errcode.Field("sheet", "only Excel (.xlsx, .xls) files have sheets; this is a %s file", format)
	}
	dir, err := os.MkdirTemp("", "autoanalyst-inspect-")
	if err != nil {
		return nil, fmt.Errorf("inspect upload: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := &Service{Store: &LocalStore{Dir: dir}, MaxBytes: s.MaxBytes}
	const key = "upload"
	if _, err := tmp.put(ctx, key, file, format); err != nil {
		return nil, err
	}
	path, err := tmp.Store.Path(ctx, key)
	if err != nil {
		return nil, err
	}
	ds := executor.Dataset{Path: path, Format: strings.ToLower(string(format))}
	in, err := s.Profiler.Inspect(ctx, ds)
	if err != nil {
		return nil, readError(ctx, err, format, fileName)
	}
	if sheet == "" || (len(in.Sheets) > 0 && in.Sheets[0] == sheet) {
		return inspectionOf(in), nil
	}
	if err := checkSheets("sheet", []string{sheet}, in.Sheets); err != nil {
		return nil, err
	}
	ds.Sheet = sheet
	if in, err = s.Profiler.Inspect(ctx, ds); err != nil {
		return nil, readError(ctx, err, format, fileName)
	}
	return inspectionOf(in), nil
}

// Inspection is what an upload looks like before it is stored: its Excel
// sheets, the encoding and delimiter found for CSV (empty when they do not
// apply), and the headers and first rows (of the first sheet, or the one
// asked for) as text.
type Inspection struct {
	Sheets    []string   `json:"sheets"`
	Encoding  string     `json:"encoding"`
	Delimiter string     `json:"delimiter"`
	Headers   []string   `json:"headers"`
	Rows      [][]string `json:"rows"`
}

func inspectionOf(in *executor.Inspection) *Inspection {
	out := Inspection(*in)
	return &out
}
