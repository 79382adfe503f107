package analytics_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/autoanalyst/autoanalyst/analytics"
	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
)

// open returns a migrated database of each dialect.
func open(t *testing.T) map[string]*database.DB {
	t.Helper()
	out := map[string]*database.DB{}
	for name, url := range map[string]func(testing.TB) string{
		dialect.SQLite:   func(testing.TB) string { return "" },
		dialect.Postgres: databasetest.PostgresURL,
	} {
		db, err := database.Open(context.Background(), url(t), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		out[name] = db
	}
	return out
}

type fixture struct {
	alice, bob *ent.User
}

// seed writes two users' usage, runs, executions and feedback.
func seed(t *testing.T, db *ent.Client) fixture {
	t.Helper()
	ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
	alice := db.User.Create().SetName("alice").SetIsGuest(false).SetEmail("a@example.com").SaveX(ctx)
	bob := db.User.Create().SetName("bob").SaveX(ctx)
	usage := func(u *ent.User, model string, in, out int, cost float64, age time.Duration) {
		db.ModelUsage.Create().SetUserID(u.ID).SetProvider("openai").SetModelName(model).
			SetPromptTokens(in).SetCompletionTokens(out).SetTotalTokens(in + out).SetCost(cost).
			SetCreatedAt(time.Now().Add(-age)).SaveX(ctx)
	}
	usage(alice, "gpt-5-mini", 100, 50, 0.01, time.Hour)
	usage(alice, "gpt-5-mini", 200, 100, 0.02, 2*24*time.Hour)
	usage(alice, "gpt-5-nano", 1000, 0, 0.001, time.Minute)
	usage(bob, "claude-sonnet-4-6", 10, 10, 0.5, 3*time.Hour)
	usage(bob, "gpt-5-mini", 1, 1, 9, 40*24*time.Hour) // outside P30D
	db.Run.Create().SetUserID(alice.ID).SetKind("EXECUTE_CODE").SaveX(ctx)
	db.Run.Create().SetUserID(bob.ID).SetKind("CHAT").SaveX(ctx)
	exec := func(code string, ok bool, failed []string, errs []string) {
		db.CodeExecution.Create().SetUserID(alice.ID).SetInitialCode(code).SetLatestCode(code).
			SetIsSuccessful(ok).SetFailedAgents(failed).SetErrorMessages(errs).SaveX(ctx)
	}
	two := "# preprocessing_agent code start\nx = 1\n# preprocessing_agent code end\n# data_viz_agent code start\ny = 2\n# data_viz_agent code end\n"
	exec(two, true, nil, nil)
	exec(two, false, []string{"data_viz_agent"}, []string{"KeyError: 'price'\nTraceback…"})
	exec("print(1)", false, nil, []string{"KeyError: 'price'"})
	exec("print(2)", true, nil, nil)
	chat := db.Chat.Create().SetUserID(alice.ID).SaveX(ctx)
	for i, r := range []int{5, 4, 1} {
		m := db.Message.Create().SetUserID(alice.ID).SetChatID(chat.ID).SetSender("AI").SetContent("answer").SaveX(ctx)
		model := "gpt-5-mini"
		if i == 2 {
			model = "gpt-5-nano"
		}
		db.MessageFeedback.Create().SetUserID(alice.ID).SetMessageID(m.ID).SetRating(r).SetModelName(model).SaveX(ctx)
	}
	return fixture{alice, bob}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSummaries(t *testing.T) {
	for name, db := range open(t) {
		t.Run(name, func(t *testing.T) {
			f := seed(t, db.Client)
			svc, err := analytics.New(db.Client, db.Dialect, nil)
			if err != nil {
				t.Fatal(err)
			}
			asAlice := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: f.alice.ID, Role: viewer.RoleUser})
			sum, err := svc.UserSummary(asAlice, f.alice.ID, analytics.P30D)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Calls != 3 || sum.InputTokens != 1300 || sum.OutputTokens != 150 || sum.TotalTokens != 1450 || !near(sum.CostUSD, 0.031) || sum.Runs != 1 {
				t.Fatalf("alice's P30D = %+v", sum)
			}
			if len(sum.ByModel) != 2 || sum.ByModel[0].Model != "gpt-5-mini" || sum.ByModel[0].Calls != 2 {
				t.Fatalf("alice by model = %+v", sum.ByModel)
			}
			// Another user's rows stay hidden even when asked for.
			if other, err := svc.UserSummary(asAlice, f.bob.ID, analytics.P30D); err != nil || other.Calls != 0 {
				t.Fatalf("bob's usage as alice = %+v, %v", other, err)
			}
			if _, err := svc.UserSummary(asAlice, f.alice.ID, "P1Y"); err == nil {
				t.Fatal("an unknown period was accepted")
			}

			asAdmin := privacy.DecisionContext(viewer.NewContext(context.Background(), &viewer.Viewer{AdminKey: true}), privacy.Allow)
			d, err := svc.Dashboard(asAdmin, analytics.P7D, 10)
			if err != nil {
				t.Fatal(err)
			}
			if d.Calls != 4 || !near(d.CostUSD, 0.531) || d.Users.Total != 2 || d.Users.Guests != 1 || d.Users.Active != 2 || d.Users.New != 2 {
				t.Fatalf("dashboard = %+v users %+v", d.Summary, d.Users)
			}
			if len(d.ByDay) != 8 {
				t.Fatalf("%d days, want 8 (P7D and today)", len(d.ByDay))
			}
			calls := 0
			for _, day := range d.ByDay {
				calls += day.Calls
			}
			if calls != 4 || d.ByDay[len(d.ByDay)-1].Day != time.Now().UTC().Format(time.DateOnly) {
				t.Fatalf("by day = %+v", d.ByDay)
			}
			if !near(d.Projection.Next30DaysUSD, 0.531/7*30) {
				t.Fatalf("projection = %+v", d.Projection)
			}
			if len(d.TopUsers) != 2 || d.TopUsers[0].UserID != f.bob.ID || d.TopUsers[0].LastActive.IsZero() {
				t.Fatalf("top users = %+v", d.TopUsers)
			}
			if len(d.Tiers) == 0 {
				t.Fatal("no tiers")
			}
			ex := d.Executions
			if ex.Total != 4 || ex.Succeeded != 2 || !near(ex.SuccessRate, 0.5) || ex.Scanned != 4 {
				t.Fatalf("executions = %+v", ex)
			}
			byAgent := map[string]analytics.AgentExecutions{}
			for _, a := range ex.ByAgent {
				byAgent[a.Agent] = a
			}
			if a := byAgent["data_viz_agent"]; a.Total != 2 || a.Failed != 1 {
				t.Fatalf("data_viz_agent = %+v", a)
			}
			if a := byAgent["preprocessing_agent"]; a.Total != 2 || a.Failed != 0 {
				t.Fatalf("preprocessing_agent = %+v", a)
			}
			if a := byAgent["user_code"]; a.Total != 2 || a.Failed != 1 {
				t.Fatalf("user_code = %+v", a)
			}
			if len(ex.TopErrors) != 1 || ex.TopErrors[0].Message != "KeyError: 'price'" || ex.TopErrors[0].Count != 2 {
				t.Fatalf("top errors = %+v", ex.TopErrors)
			}
			fb := d.Feedback
			if fb.Count != 3 || !near(fb.Average, 10.0/3) || fb.Distribution != [5]int{1, 0, 0, 1, 1} {
				t.Fatalf("feedback = %+v", fb)
			}
			if len(fb.ByModel) != 2 || fb.ByModel[0].Model != "gpt-5-mini" || !near(fb.ByModel[0].Average, 4.5) {
				t.Fatalf("feedback by model = %+v", fb.ByModel)
			}

			tick, err := svc.Ticker(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tick.Signups != 1 || tick.Requests != 5 || tick.TotalTokens != 1450+20+2 {
				t.Fatalf("ticker = %+v", tick)
			}
		})
	}
}

func TestFollow(t *testing.T) {
	db := open(t)[dialect.SQLite]
	f := seed(t, db.Client)
	svc, _ := analytics.New(db.Client, db.Dialect, nil)
	asAdmin := privacy.DecisionContext(viewer.NewContext(context.Background(), &viewer.Viewer{AdminKey: true}), privacy.Allow)
	ctx, cancel := context.WithTimeout(asAdmin, 10*time.Second)
	defer cancel()
	got := make(chan *ent.ModelUsage, 3000)
	go svc.Follow(ctx, 20*time.Millisecond, func(u *ent.ModelUsage) bool { got <- u; return true })
	time.Sleep(100 * time.Millisecond) // the seeded rows are older than the feed
	sys := privacy.DecisionContext(context.Background(), privacy.Allow)
	for _, model := range []string{"m1", "m2"} {
		db.Client.ModelUsage.Create().SetUserID(f.bob.ID).SetProvider("openai").SetModelName(model).SaveX(sys)
	}
	for _, want := range []string{"m1", "m2"} {
		select {
		case u := <-got:
			if u.ModelName != want {
				t.Fatalf("feed gave %s, want %s", u.ModelName, want)
			}
		case <-ctx.Done():
			t.Fatalf("feed gave nothing for %s", want)
		}
	}
	select {
	case u := <-got:
		t.Fatalf("feed repeated or invented %+v", u)
	case <-time.After(200 * time.Millisecond):
	}

	// A burst of more rows than one query reads comes through whole, each
	// row once.
	const burst = 2500
	bulk := make([]*ent.ModelUsageCreate, burst)
	for i := range bulk {
		bulk[i] = db.Client.ModelUsage.Create().SetUserID(f.bob.ID).SetProvider("openai").SetModelName(fmt.Sprintf("b%d", i))
	}
	for i := 0; i < burst; i += 500 { // SQLite takes so many variables a statement
		db.Client.ModelUsage.CreateBulk(bulk[i : i+500]...).SaveX(sys)
	}
	ids := map[string]bool{}
	for len(ids) < burst {
		select {
		case u := <-got:
			if ids[u.ID] {
				t.Fatalf("feed repeated %s", u.ModelName)
			}
			ids[u.ID] = true
		case <-ctx.Done():
			t.Fatalf("feed gave %d of a burst of %d rows", len(ids), burst)
		}
	}
}
