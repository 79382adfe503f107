package dataset

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// FrameInput is a DataFrame of a run to keep as a dataset: its CSV, written
// in the sandbox (orchestrator.Service.Frame).
type FrameInput struct {
	// CSV is the frame as UTF-8 CSV, its header first.
	CSV []byte
	// Variable is the frame's name in the run's code.
	Variable string
	// RunID is the run whose code made it (for the description).
	RunID string
	// Name is the dataset's name (empty: the variable's), made a Python
	// identifier and unique among the viewer's datasets as an upload's is.
	Name string
}

// SaveFrame stores a frame as a new dataset of the viewer's, through the
// path an upload takes: the size limit (UPLOAD_MAX_BYTES: LIMIT_EXCEEDED),
// the sandboxed read with its limits (DATASET_MAX_COLUMNS and the others),
// the profile, and a name made unique. Its file is summary.csv for the
// variable summary, and its description says where it came from.
func (s *Service) SaveFrame(ctx context.Context, in FrameInput) (*ent.Dataset, error) {
	name := strings.TrimSpace(in.Name)
	if len(name) > 255 {
		return nil, errcode.Field("name", "at most 255 characters")
	}
	if name == "" {
		name = in.Variable
	}
	ds, err := s.Upload(ctx, UploadInput{
		File:        bytes.NewReader(in.CSV),
		FileName:    in.Variable + ".csv",
		Name:        name,
		Description: fmt.Sprintf("The DataFrame %s made by the code of run %s.", in.Variable, in.RunID),
	})
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// UploadMaxBytes is the largest upload (and saved frame) the service
// stores: MaxBytes, or DefaultMaxBytes.
func (s *Service) UploadMaxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultMaxBytes
}
