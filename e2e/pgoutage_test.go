package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// privatePostgres is a PostgreSQL cluster of the test's own (Debian's
// server binaries), which it may stop and start.
type privatePostgres struct {
	t        *testing.T
	bin, dir string
	port     int
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL server binaries not found under /usr/lib/postgresql")
		}
		t.Skip("PostgreSQL server binaries not found")
	}
	// Under /tmp with a mode the postgres user can enter (TempDir is 0700).
	dir, err := os.MkdirTemp("", "aa-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	p := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(dir, "data"), port: freePort(t)}
	t.Cleanup(func() {
		p.pgCtl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	p.run("initdb", "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync")
	p.start()
	return p
}

// run runs a server binary, as the postgres user when the test is root.
func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, name)}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (p *privatePostgres) pgCtl(args ...string) {
	cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), append([]string{"-D", p.dir, "-w"}, args...)...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, "pg_ctl"), "-D", p.dir, "-w"}, args...)...)
	}
	cmd.Run()
}

func (p *privatePostgres) start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-w", "-l", filepath.Join(filepath.Dir(p.dir), "log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, filepath.Dir(p.dir)), "start")
}

func (p *privatePostgres) stop() { p.pgCtl("stop", "-m", "fast") }

func (p *privatePostgres) url() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.port) + "/postgres?sslmode=disable"
}

// TestPostgresOutage stops PostgreSQL for 10 seconds while chat turns run
// (their model calls take a while). No run stays QUEUED or RUNNING, every
// model call the provider answered has its usage row, and a valid token is
// never answered UNAUTHENTICATED during the outage (UNAVAILABLE instead).
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	pg := startPrivatePostgres(t)
	router := scriptedRouter()
	llmSrv := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		r := router.Handle(req)
		r.Delay = 700 * time.Millisecond
		return r
	})
	c := newCluster(t, map[string]string{
		"DATABASE_URL": pg.url(), "RECONCILE_INTERVAL": "1s", "RUN_LEASE": "5s",
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(),
	})
	a := c.api()
	c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	token := a.session()
	chatID := housesChat(t, a, token)

	const turns = 6
	var ids []string
	for i := range turns {
		var r struct {
			SendMessage struct{ ID string } `json:"sendMessage"`
		}
		a.must(token, sendMutation, map[string]any{"chat": chatID, "content": fmt.Sprintf("question %d: fill the missing areas and chart the price per city", i)}, &r)
		ids = append(ids, r.SendMessage.ID)
	}
	time.Sleep(2 * time.Second) // the turns are under way
	pg.stop()
	outageEnd := time.Now().Add(10 * time.Second)
	unauthenticated, unavailable := 0, 0
	for time.Now().Before(outageEnd) {
		switch a.do(token, `{ viewer { id } }`, nil).code() {
		case "UNAUTHENTICATED":
			unauthenticated++
		case "UNAVAILABLE":
			unavailable++
		}
		time.Sleep(200 * time.Millisecond)
	}
	pg.start()
	t.Logf("during the outage: %d UNAUTHENTICATED, %d UNAVAILABLE", unauthenticated, unavailable)
	if unauthenticated > 0 {
		t.Errorf("a valid token was answered UNAUTHENTICATED %d times during the outage (UNAVAILABLE %d times)", unauthenticated, unavailable)
	}
	if unavailable == 0 {
		t.Error("no request was answered UNAVAILABLE during the outage")
	}

	// Every run ends, and says how.
	deadline := time.Now().Add(3 * time.Minute)
	for _, id := range ids {
		for {
			st := runStatus(t, a, token, id)
			if st == "SUCCEEDED" || st == "FAILED" || st == "CANCELLED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s still %s", id, st)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// Every call the provider answered is recorded.
	db, err := sql.Open("pgx", pg.url())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM model_usages`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d usage rows for %d model calls answered", rows, llmSrv.Count())
	if calls := llmSrv.Count(); rows != calls {
		t.Errorf("%d usage rows for %d model calls answered", rows, calls)
	}
	var stuck []string
	r, err := db.QueryContext(ctx, `SELECT id, status FROM runs WHERE status IN ('QUEUED', 'RUNNING')`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var id, st string
		r.Scan(&id, &st)
		stuck = append(stuck, id+" "+st)
	}
	r.Close()
	if len(stuck) > 0 {
		t.Errorf("runs left unfinished: %s", strings.Join(stuck, ", "))
	}
}
