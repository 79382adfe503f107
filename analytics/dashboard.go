package analytics

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/codeexecution"
	"github.com/autoanalyst/autoanalyst/ent/messagefeedback"
	"github.com/autoanalyst/autoanalyst/ent/modelusage"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// MaxExecutionsScanned bounds the code executions whose agent blocks the
// dashboard parses.
const MaxExecutionsScanned = 5000

// Dashboard is the admin's view of a period.
type Dashboard struct {
	Summary
	Users      UserStats
	TopUsers   []UserActivity
	ByDay      []DayUsage
	Projection Projection
	Tiers      []TierUsage
	Executions ExecutionStats
	Feedback   FeedbackStats
}

// UserStats counts accounts.
type UserStats struct {
	Total  int
	Guests int
	// New signed up or started a guest session in the period; Active made a
	// model call or started a run in it.
	New    int
	Active int
}

// UserActivity is one user's share of the period.
type UserActivity struct {
	UserID string `json:"user_id"`
	Usage
	LastActive Timestamp `json:"last_active"`
}

// Timestamp is a time that an aggregate returned: a time from PostgreSQL,
// text from SQLite.
type Timestamp struct{ time.Time }

// Scan implements sql.Scanner.
func (t *Timestamp) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time = time.Time{}
		return nil
	case time.Time:
		t.Time = v
		return nil
	case []byte:
		return t.parse(string(v))
	case string:
		return t.parse(v)
	}
	return fmt.Errorf("timestamp: cannot scan %T", v)
}

func (t *Timestamp) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
		if p, err := time.Parse(layout, s); err == nil {
			t.Time = p
			return nil
		}
	}
	return fmt.Errorf("timestamp: cannot parse %q", s)
}

// Projection extrapolates the period's daily cost.
type Projection struct {
	DailyAverageUSD float64
	Next30DaysUSD   float64
}

// TierUsage is the usage of the models of one price tier (1 cheapest to 5).
type TierUsage struct {
	Tier            int
	CreditsPerQuery int
	Usage
}

// ExecutionStats is how code executions went.
type ExecutionStats struct {
	Total, Succeeded, Failed int
	// SuccessRate is Succeeded/Total (0 without executions).
	SuccessRate float64
	ByAgent     []AgentExecutions
	TopErrors   []ErrorCount
	// Scanned is how many executions ByAgent and TopErrors come from.
	Scanned int
}

// AgentExecutions is how the executions that held an agent's block went.
// Code without agent markers (a user's own) counts as agent "user_code".
type AgentExecutions struct {
	Agent         string
	Total, Failed int
	SuccessRate   float64
}

// ErrorCount is an error message (its first line, at most 200 characters)
// and how often it occurred.
type ErrorCount struct {
	Message string
	Count   int
}

// FeedbackStats summarises ratings.
type FeedbackStats struct {
	Count   int
	Average float64
	// Distribution[i] counts ratings of i+1.
	Distribution [5]int
	ByModel      []ModelFeedback
}

// ModelFeedback is the ratings of answers one model gave.
type ModelFeedback struct {
	Model   string  `json:"model_name"`
	Count   int     `json:"count"`
	Average float64 `json:"average"`
}

// MaxTopUsers bounds the most active users a dashboard lists.
const MaxTopUsers = 100

// Dashboard computes the admin dashboard of a period, with its topUsers most
// active users (1 to MaxTopUsers). ctx must read every user's rows (an
// admin's privacy.Allow decision; privacy rules would hide other users' rows
// otherwise).
func (s *Service) Dashboard(ctx context.Context, p Period, topUsers int) (*Dashboard, error) {
	if topUsers < 1 || topUsers > MaxTopUsers {
		return nil, errcode.Field("topUsers", "must be 1 to %d", MaxTopUsers)
	}
	since, err := s.window(p)
	if err != nil {
		return nil, err
	}
	sum, err := s.summary(ctx, p, since, nil, nil)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{Summary: *sum}
	if d.Users, err = s.userStats(ctx, since); err != nil {
		return nil, err
	}
	if d.TopUsers, err = s.topUsers(ctx, since, topUsers); err != nil {
		return nil, err
	}
	if d.ByDay, err = s.byDay(ctx, since); err != nil {
		return nil, err
	}
	days, _ := p.Days()
	d.Projection.DailyAverageUSD = d.CostUSD / float64(days)
	d.Projection.Next30DaysUSD = d.Projection.DailyAverageUSD * 30
	d.Tiers = s.tiers(d.ByModel)
	if d.Executions, err = s.executions(ctx, since); err != nil {
		return nil, err
	}
	if d.Feedback, err = s.feedback(ctx, since); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Service) userStats(ctx context.Context, since time.Time) (UserStats, error) {
	var st UserStats
	var err error
	if st.Total, err = s.db.User.Query().Count(ctx); err != nil {
		return st, fmt.Errorf("count users: %w", err)
	}
	if st.Guests, err = s.db.User.Query().Where(user.IsGuest(true)).Count(ctx); err != nil {
		return st, fmt.Errorf("count guests: %w", err)
	}
	if st.New, err = s.db.User.Query().Where(user.CreatedAtGTE(since)).Count(ctx); err != nil {
		return st, fmt.Errorf("count new users: %w", err)
	}
	active := map[string]bool{}
	ids, err := s.db.ModelUsage.Query().Where(modelusage.CreatedAtGTE(since)).Unique(true).Select(modelusage.FieldUserID).Strings(ctx)
	if err != nil {
		return st, fmt.Errorf("active users (usage): %w", err)
	}
	for _, id := range ids {
		active[id] = true
	}
	ids, err = s.db.Run.Query().Where(run.CreatedAtGTE(since)).Unique(true).Select(run.FieldUserID).Strings(ctx)
	if err != nil {
		return st, fmt.Errorf("active users (runs): %w", err)
	}
	for _, id := range ids {
		active[id] = true
	}
	st.Active = len(active)
	return st, nil
}

func (s *Service) topUsers(ctx context.Context, since time.Time, n int) ([]UserActivity, error) {
	var rows []UserActivity
	err := s.db.ModelUsage.Query().Where(modelusage.CreatedAtGTE(since)).
		GroupBy(modelusage.FieldUserID).
		Aggregate(append(usageAggregates, ent.As(ent.Max(modelusage.FieldCreatedAt), "last_active"))...).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("usage by user: %w", err)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].CostUSD != rows[j].CostUSD {
			return rows[i].CostUSD > rows[j].CostUSD
		}
		return rows[i].TotalTokens > rows[j].TotalTokens
	})
	return rows[:min(n, len(rows))], nil
}

func (s *Service) tiers(byModel []ModelUsage) []TierUsage {
	by := map[int]*TierUsage{}
	for _, m := range byModel {
		tier := 0
		if info, ok := s.reg.Lookup(m.Model); ok {
			tier = int(info.Tier)
		}
		t := by[tier]
		if t == nil {
			t = &TierUsage{Tier: tier, CreditsPerQuery: s.reg.Credits(m.Model)}
			by[tier] = t
		}
		t.Calls += m.Calls
		t.InputTokens += m.InputTokens
		t.OutputTokens += m.OutputTokens
		t.TotalTokens += m.TotalTokens
		t.CostUSD += m.CostUSD
	}
	out := make([]TierUsage, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tier < out[j].Tier })
	return out
}

// blockStart matches the marker the orchestrator puts before each agent's
// block of combined code ("# <agent> code start").
var blockStart = regexp.MustCompile(`(?m)^# (\w+) code start\s*$`)

func (s *Service) executions(ctx context.Context, since time.Time) (ExecutionStats, error) {
	var st ExecutionStats
	var err error
	q := s.db.CodeExecution.Query().Where(codeexecution.CreatedAtGTE(since))
	if st.Total, err = q.Clone().Count(ctx); err != nil {
		return st, fmt.Errorf("count code executions: %w", err)
	}
	if st.Succeeded, err = q.Clone().Where(codeexecution.IsSuccessful(true)).Count(ctx); err != nil {
		return st, fmt.Errorf("count successful code executions: %w", err)
	}
	st.Failed = st.Total - st.Succeeded
	st.SuccessRate = rate(st.Succeeded, st.Total)
	recent, err := q.Clone().Order(ent.Desc(codeexecution.FieldCreatedAt)).Limit(MaxExecutionsScanned).
		Select(codeexecution.FieldInitialCode, codeexecution.FieldIsSuccessful, codeexecution.FieldFailedAgents, codeexecution.FieldErrorMessages).
		All(ctx)
	if err != nil {
		return st, fmt.Errorf("recent code executions: %w", err)
	}
	st.Scanned = len(recent)
	agents := map[string]*AgentExecutions{}
	errs := map[string]int{}
	for _, e := range recent {
		failed := map[string]bool{}
		for _, a := range e.FailedAgents {
			failed[a] = true
		}
		names := map[string]bool{}
		for _, m := range blockStart.FindAllStringSubmatch(e.InitialCode, -1) {
			names[m[1]] = true
		}
		if len(names) == 0 {
			names["user_code"] = true
		}
		for a := range failed {
			names[a] = true
		}
		for a := range names {
			ag := agents[a]
			if ag == nil {
				ag = &AgentExecutions{Agent: a}
				agents[a] = ag
			}
			ag.Total++
			if failed[a] || (!e.IsSuccessful && len(failed) == 0) {
				ag.Failed++
			}
		}
		for _, msg := range e.ErrorMessages {
			if msg = errorKey(msg); msg != "" {
				errs[msg]++
			}
		}
	}
	for _, a := range agents {
		a.SuccessRate = rate(a.Total-a.Failed, a.Total)
		st.ByAgent = append(st.ByAgent, *a)
	}
	sort.Slice(st.ByAgent, func(i, j int) bool {
		if st.ByAgent[i].Total != st.ByAgent[j].Total {
			return st.ByAgent[i].Total > st.ByAgent[j].Total
		}
		return st.ByAgent[i].Agent < st.ByAgent[j].Agent
	})
	for m, n := range errs {
		st.TopErrors = append(st.TopErrors, ErrorCount{Message: m, Count: n})
	}
	sort.Slice(st.TopErrors, func(i, j int) bool {
		if st.TopErrors[i].Count != st.TopErrors[j].Count {
			return st.TopErrors[i].Count > st.TopErrors[j].Count
		}
		return st.TopErrors[i].Message < st.TopErrors[j].Message
	})
	st.TopErrors = st.TopErrors[:min(10, len(st.TopErrors))]
	return st, nil
}

// errorKey is what identifies an error message: its first line, cut.
func errorKey(msg string) string {
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200])
	}
	return msg
}

func rate(part, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(part) / float64(total)
}

func (s *Service) feedback(ctx context.Context, since time.Time) (FeedbackStats, error) {
	var st FeedbackStats
	var rows []struct {
		Rating int `json:"rating"`
		Count  int `json:"count"`
	}
	err := s.db.MessageFeedback.Query().Where(messagefeedback.UpdatedAtGTE(since)).
		GroupBy(messagefeedback.FieldRating).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return st, fmt.Errorf("feedback by rating: %w", err)
	}
	total := 0
	for _, r := range rows {
		if r.Rating >= 1 && r.Rating <= 5 {
			st.Distribution[r.Rating-1] += r.Count
			st.Count += r.Count
			total += r.Rating * r.Count
		}
	}
	st.Average = rate(total, st.Count)
	err = s.db.MessageFeedback.Query().Where(messagefeedback.UpdatedAtGTE(since)).
		GroupBy(messagefeedback.FieldModelName).
		Aggregate(ent.Count(), ent.As(ent.Mean(messagefeedback.FieldRating), "average")).
		Scan(ctx, &st.ByModel)
	if err != nil {
		return st, fmt.Errorf("feedback by model: %w", err)
	}
	sort.Slice(st.ByModel, func(i, j int) bool {
		if st.ByModel[i].Count != st.ByModel[j].Count {
			return st.ByModel[i].Count > st.ByModel[j].Count
		}
		return st.ByModel[i].Model < st.ByModel[j].Model
	})
	return st, nil
}
