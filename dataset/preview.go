package dataset

import (
	"context"
	"fmt"

	"github.com/autoanalyst/autoanalyst/column"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// MaxPreviewRows is the largest preview a client may ask for.
const MaxPreviewRows = 100

// Preview is a dataset's first rows, as the sandbox reads them.
type Preview struct {
	Columns []string `json:"columns"`
	// Rows are each row's cells as text (dates in ISO 8601); nil when
	// missing.
	Rows [][]*string `json:"rows"`
}

// Preview reads a stored dataset in the sandbox, as a kernel loads it, and
// returns its first limit rows (1 to MaxPreviewRows).
func (s *Service) Preview(ctx context.Context, d *ent.Dataset, limit int) (*Preview, error) {
	if limit < 1 || limit > MaxPreviewRows {
		return nil, errcode.Field("limit", "must be 1 to %d", MaxPreviewRows)
	}
	files, err := s.Files(ctx, []*ent.Dataset{d})
	if err != nil {
		return nil, err
	}
	p, err := s.Profiler.Preview(ctx, files[0], limit)
	if err != nil {
		return nil, readError(ctx, err, d.Format, d.ID)
	}
	out := Preview(*p)
	return &out, nil
}

// Profile describes each column of a stored dataset: the profile stored at
// upload, or, for a dataset stored before profiles were complete, one
// computed in the sandbox now and stored for next time.
func (s *Service) Profile(ctx context.Context, d *ent.Dataset) ([]column.Profile, error) {
	if column.Profiled(d.Columns) {
		return d.Columns, nil
	}
	files, err := s.Files(ctx, []*ent.Dataset{d})
	if err != nil {
		return nil, err
	}
	prof, err := s.Profiler.Profile(ctx, files[0])
	if err != nil {
		return nil, readError(ctx, err, d.Format, d.ID)
	}
	cols := prof.Columns
	if err := s.DB.Dataset.UpdateOneID(d.ID).SetColumns(cols).SetRowCount(prof.RowCount).Exec(ctx); err != nil {
		return nil, fmt.Errorf("store the profile of dataset %s: %w", d.ID, err)
	}
	return cols, nil
}
