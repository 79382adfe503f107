package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// subscribeAsync follows a run on node a in the background; started
// receives a value at each EXECUTION_STARTED, and the events arrive on the
// returned channel once the subscription ends.
func subscribeAsync(ctx context.Context, t *testing.T, a *server, token, runID string, after int) (started <-chan struct{}, done <-chan []event) {
	t.Helper()
	st := make(chan struct{}, 16)
	out := make(chan []event, 1)
	go func() {
		evs, gerr, err := a.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, after, func(e event) {
			if e.Type == "EXECUTION_STARTED" {
				select {
				case st <- struct{}{}:
				default:
				}
			}
		})
		if err != nil || gerr != nil {
			t.Errorf("subscribe: %v %+v", err, gerr)
		}
		out <- evs
	}()
	return st, out
}

func waitFor[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

func countType(evs []event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestWorkerKilledEveryAttempt: the worker holding a run is killed on each
// of its attempts. The job is dead-lettered, and the reconciler of a live
// worker ends the run FAILED with the reason; the subscriber gets the
// terminal event, and each new attempt was announced by RUN_RESTARTED.
func TestWorkerKilledEveryAttempt(t *testing.T) {
	c := newCluster(t, map[string]string{"RECONCILE_INTERVAL": "1s"})
	a := c.api()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "import time\ntime.sleep(120)")
	started, done := subscribeAsync(ctx, t, a, token, runID, 0)
	for attempt := 1; attempt <= 3; attempt++ {
		w := c.worker()
		waitFor(t, started, 90*time.Second, "the execution to start")
		if !w.holds(runID) {
			t.Fatalf("attempt %d: the only worker does not hold the run", attempt)
		}
		w.kill()
	}
	c.worker() // takes nothing back: its Claim dead-letters the job; its reconciler fails the run
	evs := waitFor(t, done, 90*time.Second, "the run's end")
	checkSeqs(t, evs, 1)
	last := evs[len(evs)-1]
	if last.Type != "RUN_FAILED" || !strings.Contains(last.Text, "given up after 3 attempts") {
		t.Fatalf("last event %+v, want RUN_FAILED giving the reason", last)
	}
	if n := countType(evs, "RUN_RESTARTED"); n != 2 {
		t.Errorf("%d RUN_RESTARTED events, want 2 (before attempts 2 and 3)", n)
	}
	if st := runStatus(t, a, token, runID); st != "FAILED" {
		t.Fatalf("status = %s", st)
	}
}

// TestRedisLostData: Redis restarts empty while a run executes (no
// persistence, or a failover to an empty replica). The worker loses its
// lease; the reconciler finds the run's job gone and queues the run again;
// the log goes on past what the subscriber saw, with RUN_RESTARTED, and
// the run completes. The repair is logged and counted.
func TestRedisLostData(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	rds := startPrivateRedis(t)
	c := newCluster(t, map[string]string{"REDIS_URL": rds.url(), "RECONCILE_INTERVAL": "1s"})
	a := c.api()
	w := c.worker()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	token, chatID := chatWithData(t, a)
	runID := execute(t, a, token, chatID, "import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.5)\nprint(df.shape)")
	started, done := subscribeAsync(ctx, t, a, token, runID, 0)
	waitFor(t, started, 90*time.Second, "the execution to start")
	rds.stop()
	entries, _ := os.ReadDir(rds.dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(rds.dir, e.Name()))
	}
	rds.start() // empty

	evs := waitFor(t, done, 3*time.Minute, "the run's end")
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v (events %+v)", last, evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Fatalf("seq went back: %d after %d", evs[i].Seq, evs[i-1].Seq)
		}
	}
	if find(evs, "RUN_RESTARTED") == nil {
		t.Errorf("no RUN_RESTARTED in %+v", evs)
	}
	if res := find(evs, "EXECUTION_RESULT"); res == nil || !strings.HasSuffix(res.Result.Stdout, "(2, 2)\n") {
		t.Errorf("no complete execution result in %+v", evs)
	}
	if st := runStatus(t, a, token, runID); st != "SUCCEEDED" {
		t.Errorf("status = %s", st)
	}
	if !strings.Contains(w.logs.String(), "reconciler: the broker had lost the run's job") {
		t.Error("the worker did not log the repair")
	}
	resp, err := http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `autoanalyst_run_repairs_total{action="requeued"} 1`) {
		t.Errorf("the repair is not counted:\n%s", grepLines(string(body), "run_repairs"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestEmbeddedRestartResume: the embedded server gets SIGTERM while runs
// execute. Their subscriptions are closed with 1001 (going away), never
// completed without a terminal event; the runs go back to the queue. A
// client that resumes on the restarted server with after = its last seq
// sees the new attempt whole: a RUN_RESTARTED after its last event, then
// the run to its end, with no event of the new attempt skipped.
func TestEmbeddedRestartResume(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	data := t.TempDir()
	env := map[string]string{"DATA_DIR": data, "SHUTDOWN_TIMEOUT": "1s"}
	srv := startServer(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	token, chatID := chatWithData(t, srv)
	const runs = 4
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = execute(t, srv, token, chatID, "import time\nfor i in range(40):\n    print(i, flush=True)\n    time.sleep(0.25)\nprint(df.shape)")
	}
	type result struct {
		evs []event
		err error
	}
	results := make([]chan result, runs)
	var once sync.Once
	for i, id := range ids {
		results[i] = make(chan result, 1)
		go func() {
			evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(token), id, 0, func(e event) {
				if e.Type == "EXECUTION_STARTED" {
					once.Do(func() { srv.cmd.Process.Signal(syscall.SIGTERM) })
				}
			})
			if gerr != nil {
				err = fmt.Errorf("graphql error %+v", gerr)
			}
			results[i] <- result{evs, err}
		}()
	}
	lastSeq := make([]int, runs)
	for i := range ids {
		r := waitFor(t, results[i], 2*time.Minute, "a subscription's end")
		if n := len(r.evs); n > 0 && r.evs[n-1].Type != "RUN_SUCCEEDED" && websocket.CloseStatus(r.err) != websocket.StatusGoingAway {
			t.Errorf("run %d: subscription ended after %s with %v, want a close with 1001", i, r.evs[n-1].Type, r.err)
		}
		if n := len(r.evs); n > 0 {
			lastSeq[i] = r.evs[n-1].Seq
		}
	}
	waitFor(t, srv.done, 30*time.Second, "the server's exit")

	srv = startServer(t, env) // the same database and data folder
	for i, id := range ids {
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(token), id, lastSeq[i], nil)
		if err != nil || gerr != nil {
			t.Fatalf("run %d: resume after %d: %v %+v", i, lastSeq[i], err, gerr)
		}
		if len(evs) == 0 || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
			t.Fatalf("run %d: resumed events %+v", i, evs)
		}
		if lastSeq[i] > 0 && find(evs, "RUN_STARTED") != nil && evs[0].Type != "RUN_RESTARTED" {
			t.Errorf("run %d: the new attempt was not announced: %+v", i, evs[0])
		}
		if find(evs, "RUN_STARTED") != nil && find(evs, "EXECUTION_STARTED") == nil {
			t.Errorf("run %d: an execution result without its start: %+v", i, evs)
		}
		for j, e := range evs {
			if e.Seq <= lastSeq[i] || j > 0 && e.Seq != evs[j-1].Seq+1 {
				t.Fatalf("run %d: seq %d after %d (resumed after %d)", i, e.Seq, evs[max(j-1, 0)].Seq, lastSeq[i])
			}
		}
	}
}

// TestTitleWhenQuestionsArriveTogether: a chat whose first questions are
// sent together still gets the model's title, from its first question.
func TestTitleWhenQuestionsArriveTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := scriptedLLM(t)
	srv := startServer(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL()})
	token := srv.session()
	chatID := housesChat(t, srv, token)
	var ids []string
	for i := range 3 {
		var r struct {
			SendMessage struct{ ID string } `json:"sendMessage"`
		}
		srv.must(token, sendMutation, map[string]any{"chat": chatID, "content": fmt.Sprintf("question %d: chart the price per city", i)}, &r)
		ids = append(ids, r.SendMessage.ID)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range ids {
		for st := runStatus(t, srv, token, id); st != "SUCCEEDED"; st = runStatus(t, srv, token, id) {
			if st == "FAILED" || time.Now().After(deadline) {
				t.Fatalf("run %s: %s", id, st)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	var chat struct {
		Node struct{ Title string } `json:"node"`
	}
	srv.must(token, `query($id: ID!) { node(id: $id) { ... on Chat { title } } }`, map[string]any{"id": chatID}, &chat)
	if chat.Node.Title != "City Price Chart" {
		t.Errorf("title %q, want the model's \"City Price Chart\"", chat.Node.Title)
	}
}

// TestSharedRedisPrefix: the workers of another deployment (another
// database) share the Redis server and key prefix. They say so at start,
// and never acknowledge a job whose run their database does not hold: it
// goes back, so every run of the first deployment ends (done by its own
// worker, or failed with the reason once its attempts are used up).
func TestSharedRedisPrefix(t *testing.T) {
	a := newCluster(t, map[string]string{"RECONCILE_INTERVAL": "1s"})
	b := newCluster(t, map[string]string{"REDIS_PREFIX": a.env["REDIS_PREFIX"], "RECONCILE_INTERVAL": "1s"})
	api := a.api()
	a.worker()
	foreign := b.worker()
	if !strings.Contains(foreign.logs.String(), "REDIS_PREFIX is shared with a deployment on another database") {
		t.Error("the other deployment's worker did not warn of the shared prefix at start")
	}
	token, chatID := chatWithData(t, api)
	var ids []string
	for range 6 {
		ids = append(ids, execute(t, api, token, chatID, "print(df.shape)"))
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, id := range ids {
		for {
			st := runStatus(t, api, token, id)
			if st == "SUCCEEDED" || st == "FAILED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s still %s", id, st)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !strings.Contains(foreign.logs.String(), "the job's run is not in this database; giving the job back") &&
		strings.Contains(foreign.logs.String(), "run claimed") {
		t.Error("the other deployment's worker claimed a job and did not give it back")
	}
}
