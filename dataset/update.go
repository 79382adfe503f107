package dataset

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// MaxDescriptionBytes bounds a dataset's description.
const MaxDescriptionBytes = 10000

// UpdateDescription replaces the description of one of the viewer's
// datasets (what the agents are told the dataset is; describeDatasets
// writes one a client may store here). Safe for concurrent use.
func (s *Service) UpdateDescription(ctx context.Context, id, description string) (*ent.Dataset, error) {
	if _, err := viewer.Require(ctx); err != nil {
		return nil, err
	}
	description = strings.TrimSpace(description)
	if len(description) > MaxDescriptionBytes || !utf8.ValidString(description) {
		return nil, errcode.Field("description", "must be valid UTF-8 of at most %d bytes", MaxDescriptionBytes)
	}
	d, err := s.DB.Dataset.UpdateOneID(id).SetDescription(description).Save(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "dataset not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("update dataset %s: %w", id, err)
	}
	return d, nil
}
