package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// Store reads and deletes reports with the caller's privacy. Safe for
// concurrent use.
type Store struct {
	db *ent.Client
}

// NewStore returns a Store on db.
func NewStore(db *ent.Client) *Store { return &Store{db: db} }

// DownloadPath is where a report's HTML is served (GET, authorised with the
// bearer token).
func DownloadPath(id string) string { return "/reports/" + id + ".html" }

// IDFromFile returns the report id of a download file name ("rep_….html").
func IDFromFile(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, ".html")
	return id, ok && id != "" && !strings.ContainsAny(id, "/.")
}

func notFound() error {
	return &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "report not found"}
}

// Get returns one of the viewer's reports; another user's is not found.
func (s *Store) Get(ctx context.Context, id string) (*ent.DeepAnalysisReport, error) {
	r, err := s.db.DeepAnalysisReport.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load report %s: %w", id, err)
	}
	return r, nil
}

// Delete deletes one of the viewer's reports.
func (s *Store) Delete(ctx context.Context, id string) error {
	err := s.db.DeepAnalysisReport.DeleteOneID(id).Exec(ctx)
	if ent.IsNotFound(err) {
		return notFound()
	}
	if err != nil {
		return fmt.Errorf("delete report %s: %w", id, err)
	}
	return nil
}
