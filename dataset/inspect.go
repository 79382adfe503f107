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
// rows as text, so that a client can choose sheets and columns before
// uploading. The file lives in a temporary directory until Inspect returns.
func (s *Service) Inspect(ctx context.Context, file io.Reader, name string) (*executor.Inspection, error) {
	if v := viewer.FromContext(ctx); v == nil || v.UserID == "" {
		return nil, errcode.New(errcode.Unauthenticated, "sign in or create a guest session first")
	}
	fileName, format, err := checkFileName(name)
	if err != nil {
		return nil, err
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
	in, err := s.Profiler.Inspect(ctx, executor.Dataset{Path: path, Format: strings.ToLower(string(format))})
	if err != nil {
		return nil, readError(ctx, err, format, fileName)
	}
	return in, nil
}
