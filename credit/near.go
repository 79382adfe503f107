package credit

import (
	"context"
	"fmt"
	"sort"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/creditusage"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// MaxNearUsers bounds the users NearAllowance lists.
const MaxNearUsers = 100

// Standing is a user's balance this month.
type Standing struct {
	User *ent.User
	Balance
}

// NearAllowance lists the users with a limited allowance who used at least
// threshold (0 to 1) of it this month, the nearest first (then the most
// used), at most limit (1 to MaxNearUsers). The caller must have checked
// that the viewer is an admin.
func (s *Service) NearAllowance(ctx context.Context, threshold float64, limit int) ([]Standing, error) {
	if threshold < 0 || threshold > 1 {
		return nil, errcode.Field("threshold", "a threshold is a fraction of the allowance, 0 to 1")
	}
	if limit < 1 || limit > MaxNearUsers {
		return nil, errcode.Field("first", "first is 1 to %d", MaxNearUsers)
	}
	sys := system(ctx)
	plans, err := s.plans(sys, s.cfg.DB.PlanAllowance)
	if err != nil {
		return nil, err
	}
	p, renews := period(s.cfg.Now())
	rows, err := s.cfg.DB.CreditUsage.Query().Where(creditusage.Period(p), creditusage.UsedGT(0)).
		WithUser().All(sys)
	if err != nil {
		return nil, fmt.Errorf("list credit usage of %s: %w", p, err)
	}
	var out []Standing
	for _, r := range rows {
		u := r.Edges.User
		if u == nil {
			continue
		}
		allowance := plans[u.Plan]
		if u.CreditAllowance != nil {
			allowance = *u.CreditAllowance
		}
		if allowance < 0 || float64(r.Used) < threshold*float64(allowance) {
			continue
		}
		out = append(out, Standing{User: u, Balance: Balance{Allowance: allowance, Used: r.Used, Period: p, RenewsAt: renews}})
	}
	sort.SliceStable(out, func(i, j int) bool {
		fi, fj := fraction(&out[i].Balance), fraction(&out[j].Balance)
		if fi != fj {
			return fi > fj
		}
		return out[i].Used > out[j].Used
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// fraction is the share of the allowance used (past 1 when an admin lowered
// it; any use of a zero allowance counts as all of it).
func fraction(b *Balance) float64 {
	if b.Allowance == 0 {
		return 1
	}
	return float64(b.Used) / float64(b.Allowance)
}
