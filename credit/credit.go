package credit

import (
	"context"
	"fmt"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/creditusage"
	"github.com/autoanalyst/autoanalyst/ent/planallowance"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/llm"
)

// DefaultDeepAnalysisCost is what a deep analysis costs unless configured
// (the original's 50).
const DefaultDeepAnalysisCost = 50

// Unlimited is the allowance without a limit (any negative allowance is).
const Unlimited = -1

// MaxAllowance bounds an allowance an admin sets.
const MaxAllowance = 1_000_000_000

// Config wires a Service.
type Config struct {
	DB *ent.Client
	// Registry gives models their tiers (nil: llm.DefaultRegistry()).
	Registry *llm.Registry
	// DefaultModel is the model of the runs of users without settings.
	DefaultModel string
	// Free and Pro are the plans' monthly allowances until an admin sets
	// them (negative: unlimited).
	Free, Pro int
	// DeepAnalysis is what a deep analysis costs (0: DefaultDeepAnalysisCost;
	// negative: nothing).
	DeepAnalysis int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Service charges runs against the users' allowances and reads and sets
// the allowances. Safe for concurrent use.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Registry == nil {
		cfg.Registry = llm.DefaultRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.DeepAnalysis == 0:
		cfg.DeepAnalysis = DefaultDeepAnalysisCost
	case cfg.DeepAnalysis < 0:
		cfg.DeepAnalysis = 0
	}
	return &Service{cfg: cfg}
}

// Balance is a user's credits in the current month.
type Balance struct {
	// Allowance is the month's credits; negative: unlimited.
	Allowance int
	Used      int
	// Period is the month, "2006-01" (UTC).
	Period string
	// RenewsAt is the first instant of the next month (UTC).
	RenewsAt time.Time
}

// Unlimited reports whether the allowance has no limit.
func (b *Balance) Unlimited() bool { return b.Allowance < 0 }

// Left is what remains of the allowance (0 when it is spent or lowered
// below what was used; meaningless when Unlimited).
func (b *Balance) Left() int { return max(b.Allowance-b.Used, 0) }

// period returns the month of t and the first instant of the next (UTC).
func period(t time.Time) (string, time.Time) {
	t = t.UTC()
	return t.Format("2006-01"), time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// system is the context the service reads and writes with: it checks who
// may do what itself.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// Cost is what a run of kind costs u: 0 on the user's own API key.
func (s *Service) Cost(u *ent.User, kind run.Kind) int {
	if u.ModelName != nil && u.ModelAPIKey != nil && len(*u.ModelAPIKey) > 0 {
		return 0 // the user's own key: every call goes to the user's provider
	}
	switch kind {
	case run.KindCHAT:
		model := s.cfg.DefaultModel
		if u.ModelName != nil {
			model = *u.ModelName
		}
		return s.cfg.Registry.Credits(model)
	case run.KindDEEP_ANALYSIS:
		return s.cfg.DeepAnalysis
	case run.KindFIX_CODE, run.KindEDIT_CODE, run.KindDESCRIBE_DATASETS:
		return 1
	default:
		return 0
	}
}

// Charge charges userID for a run of kind inside tx, the transaction that
// creates the run, and returns the credits charged. A run that would go
// over the allowance is refused with a CREDITS_EXHAUSTED *errcode.Error
// naming the allowance, the credits used, the cost and renewsAt.
func (s *Service) Charge(ctx context.Context, tx *ent.Tx, userID string, kind run.Kind) (int, error) {
	sys := system(ctx)
	u, err := tx.User.Get(sys, userID)
	if err != nil {
		return 0, fmt.Errorf("load user %s: %w", userID, err)
	}
	cost := s.Cost(u, kind)
	if cost == 0 {
		return 0, nil
	}
	allowance, err := s.allowance(sys, tx.PlanAllowance, u)
	if err != nil {
		return 0, err
	}
	p, renews := period(s.cfg.Now())
	// The month's row, created at the first charge; an existing row is
	// left as it is (and locked until the transaction ends).
	err = tx.CreditUsage.Create().SetUserID(userID).SetPeriod(p).
		OnConflictColumns(creditusage.FieldUserID, creditusage.FieldPeriod).Ignore().Exec(sys)
	if err != nil {
		return 0, fmt.Errorf("create credit usage of %s: %w", userID, err)
	}
	upd := tx.CreditUsage.Update().Where(creditusage.UserID(userID), creditusage.Period(p))
	if allowance >= 0 {
		upd.Where(creditusage.UsedLTE(allowance - cost))
	}
	n, err := upd.AddUsed(cost).Save(sys)
	if err != nil {
		return 0, fmt.Errorf("charge %d credits to %s: %w", cost, userID, err)
	}
	if n == 1 {
		return cost, nil
	}
	row, err := tx.CreditUsage.Query().Where(creditusage.UserID(userID), creditusage.Period(p)).Only(sys)
	if err != nil {
		return 0, fmt.Errorf("read credit usage of %s: %w", userID, err)
	}
	return 0, Exhausted(&Balance{Allowance: allowance, Used: row.Used, Period: p, RenewsAt: renews}, cost)
}

// Exhausted is the refusal of a run that costs cost with balance b.
func Exhausted(b *Balance, cost int) *errcode.Error {
	return &errcode.Error{
		Code: errcode.CreditsExhausted,
		Message: fmt.Sprintf("this run costs %d credits and %d of your %d credits of this month are left; the allowance renews at %s",
			cost, b.Left(), b.Allowance, b.RenewsAt.Format(time.RFC3339)),
		Extensions: map[string]any{
			"allowance": b.Allowance, "used": b.Used, "left": b.Left(), "cost": cost,
			"renewsAt": b.RenewsAt.Format(time.RFC3339),
		},
	}
}

// Refund gives back credits charged to userID this month for a run that
// never started (it could not be queued).
func (s *Service) Refund(ctx context.Context, userID string, credits int) error {
	if credits <= 0 {
		return nil
	}
	p, _ := period(s.cfg.Now())
	err := s.cfg.DB.CreditUsage.Update().
		Where(creditusage.UserID(userID), creditusage.Period(p), creditusage.UsedGTE(credits)).
		AddUsed(-credits).Exec(system(ctx))
	if err != nil {
		return fmt.Errorf("refund %d credits to %s: %w", credits, userID, err)
	}
	return nil
}

// allowance is u's monthly allowance: their own, else their plan's.
func (s *Service) allowance(ctx context.Context, plans *ent.PlanAllowanceClient, u *ent.User) (int, error) {
	if u.CreditAllowance != nil {
		return *u.CreditAllowance, nil
	}
	all, err := s.plans(ctx, plans)
	if err != nil {
		return 0, err
	}
	return all[u.Plan], nil
}

// plans returns every plan's allowance: an admin's, else the default.
func (s *Service) plans(ctx context.Context, plans *ent.PlanAllowanceClient) (map[user.Plan]int, error) {
	out := map[user.Plan]int{user.PlanFREE: s.cfg.Free, user.PlanPRO: s.cfg.Pro}
	rows, err := plans.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load plan allowances: %w", err)
	}
	for _, r := range rows {
		out[user.Plan(r.Plan)] = r.Credits
	}
	return out, nil
}

// Balance returns userID's credits of the current month.
func (s *Service) Balance(ctx context.Context, userID string) (*Balance, error) {
	sys := system(ctx)
	u, err := s.cfg.DB.User.Get(sys, userID)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, &errcode.Error{Code: errcode.NotFound, Field: "userID", Message: "user not found"}
		}
		return nil, fmt.Errorf("load user %s: %w", userID, err)
	}
	allowance, err := s.allowance(sys, s.cfg.DB.PlanAllowance, u)
	if err != nil {
		return nil, err
	}
	p, renews := period(s.cfg.Now())
	b := &Balance{Allowance: allowance, Period: p, RenewsAt: renews}
	row, err := s.cfg.DB.CreditUsage.Query().Where(creditusage.UserID(userID), creditusage.Period(p)).Only(sys)
	switch {
	case err == nil:
		b.Used = row.Used
	case !ent.IsNotFound(err):
		return nil, fmt.Errorf("read credit usage of %s: %w", userID, err)
	}
	return b, nil
}

// PlanAllowance is one plan's allowance.
type PlanAllowance struct {
	Plan user.Plan
	// Credits a month; negative: unlimited.
	Credits int
	// Default is set while no admin has set the plan's allowance.
	Default bool
}

// PlanAllowances lists the plans' allowances, FREE first.
func (s *Service) PlanAllowances(ctx context.Context) ([]PlanAllowance, error) {
	rows, err := s.cfg.DB.PlanAllowance.Query().All(system(ctx))
	if err != nil {
		return nil, fmt.Errorf("load plan allowances: %w", err)
	}
	out := []PlanAllowance{{Plan: user.PlanFREE, Credits: s.cfg.Free, Default: true}, {Plan: user.PlanPRO, Credits: s.cfg.Pro, Default: true}}
	for _, r := range rows {
		for i := range out {
			if string(out[i].Plan) == string(r.Plan) {
				out[i] = PlanAllowance{Plan: out[i].Plan, Credits: r.Credits}
			}
		}
	}
	return out, nil
}

// checkCredits refuses an allowance outside -1 (unlimited) to MaxAllowance.
func checkCredits(credits int) error {
	if credits < Unlimited || credits > MaxAllowance {
		return errcode.Field("credits", "an allowance is 0 to %d credits, or -1 for unlimited", MaxAllowance)
	}
	return nil
}

// SetPlanAllowance sets a plan's monthly allowance (-1: unlimited). The
// caller must have checked that the viewer is an admin.
func (s *Service) SetPlanAllowance(ctx context.Context, plan user.Plan, credits int) (*PlanAllowance, error) {
	if err := user.PlanValidator(plan); err != nil {
		return nil, errcode.Field("plan", "unknown plan %q", plan)
	}
	if err := checkCredits(credits); err != nil {
		return nil, err
	}
	err := s.cfg.DB.PlanAllowance.Create().SetPlan(planallowance.Plan(plan)).SetCredits(credits).
		OnConflictColumns(planallowance.FieldPlan).UpdateCredits().UpdateUpdatedAt().Exec(system(ctx))
	if err != nil {
		return nil, fmt.Errorf("set the allowance of plan %s: %w", plan, err)
	}
	return &PlanAllowance{Plan: plan, Credits: credits}, nil
}

// SetUserAllowance sets a user's own monthly allowance (-1: unlimited), or
// with nil removes it (the plan's applies). The caller must have checked
// that the viewer is an admin.
func (s *Service) SetUserAllowance(ctx context.Context, userID string, credits *int) error {
	if credits != nil {
		if err := checkCredits(*credits); err != nil {
			return err
		}
	}
	upd := s.cfg.DB.User.UpdateOneID(userID)
	if credits == nil {
		upd.ClearCreditAllowance()
	} else {
		upd.SetCreditAllowance(*credits)
	}
	err := upd.Exec(system(ctx))
	if ent.IsNotFound(err) {
		return &errcode.Error{Code: errcode.NotFound, Field: "userID", Message: "user not found"}
	}
	if err != nil {
		return fmt.Errorf("set the allowance of %s: %w", userID, err)
	}
	return nil
}
