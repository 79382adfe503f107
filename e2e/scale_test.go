package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// The scaled-out tests run the same binary as several API nodes
// (`serve --workers 0`) and several `worker` processes on the real Redis and
// PostgreSQL, each test with a database and a Redis key prefix of its own.

// cluster is a scaled-out deployment: API nodes and workers sharing
// PostgreSQL, Redis and a blob folder.
type cluster struct {
	t   *testing.T
	env map[string]string
}

func newCluster(t *testing.T, extra map[string]string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	env := map[string]string{
		"DATABASE_URL": databasetest.PostgresURL(t),
		"REDIS_URL":    testRedisURL(t),
		"REDIS_PREFIX": fmt.Sprintf("aa-test-%016x:", rand.Uint64()),
		"BLOB_URL":     "file://" + t.TempDir(),
		"RUN_LEASE":    "3s",
	}
	for k, v := range extra {
		env[k] = v
	}
	return &cluster{t: t, env: env}
}

func (c *cluster) api() *server         { return startServer(c.t, c.env, "--workers", "0") }
func (c *cluster) worker() *server      { return startWorker(c.t, c.env) }
func (s *server) kill()                 { s.cmd.Process.Kill(); <-s.done }
func (s *server) holds(run string) bool { return strings.Contains(s.logs.String(), `"run":"`+run+`"`) }

func runStatus(t *testing.T, s *server, token, runID string) string {
	t.Helper()
	var status struct {
		Node struct{ Status string } `json:"node"`
	}
	s.must(token, `query($id: ID!) { node(id: $id) { ... on Run { status } } }`, map[string]any{"id": runID}, &status)
	return status.Node.Status
}

// followAndStop follows a run on node a and, once its execution has
// started, calls stop on the worker that holds it; it returns the events up
// to the end of the run.
func followAndStop(ctx context.Context, t *testing.T, a *server, token, runID string, stop func(*server), workers ...*server) []event {
	t.Helper()
	var stopped atomic.Pointer[server]
	evs, gerr, err := a.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, func(e event) {
		if e.Type != "EXECUTION_STARTED" || stopped.Load() != nil {
			return
		}
		for _, w := range workers {
			if w.holds(runID) {
				stopped.Store(w)
				stop(w)
				return
			}
		}
	})
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if stopped.Load() == nil {
		t.Fatalf("no worker logged run %s", runID)
	}
	return evs
}

// TestScaleOut: a run started on node A streams to a subscriber on node B,
// a chat turn runs through a worker process, and cancelRun on B stops a run
// that a worker holds.
func TestScaleOut(t *testing.T) {
	llmSrv := scriptedLLM(t)
	c := newCluster(t, map[string]string{
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": llmSrv.BaseURL(),
	})
	a, b := c.api(), c.api()
	c.worker()
	c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "print(df.shape)")
	evs, gerr, err := b.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe on B: %v %+v", err, gerr)
	}
	checkSeqs(t, evs, 1)
	if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "(2, 2)\n" {
		t.Fatalf("events on B: %+v", evs)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}
	if st := runStatus(t, b, token, runID); st != "SUCCEEDED" {
		t.Fatalf("status on B = %s", st)
	}

	// A long run, cancelled through the other node.
	runID = execute(t, b, token, chatID, "import time\ntime.sleep(60)")
	var once sync.Once
	evs, gerr, err = a.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, func(e event) {
		if e.Type == "EXECUTION_STARTED" {
			once.Do(func() {
				var out struct {
					CancelRun struct{ Status string } `json:"cancelRun"`
				}
				b.must(token, `mutation($id: ID!) { cancelRun(id: $id) { status } }`, map[string]any{"id": runID}, &out)
			})
		}
	})
	if err != nil || gerr != nil {
		t.Fatalf("subscribe on A: %v %+v", err, gerr)
	}
	checkSeqs(t, evs, 1)
	if last := evs[len(evs)-1]; last.Type != "RUN_CANCELLED" {
		t.Fatalf("events of the cancelled run: %+v", evs)
	}
}

// TestWorkerKilled kills the worker that holds a run with SIGKILL: the other
// worker takes the run over once the lease expires and completes it, and the
// subscriber sees one gap-free sequence.
func TestWorkerKilled(t *testing.T) {
	c := newCluster(t, nil)
	a := c.api()
	w1, w2 := c.worker(), c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "import time\ntime.sleep(2)\nprint(df.shape)")
	evs := followAndStop(ctx, t, a, token, runID, func(w *server) { w.kill() }, w1, w2)
	checkSeqs(t, evs, 1)
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" || last.Seq < 4 {
		t.Fatalf("events: %+v", evs)
	}
	results := 0
	for _, e := range evs {
		if e.Type == "EXECUTION_RESULT" {
			results++
			if e.Result.Stdout != "(2, 2)\n" {
				t.Fatalf("result %+v", e.Result)
			}
		}
	}
	if results != 1 {
		t.Fatalf("%d execution results, want 1 (the killed worker's never finished)", results)
	}
	if st := runStatus(t, a, token, runID); st != "SUCCEEDED" {
		t.Fatalf("status = %s", st)
	}
}

// TestAPINodeKilled kills the node a client follows a run on; the client
// resumes on the other node from its last seq and misses nothing.
func TestAPINodeKilled(t *testing.T) {
	c := newCluster(t, nil)
	a, b := c.api(), c.api()
	c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.5)\nprint(df.shape)")
	var once sync.Once
	first, _, _ := a.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, func(e event) {
		if e.Type == "EXECUTION_STARTED" {
			once.Do(func() { go a.kill() })
		}
	})
	if len(first) == 0 {
		t.Fatal("no event before the node died")
	}
	last := first[len(first)-1].Seq
	rest, gerr, err := b.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, last, nil)
	if err != nil || gerr != nil {
		t.Fatalf("resume on B: %v %+v", err, gerr)
	}
	all := append(first, rest...)
	checkSeqs(t, all, 1)
	if e := all[len(all)-1]; e.Type != "RUN_SUCCEEDED" {
		t.Fatalf("events: %+v", all)
	}
}

// TestWorkerSIGTERM stops a worker gracefully while it runs a long run: the
// run goes back to the queue at once (not after the lease) and the other
// worker completes it.
func TestWorkerSIGTERM(t *testing.T) {
	c := newCluster(t, map[string]string{"RUN_LEASE": "60s", "SHUTDOWN_TIMEOUT": "1s"})
	a := c.api()
	w1, w2 := c.worker(), c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "import time\ntime.sleep(4)\nprint(df.shape)")
	start := time.Now()
	evs := followAndStop(ctx, t, a, token, runID, func(w *server) { w.cmd.Process.Signal(syscall.SIGTERM) }, w1, w2)
	checkSeqs(t, evs, 1)
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("events: %+v", evs)
	}
	if d := time.Since(start); d > 40*time.Second {
		t.Fatalf("the run took %s: it waited for the 60s lease instead of being handed back", d)
	}
}

// privateRedis is a redis-server of the test's own on a free port, which the
// test may stop and start again; it keeps its data across restarts (AOF).
type privateRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found: %v", err)
		}
		t.Skipf("redis-server not found: %v", err)
	}
	r := &privateRedis{t: t, port: freePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir, "--daemonize", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatal("private redis-server did not start")
}

func (r *privateRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM) // redis flushes the AOF and exits
	r.cmd.Wait()
	r.cmd = nil
}

// TestRedisRestart stops Redis for a few seconds while a run is in flight:
// the API node and the worker reconnect by themselves, the run completes, and
// the subscriber receives every event.
func TestRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	rds := startPrivateRedis(t)
	c := newCluster(t, map[string]string{"REDIS_URL": rds.url(), "RUN_LEASE": "15s"})
	a := c.api()
	c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "import time\nfor i in range(8):\n    print(i, flush=True)\n    time.sleep(0.5)\nprint(df.shape)")
	var once sync.Once
	restarted := make(chan struct{})
	evs, gerr, err := a.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, func(e event) {
		if e.Type == "EXECUTION_STARTED" {
			once.Do(func() {
				go func() {
					defer close(restarted)
					rds.stop()
					time.Sleep(3 * time.Second)
					rds.start()
				}()
			})
		}
	})
	<-restarted
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v (events %+v)", err, gerr, evs)
	}
	checkSeqs(t, evs, 1)
	if res := find(evs, "EXECUTION_RESULT"); res == nil || !strings.HasSuffix(res.Result.Stdout, "7\n(2, 2)\n") {
		t.Fatalf("events: %+v", evs)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}
	// And new runs go through as before.
	runID = execute(t, a, token, chatID, "print(df.shape)")
	evs, gerr, err = a.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, nil)
	if err != nil || gerr != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("a run after the restart: %v %+v %+v", err, gerr, evs)
	}
}

// TestChatTurnReclaimed kills the worker that holds a chat turn while its
// code runs: the other worker completes the turn, and the chat has exactly
// one answer.
func TestChatTurnReclaimed(t *testing.T) {
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You are preprocessing_agent", Reply: llmtest.Text(
			"```python\nimport time\ntime.sleep(2)\nprint('rows:', df.shape[0])\n```\nCounted the rows.")},
	).Handle)
	c := newCluster(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL()})
	a := c.api()
	w1, w2 := c.worker(), c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token, chatID := chatWithData(t, a)
	var r struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	a.must(token, sendMutation, map[string]any{"chat": chatID, "content": "@preprocessing_agent count the rows"}, &r)
	runID := r.SendMessage.ID
	evs := followAndStop(ctx, t, a, token, runID, func(w *server) { w.kill() }, w1, w2)
	checkSeqs(t, evs, 1)
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("events: %+v", evs)
	}
	var out struct {
		Node struct {
			Messages struct {
				Edges []struct {
					Node struct {
						Sender  string `json:"sender"`
						Content string `json:"content"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"messages"`
		} `json:"node"`
	}
	a.must(token, `query($id: ID!) { node(id: $id) { ... on Chat { messages { edges { node { sender content } } } } } }`,
		map[string]any{"id": chatID}, &out)
	answers := 0
	for _, e := range out.Node.Messages.Edges {
		if e.Node.Sender == "ai" || e.Node.Sender == "AI" {
			answers++
			if !strings.Contains(e.Node.Content, "rows: 2") {
				t.Errorf("answer %q", e.Node.Content)
			}
		}
	}
	if answers != 1 || len(out.Node.Messages.Edges) != 2 {
		t.Fatalf("messages %+v: want the question and one answer", out.Node.Messages.Edges)
	}
	// The first worker's agent call completed before it died, and the second
	// worker called the model again, then interpreted the output, named the
	// chat and summarised the answer (follow-ups are skipped on a
	// redelivered run): five calls in all.
	if n := llmSrv.Count(); n != 5 {
		t.Errorf("%d model calls, want 5 (the agent twice; the interpreter, the chat's name and the answer's summary once)", n)
	}
	// One usage row per call that completed, whichever worker made it.
	db, err := sql.Open("pgx", c.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM model_usages WHERE run_id = $1`, runID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != llmSrv.Count() {
		t.Errorf("%d usage rows for %d model calls", rows, llmSrv.Count())
	}
}

// TestDeepAnalysisReclaimed kills the worker that holds a deep analysis at
// its first code-synthesis execution: the other worker takes the run over,
// keeps the research questions and the plan the first one stored (their
// prompts are not sent again), and completes the report.
func TestDeepAnalysisReclaimed(t *testing.T) {
	llmSrv := deepLLM(t)
	c := newCluster(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL()})
	a := c.api()
	w1, w2 := c.worker(), c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	token := a.session()
	chatID := housesChat(t, a, token)
	var r struct{ StartDeepAnalysis struct{ ID string } }
	a.must(token, startDeepMutation, map[string]any{"chat": chatID, "goal": "What drives house prices?"}, &r)
	runID := r.StartDeepAnalysis.ID

	evs := followAndStop(ctx, t, a, token, runID, func(w *server) { w.kill() }, w1, w2)
	checkSeqs(t, evs, 1)
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}
	kept := map[string]bool{}
	for _, e := range evs {
		if e.Type == "STEP" && strings.HasSuffix(e.Text, "(kept from an earlier attempt)") {
			kept[strings.TrimSuffix(e.Text, " (kept from an earlier attempt)")] = true
		}
	}
	if len(kept) != 2 || !kept["step 1 of 7: research questions"] || !kept["step 2 of 7: plan"] {
		t.Fatalf("steps kept: %v", kept)
	}
	sent := map[string]int{}
	for _, req := range llmSrv.Requests() {
		for _, p := range []string{"You write the research questions", "You are the planner of a deep analysis",
			"You are statistical_analytics_agent", "You write the conclusion"} {
			if strings.Contains(req.LastMessage(), p) {
				sent[p]++
			}
		}
	}
	if sent["You write the research questions"] != 1 || sent["You are the planner of a deep analysis"] != 1 ||
		sent["You are statistical_analytics_agent"] != 2 || sent["You write the conclusion"] != 1 {
		t.Fatalf("prompts sent: %v (the questions and the plan once, the agents again after the takeover)", sent)
	}
	var rep deepReport
	a.must(token, runReportQuery, map[string]any{"id": runID}, &rep)
	if rep.Node.Report == nil || rep.Node.Report.Status != "COMPLETED" || len(rep.Node.Report.DeepQuestions) != 2 ||
		len(rep.Node.Report.PlotlyFigures) != 2 || len(rep.Node.Report.StepsCompleted) != 7 {
		t.Fatalf("report = %+v", rep.Node.Report)
	}
}
