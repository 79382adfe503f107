package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/modelusage"
	"github.com/autoanalyst/autoanalyst/ent/predicate"
	"github.com/autoanalyst/autoanalyst/ent/run"
)

var usageAggregates = []ent.AggregateFunc{
	ent.As(ent.Count(), "calls"),
	ent.As(ent.Sum(modelusage.FieldPromptTokens), "input_tokens"),
	ent.As(ent.Sum(modelusage.FieldCompletionTokens), "output_tokens"),
	ent.As(ent.Sum(modelusage.FieldTotalTokens), "total_tokens"),
	ent.As(ent.Sum(modelusage.FieldCost), "cost"),
}

// UserSummary is one user's usage in a period. ctx must read that user's
// rows (the user's own, or an admin's privacy.Allow decision).
func (s *Service) UserSummary(ctx context.Context, userID string, p Period) (*Summary, error) {
	since, err := s.window(p)
	if err != nil {
		return nil, err
	}
	return s.summary(ctx, p, since, []predicate.ModelUsage{modelusage.UserID(userID)}, []predicate.Run{run.UserID(userID)})
}

func (s *Service) summary(ctx context.Context, p Period, since time.Time, where []predicate.ModelUsage, runWhere []predicate.Run) (*Summary, error) {
	where = append(where, modelusage.CreatedAtGTE(since))
	var byModel []ModelUsage
	err := s.db.ModelUsage.Query().Where(where...).
		GroupBy(modelusage.FieldProvider, modelusage.FieldModelName).
		Aggregate(usageAggregates...).Scan(ctx, &byModel)
	if err != nil {
		return nil, fmt.Errorf("usage by model since %s: %w", since.Format(time.DateOnly), err)
	}
	sort.Slice(byModel, func(i, j int) bool {
		if byModel[i].CostUSD != byModel[j].CostUSD {
			return byModel[i].CostUSD > byModel[j].CostUSD
		}
		return byModel[i].Model < byModel[j].Model
	})
	sum := &Summary{Period: p, Since: since, ByModel: byModel}
	for _, m := range byModel {
		sum.Calls += m.Calls
		sum.InputTokens += m.InputTokens
		sum.OutputTokens += m.OutputTokens
		sum.TotalTokens += m.TotalTokens
		sum.CostUSD += m.CostUSD
	}
	runs, err := s.db.Run.Query().Where(append(runWhere, run.CreatedAtGTE(since))...).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("count runs since %s: %w", since.Format(time.DateOnly), err)
	}
	sum.Runs = runs
	return sum, nil
}

// DayUsage is the usage of one UTC day.
type DayUsage struct {
	Day string `json:"day"` // YYYY-MM-DD
	Usage
}

// byDay is the usage per UTC day since since, oldest first; days without a
// call are present with zeros.
func (s *Service) byDay(ctx context.Context, since time.Time) ([]DayUsage, error) {
	day := "strftime('%Y-%m-%d', " + modelusage.FieldCreatedAt + ")"
	if s.dialect == dialect.Postgres {
		day = "to_char(" + modelusage.FieldCreatedAt + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	var rows []DayUsage
	err := s.db.ModelUsage.Query().Where(modelusage.CreatedAtGTE(since)).
		Modify(func(sel *sql.Selector) {
			sel.Select(
				sql.As(day, "day"),
				sql.As(sql.Count("*"), "calls"),
				sql.As(sql.Sum(sel.C(modelusage.FieldPromptTokens)), "input_tokens"),
				sql.As(sql.Sum(sel.C(modelusage.FieldCompletionTokens)), "output_tokens"),
				sql.As(sql.Sum(sel.C(modelusage.FieldTotalTokens)), "total_tokens"),
				sql.As(sql.Sum(sel.C(modelusage.FieldCost)), "cost"),
			).GroupBy(day)
		}).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("usage by day since %s: %w", since.Format(time.DateOnly), err)
	}
	have := make(map[string]DayUsage, len(rows))
	for _, r := range rows {
		have[r.Day] = r
	}
	var out []DayUsage
	end := s.now().UTC()
	for d := since.UTC().Truncate(24 * time.Hour); !d.After(end); d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		u := have[key]
		u.Day = key
		out = append(out, u)
	}
	return out, nil
}
