package credit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/autoanalyst/autoanalyst/credit"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// open returns a migrated database of each dialect.
func open(t *testing.T) map[string]*ent.Client {
	t.Helper()
	out := map[string]*ent.Client{}
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
		out[name] = db.Client
	}
	return out
}

var sys = privacy.DecisionContext(context.Background(), privacy.Allow)

// clock is a settable clock.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) now() time.Time  { return *c.t.Load() }
func (c *clock) set(t time.Time) { c.t.Store(&t) }

// charge charges a run of kind in a transaction of its own.
func charge(t *testing.T, db *ent.Client, s *credit.Service, userID string, kind run.Kind) (int, error) {
	t.Helper()
	tx, err := db.Tx(sys)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Charge(sys, tx, userID, kind)
	if err != nil {
		tx.Rollback()
		return 0, err
	}
	return n, tx.Commit()
}

func TestCosts(t *testing.T) {
	s := credit.New(credit.Config{DefaultModel: "gpt-5-mini"})
	opus, unknown, key := "claude-opus-4-6", "llama3", []byte("sealed")
	for _, tc := range []struct {
		name string
		u    *ent.User
		kind run.Kind
		want int
	}{
		{"default model (tier 2)", &ent.User{}, run.KindCHAT, 3},
		{"own model (tier 5)", &ent.User{ModelName: &opus}, run.KindCHAT, 50},
		{"unknown model as tier 1", &ent.User{ModelName: &unknown}, run.KindCHAT, 1},
		{"own API key", &ent.User{ModelName: &opus, ModelAPIKey: &key}, run.KindCHAT, 0},
		{"own API key, deep analysis", &ent.User{ModelName: &opus, ModelAPIKey: &key}, run.KindDEEP_ANALYSIS, 0},
		{"deep analysis", &ent.User{}, run.KindDEEP_ANALYSIS, 50},
		{"fix", &ent.User{}, run.KindFIX_CODE, 1},
		{"edit", &ent.User{}, run.KindEDIT_CODE, 1},
		{"describe", &ent.User{}, run.KindDESCRIBE_DATASETS, 1},
		{"execute", &ent.User{}, run.KindEXECUTE_CODE, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Cost(tc.u, tc.kind); got != tc.want {
				t.Fatalf("Cost = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAllowance(t *testing.T) {
	for name, db := range open(t) {
		t.Run(name, func(t *testing.T) {
			var c clock
			c.set(time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC))
			s := credit.New(credit.Config{DB: db, DefaultModel: "gpt-5-mini", Free: 7, Pro: credit.Unlimited, Now: c.now})
			alice := db.User.Create().SaveX(sys)
			pro := db.User.Create().SetPlan(user.PlanPRO).SaveX(sys)

			// 3 + 3 fit in 7; a third chat turn (3) does not.
			for range 2 {
				if n, err := charge(t, db, s, alice.ID, run.KindCHAT); err != nil || n != 3 {
					t.Fatalf("charge = %d, %v", n, err)
				}
			}
			_, err := charge(t, db, s, alice.ID, run.KindCHAT)
			e, ok := errcode.As(err)
			if !ok || e.Code != errcode.CreditsExhausted || e.Extensions["allowance"] != 7 || e.Extensions["used"] != 6 ||
				e.Extensions["renewsAt"] != "2026-04-01T00:00:00Z" {
				t.Fatalf("third charge: %v %+v", err, e)
			}
			// A run that costs nothing (an execution) is still accepted.
			if n, err := charge(t, db, s, alice.ID, run.KindEXECUTE_CODE); err != nil || n != 0 {
				t.Fatalf("execution = %d, %v", n, err)
			}
			// 1 credit left: a fix fits.
			if _, err := charge(t, db, s, alice.ID, run.KindFIX_CODE); err != nil {
				t.Fatal(err)
			}
			b, err := s.Balance(sys, alice.ID)
			if err != nil || b.Used != 7 || b.Left() != 0 || b.Period != "2026-03" {
				t.Fatalf("balance = %+v, %v", b, err)
			}

			// Admins see alice near (at) her allowance; pro is unlimited.
			if _, err := charge(t, db, s, pro.ID, run.KindDEEP_ANALYSIS); err != nil {
				t.Fatal(err)
			}
			near, err := s.NearAllowance(sys, 0.8, 10)
			if err != nil || len(near) != 1 || near[0].User.ID != alice.ID || near[0].Used != 7 {
				t.Fatalf("near = %+v, %v", near, err)
			}

			// The month renews: used starts again from 0.
			c.set(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
			if b, err := s.Balance(sys, alice.ID); err != nil || b.Used != 0 || b.Left() != 7 || b.RenewsAt.Month() != time.May {
				t.Fatalf("renewed balance = %+v, %v", b, err)
			}
			if _, err := charge(t, db, s, alice.ID, run.KindCHAT); err != nil {
				t.Fatalf("after renewal: %v", err)
			}

			// An admin raises the plan's allowance, then alice's own.
			if _, err := s.SetPlanAllowance(sys, user.PlanFREE, 3); err != nil {
				t.Fatal(err)
			}
			if _, err := charge(t, db, s, alice.ID, run.KindCHAT); errcode.Of(err) != errcode.CreditsExhausted {
				t.Fatalf("plan lowered to 3: %v", err)
			}
			hundred := 100
			if err := s.SetUserAllowance(sys, alice.ID, &hundred); err != nil {
				t.Fatal(err)
			}
			if _, err := charge(t, db, s, alice.ID, run.KindCHAT); err != nil {
				t.Fatalf("own allowance 100: %v", err)
			}
			if err := s.SetUserAllowance(sys, alice.ID, nil); err != nil {
				t.Fatal(err)
			}
			plans, err := s.PlanAllowances(sys)
			if err != nil || plans[0].Credits != 3 || plans[0].Default || !plans[1].Default || plans[1].Credits != credit.Unlimited {
				t.Fatalf("plans = %+v, %v", plans, err)
			}
			if b, _ := s.Balance(sys, alice.ID); b.Allowance != 3 || b.Used != 6 {
				t.Fatalf("balance after removing the override = %+v", b)
			}
			// Refund gives back what a run not queued was charged.
			if err := s.Refund(sys, alice.ID, 3); err != nil {
				t.Fatal(err)
			}
			if b, _ := s.Balance(sys, alice.ID); b.Used != 3 {
				t.Fatalf("balance after refund = %+v", b)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	db := open(t)[dialect.SQLite]
	s := credit.New(credit.Config{DB: db, Free: 1})
	big := credit.MaxAllowance + 1
	for _, tc := range []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"allowance below -1", func() error { _, err := s.SetPlanAllowance(sys, user.PlanFREE, -2); return err }(), errcode.BadUserInput},
		{"allowance too large", s.SetUserAllowance(sys, "usr_x", &big), errcode.BadUserInput},
		{"unknown plan", func() error { _, err := s.SetPlanAllowance(sys, "GOLD", 1); return err }(), errcode.BadUserInput},
		{"unknown user", s.SetUserAllowance(sys, "usr_missing", nil), errcode.NotFound},
		{"threshold above 1", func() error { _, err := s.NearAllowance(sys, 1.5, 10); return err }(), errcode.BadUserInput},
		{"first 0", func() error { _, err := s.NearAllowance(sys, 0.5, 0); return err }(), errcode.BadUserInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errcode.Of(tc.err); got != tc.want {
				t.Fatalf("code = %s (%v), want %s", got, tc.err, tc.want)
			}
		})
	}
}

// TestConcurrent: charges racing for the last credits never overshoot.
func TestConcurrent(t *testing.T) {
	for name, db := range open(t) {
		t.Run(name, func(t *testing.T) {
			s := credit.New(credit.Config{DB: db, DefaultModel: "gpt-5-mini", Free: 30})
			u := db.User.Create().SaveX(sys)
			var (
				wg       sync.WaitGroup
				accepted atomic.Int32
			)
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for attempt := 0; attempt < 50; attempt++ {
						tx, err := db.Tx(sys)
						if err != nil {
							continue
						}
						_, err = s.Charge(sys, tx, u.ID, run.KindCHAT)
						if err == nil {
							err = tx.Commit()
						} else {
							tx.Rollback()
						}
						if err == nil {
							accepted.Add(1)
							return
						}
						if errcode.Of(err) == errcode.CreditsExhausted {
							return
						}
						time.Sleep(time.Millisecond) // SQLite busy: retry
					}
				}()
			}
			wg.Wait()
			b, err := s.Balance(sys, u.ID)
			if err != nil || accepted.Load() != 10 || b.Used != 30 {
				t.Fatalf("accepted %d, balance %+v, %v", accepted.Load(), b, err)
			}
		})
	}
}
