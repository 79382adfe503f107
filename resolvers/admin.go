package resolvers

import (
	"context"

	"github.com/autoanalyst/autoanalyst/analytics"
	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/graph/model"
)

// adminContext admits a user of role ADMIN or a request with the admin key,
// and returns the context an admin query reads everyone's rows with. Being
// an admin grants these queries only: everywhere else an admin sees their
// own objects, like anyone.
func adminContext(ctx context.Context) (context.Context, error) {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil, errcode.New(errcode.Unauthenticated, "admins only: sign in as a user of role ADMIN or send the X-Admin-Key header")
	}
	return privacy.DecisionContext(ctx, privacy.Allow), nil
}

func toUsageSummary(s *analytics.Summary) *model.UsageSummary {
	out := &model.UsageSummary{
		Period: model.Period(s.Period), Since: s.Since, Calls: s.Calls, InputTokens: s.InputTokens,
		OutputTokens: s.OutputTokens, TotalTokens: s.TotalTokens, CostUsd: s.CostUSD, Runs: s.Runs,
		ByModel: make([]*model.ModelUsageStat, 0, len(s.ByModel)),
	}
	for _, m := range s.ByModel {
		out.ByModel = append(out.ByModel, &model.ModelUsageStat{
			Provider: &m.Provider, Model: m.Model, Calls: m.Calls, InputTokens: m.InputTokens,
			OutputTokens: m.OutputTokens, TotalTokens: m.TotalTokens, CostUsd: m.CostUSD,
		})
	}
	return out
}

// toDashboard maps a dashboard, loading its top users in one query.
func (r *Resolver) toDashboard(ctx context.Context, d *analytics.Dashboard) (*model.AdminDashboard, error) {
	out := &model.AdminDashboard{
		Usage: toUsageSummary(&d.Summary),
		Users: &model.UserStats{Total: d.Users.Total, Guests: d.Users.Guests, New: d.Users.New, Active: d.Users.Active},
		Projection: &model.CostProjection{
			DailyAverageUsd: d.Projection.DailyAverageUSD, Next30DaysUsd: d.Projection.Next30DaysUSD,
		},
		CodeExecutions: &model.CodeExecutionStats{
			Total: d.Executions.Total, Succeeded: d.Executions.Succeeded, Failed: d.Executions.Failed,
			SuccessRate: d.Executions.SuccessRate, Scanned: d.Executions.Scanned,
			ByAgent: []*model.AgentExecutionStats{}, TopErrors: []*model.ErrorCount{},
		},
		Feedback: &model.FeedbackStats{
			Count: d.Feedback.Count, Average: d.Feedback.Average, Distribution: d.Feedback.Distribution[:],
			ByModel: []*model.ModelFeedback{},
		},
		TopUsers: []*model.UserActivity{}, ByDay: []*model.DailyUsage{}, Tiers: []*model.TierUsage{},
	}
	ids := make([]string, 0, len(d.TopUsers))
	for _, u := range d.TopUsers {
		ids = append(ids, u.UserID)
	}
	users, err := r.DB.User.Query().Where(user.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]int, len(users))
	for i, u := range users {
		byID[u.ID] = i
	}
	for _, u := range d.TopUsers {
		a := &model.UserActivity{Calls: u.Calls, TotalTokens: u.TotalTokens, CostUsd: u.CostUSD, LastActive: u.LastActive.Time}
		if i, ok := byID[u.UserID]; ok {
			a.User = users[i]
		}
		out.TopUsers = append(out.TopUsers, a)
	}
	for _, day := range d.ByDay {
		out.ByDay = append(out.ByDay, &model.DailyUsage{Day: day.Day, Calls: day.Calls, TotalTokens: day.TotalTokens, CostUsd: day.CostUSD})
	}
	for _, t := range d.Tiers {
		out.Tiers = append(out.Tiers, &model.TierUsage{Tier: t.Tier, CreditsPerQuery: t.CreditsPerQuery, Calls: t.Calls, TotalTokens: t.TotalTokens, CostUsd: t.CostUSD})
	}
	for _, a := range d.Executions.ByAgent {
		out.CodeExecutions.ByAgent = append(out.CodeExecutions.ByAgent, &model.AgentExecutionStats{Agent: a.Agent, Total: a.Total, Failed: a.Failed, SuccessRate: a.SuccessRate})
	}
	for _, e := range d.Executions.TopErrors {
		out.CodeExecutions.TopErrors = append(out.CodeExecutions.TopErrors, &model.ErrorCount{Message: e.Message, Count: e.Count})
	}
	for _, m := range d.Feedback.ByModel {
		out.Feedback.ByModel = append(out.Feedback.ByModel, &model.ModelFeedback{Model: m.Model, Count: m.Count, Average: m.Average})
	}
	return out, nil
}
