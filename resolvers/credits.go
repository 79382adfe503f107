package resolvers

import (
	"github.com/autoanalyst/autoanalyst/credit"
	"github.com/autoanalyst/autoanalyst/graph/model"
)

// toCredits maps a balance; an unlimited allowance reads as null.
func toCredits(b *credit.Balance) *model.Credits {
	out := &model.Credits{Used: b.Used, Period: b.Period, RenewsAt: b.RenewsAt}
	if !b.Unlimited() {
		allowance, left := b.Allowance, b.Left()
		out.Allowance, out.Left = &allowance, &left
	}
	return out
}

// toPlanCredits maps a plan's allowance; unlimited reads as null.
func toPlanCredits(p credit.PlanAllowance) *model.PlanCredits {
	out := &model.PlanCredits{Plan: p.Plan, IsDefault: p.Default}
	if p.Credits >= 0 {
		c := p.Credits
		out.Credits = &c
	}
	return out
}
