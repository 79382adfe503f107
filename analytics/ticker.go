package analytics

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

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

// tickerTTL is how long a ticker is served before it is counted again.
const tickerTTL = 2 * time.Second

// tickerCache holds the last ticker: anyone may ask for it, as often as
// they like, and it counts whole tables. It is safe for concurrent use.
type tickerCache struct {
	group singleflight.Group
	mu    sync.Mutex
	last  *Ticker
	at    time.Time
}

// Ticker counts signed-up users, tokens and model calls of all time. It
// needs no viewer: it reads as the system and returns only counts. The
// counts are at most tickerTTL old, and concurrent callers share one count.
func (s *Service) Ticker(ctx context.Context) (*Ticker, error) {
	c := &s.ticker
	c.mu.Lock()
	if c.last != nil && s.now().Sub(c.at) < tickerTTL {
		t := *c.last
		c.mu.Unlock()
		return &t, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do("ticker", func() (any, error) {
		t, err := s.countTicker(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.last, c.at = t, s.now()
		c.mu.Unlock()
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	t := *v.(*Ticker)
	return &t, nil
}

// countTicker counts the ticker's figures.
func (s *Service) countTicker(ctx context.Context) (*Ticker, error) {
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
