package analytics

import (
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/llm"
)

// Period is the window a summary covers, ending now.
type Period string

// Periods of the original's dashboard.
const (
	P7D  Period = "P7D"
	P30D Period = "P30D"
	P90D Period = "P90D"
)

// Days returns the period's length in days, or an error for an unknown one.
func (p Period) Days() (int, error) {
	switch p {
	case P7D:
		return 7, nil
	case P30D:
		return 30, nil
	case P90D:
		return 90, nil
	}
	return 0, fmt.Errorf("unknown period %q (P7D, P30D or P90D)", string(p))
}

// Service computes the summaries. It is safe for concurrent use.
type Service struct {
	db      *ent.Client
	dialect string
	reg     *llm.Registry
	now     func() time.Time
	ticker  tickerCache
}

// New returns a Service on db, whose SQL dialect (dialect.SQLite or
// dialect.Postgres) decides how dates are grouped; reg gives models their
// price tier (nil: llm.DefaultRegistry()).
func New(db *ent.Client, sqlDialect string, reg *llm.Registry) (*Service, error) {
	switch sqlDialect {
	case dialect.SQLite, dialect.Postgres:
	default:
		return nil, fmt.Errorf("analytics: unsupported SQL dialect %q", sqlDialect)
	}
	if reg == nil {
		reg = llm.DefaultRegistry()
	}
	return &Service{db: db, dialect: sqlDialect, reg: reg, now: time.Now}, nil
}

// window returns the start of a period ending now.
func (s *Service) window(p Period) (time.Time, error) {
	days, err := p.Days()
	if err != nil {
		return time.Time{}, err
	}
	return s.now().UTC().AddDate(0, 0, -days), nil
}

// Usage is what a set of model calls spent.
type Usage struct {
	Calls        int     `json:"calls"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	TotalTokens  int     `json:"total_tokens"`
	CostUSD      float64 `json:"cost"`
}

// ModelUsage is the usage of one model.
type ModelUsage struct {
	Provider string `json:"provider"`
	Model    string `json:"model_name"`
	Usage
}

// Summary is the usage of a period.
type Summary struct {
	Period Period
	Since  time.Time
	Usage
	// Runs counts the runs started in the period.
	Runs    int
	ByModel []ModelUsage
}
