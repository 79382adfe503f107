package analytics

import (
	"context"
	"fmt"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
)

// Ticker is the public count of the whole service.
type Ticker struct {
	Signups     int
	TotalTokens int
	Requests    int
}

// Ticker counts signed-up users, tokens and model calls of all time. It
// needs no viewer: it reads as the system and returns only counts.
func (s *Service) Ticker(ctx context.Context) (*Ticker, error) {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	var t Ticker
	var err error
	if t.Signups, err = s.db.User.Query().Where(user.IsGuest(false)).Count(ctx); err != nil {
		return nil, fmt.Errorf("count sign-ups: %w", err)
	}
	var rows []struct {
		Calls  int `json:"calls"`
		Tokens int `json:"tokens"`
	}
	err = s.db.ModelUsage.Query().
		Aggregate(ent.As(ent.Count(), "calls"), ent.As(ent.Sum("total_tokens"), "tokens")).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count model calls: %w", err)
	}
	if len(rows) > 0 {
		t.Requests, t.TotalTokens = rows[0].Calls, rows[0].Tokens
	}
	return &t, nil
}
