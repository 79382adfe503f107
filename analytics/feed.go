package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/modelusage"
)

// feedOverlap is how far back each poll of the feed looks again, for rows
// that another process wrote with a slightly earlier clock, or committed
// after a later row was already seen.
const feedOverlap = 5 * time.Second

// feedPage is how many rows one query of the feed reads.
const feedPage = 1000

// Follow calls fn with each ModelUsage row written from now on (by any
// process), about every interval, each row once, in the order of their
// creation time; it returns when ctx ends (nil) or fn returns false (nil),
// or on a database error. ctx must read every user's rows (an admin's
// privacy.Allow decision).
func (s *Service) Follow(ctx context.Context, interval time.Duration, fn func(*ent.ModelUsage) bool) error {
	if interval <= 0 {
		interval = time.Second
	}
	start := s.now()
	cursor := start
	seen := map[string]time.Time{}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// The rows since the cursor (less the overlap), a page at a time in
		// (created_at, id) order, so that a burst of more rows than a page
		// moves on instead of reading the same page again.
		page := s.db.ModelUsage.Query().Where(modelusage.CreatedAtGTE(cursor.Add(-feedOverlap)))
		for {
			rows, err := page.Clone().
				Order(ent.Asc(modelusage.FieldCreatedAt), ent.Asc(modelusage.FieldID)).
				Limit(feedPage).All(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("follow usage: %w", err)
			}
			for _, r := range rows {
				if _, ok := seen[r.ID]; ok {
					continue
				}
				seen[r.ID] = r.CreatedAt
				if r.CreatedAt.After(cursor) {
					cursor = r.CreatedAt
				}
				if r.CreatedAt.Before(start) {
					continue // written before the feed began
				}
				if !fn(r) {
					return nil
				}
			}
			if len(rows) < feedPage {
				break
			}
			last := rows[len(rows)-1]
			page = s.db.ModelUsage.Query().Where(modelusage.Or(
				modelusage.CreatedAtGT(last.CreatedAt),
				modelusage.And(modelusage.CreatedAt(last.CreatedAt), modelusage.IDGT(last.ID)),
			))
		}
		for id, at := range seen {
			if at.Before(cursor.Add(-2 * feedOverlap)) {
				delete(seen, id)
			}
		}
	}
}
