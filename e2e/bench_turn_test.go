package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// Chunks the scripted model streams in one turn: the agent's answer and
// the interpreter's, one TOKEN event each (issue #17: about 750 a turn).
const (
	agentChunks     = 500
	interpretChunks = 250
)

// BenchmarkChatTurnOverhead measures what a chat turn costs the system
// itself, side by side in one run: embedded (one `serve`, SQLite, the memory
// broker) and Redis (one `serve` with DATABASE_URL on PostgreSQL and
// REDIS_URL). A scripted model of no latency streams about 750 chunks a
// turn ("@preprocessing_agent": the agent's code and summary, then the
// interpreter's answer), and the turn's code runs in the sandbox.
//
// A turn's overhead is its wall time, from sendMessage to RUN_SUCCEEDED
// received on the subscription, minus the model's time (at the model's
// server: from a request's arrival to the end of its response, summed over
// the calls that ended within the turn) and minus the code's (the
// execution's durationMs). It reports the p50 of each deployment over the
// benchmark's turns (run it with -benchtime 20x), in embedded-overhead-ms
// and redis-overhead-ms, their ratio, and the TOKEN events of a turn; and
// the server process's CPU time per turn (embedded-cpu-ms, redis-cpu-ms:
// user and system, from /proc), which a machine shared with other work moves
// less than the wall time; and each server's peak RSS at the end
// (embedded-peak-rss-MiB, redis-peak-rss-MiB: VmHWM, which includes the
// start-up). TURN_GOGC, when set, is the servers' GOGC (to compare garbage
// collection settings). With TURN_TIMELINE set, it prints each turn's
// events as the client received them, with the server's time of each, and
// the model's calls.
func BenchmarkChatTurnOverhead(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end benchmark")
	}
	model := llmtest.NewOpenAIServer(b, turnRouter().Handle)
	base := map[string]string{
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": model.BaseURL(),
		"RATE_LIMIT":      "0",
		"LOG_LEVEL":       "warn",
	}
	type deployment struct {
		name        string
		srv         *server
		token, chat string
		overheads   []time.Duration
		cpu         float64 // the server's CPU seconds over the measured turns
	}
	embedded := &deployment{name: "embedded"}
	redis := &deployment{name: "redis"}
	if v := os.Getenv("TURN_GOGC"); v != "" {
		base["GOGC"] = v
	}
	embedded.srv = startServer(b, base)
	renv := map[string]string{
		"DATABASE_URL": databasetest.PostgresURL(b),
		"REDIS_URL":    testRedisURL(b),
		"REDIS_PREFIX": fmt.Sprintf("aa-bench-%016x:", rand.Uint64()),
		"BLOB_URL":     "file://" + b.TempDir(),
	}
	for k, v := range base {
		renv[k] = v
	}
	redis.srv = startServer(b, renv)
	deployments := []*deployment{embedded, redis}
	tokens := 0
	for _, d := range deployments {
		d.token, d.chat = chatWithData(b, d.srv)
		for range 2 { // the kernel, the connections, the chat's title
			chatTurn(b, d.srv, model, d.token, d.chat)
		}
	}
	for b.Loop() {
		for _, d := range deployments {
			c0 := processCPU(b, d.srv.cmd.Process.Pid)
			o, n := chatTurn(b, d.srv, model, d.token, d.chat)
			d.cpu += processCPU(b, d.srv.cmd.Process.Pid) - c0
			d.overheads = append(d.overheads, o)
			tokens = n
		}
	}
	p50 := func(d *deployment) float64 {
		s := slices.Clone(d.overheads)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	e, r := p50(embedded), p50(redis)
	b.ReportMetric(e, "embedded-overhead-ms")
	b.ReportMetric(r, "redis-overhead-ms")
	b.ReportMetric(r/e, "redis/embedded")
	b.ReportMetric(float64(tokens), "tokens/turn")
	for _, d := range deployments {
		b.ReportMetric(d.cpu*1000/float64(len(d.overheads)), d.name+"-cpu-ms")
		b.ReportMetric(float64(procStatus(b, d.srv.cmd.Process.Pid, "VmHWM"))/(1<<20), d.name+"-peak-rss-MiB")
	}
	b.ReportMetric(0, "ns/op")
}

// chatTurn sends a message, follows its run to RUN_SUCCEEDED and returns
// the turn's overhead (see BenchmarkChatTurnOverhead) and its TOKEN events.
func chatTurn(b *testing.B, s *server, model *llmtest.Server, token, chat string) (time.Duration, int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	model.Reset()
	start := time.Now()
	var r struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	s.must(token, sendMutation, map[string]any{"chat": chat, "content": "@preprocessing_agent count the rows"}, &r)
	var end time.Time
	var tl []string
	prev := ""
	evs, gerr, err := s.subscribe(ctx, "graphql-transport-ws", authInit(token), r.SendMessage.ID, 0, func(e event) {
		if e.Type != prev || e.Type != "TOKEN" {
			tl = append(tl, fmt.Sprintf("%s %s@%v (server %v)", e.Type, e.Agent,
				time.Since(start).Round(time.Millisecond/10), e.At.Sub(start).Round(time.Millisecond/10)))
		}
		prev = e.Type
		if e.Type == "RUN_SUCCEEDED" {
			end = time.Now()
		}
	})
	if os.Getenv("TURN_TIMELINE") != "" {
		tl = append(tl, "last TOKEN in: ")
		for _, c := range model.Calls() {
			tl = append(tl, fmt.Sprintf("call %v..%v", c.Start.Sub(start).Round(time.Millisecond/10), c.End.Sub(start).Round(time.Millisecond/10)))
		}
		fmt.Fprintln(os.Stderr, s.url, strings.Join(tl, "\n"))
	}
	if err != nil || gerr != nil || end.IsZero() {
		b.Fatalf("turn: %v %+v, events %+v", err, gerr, evs)
	}
	wall := end.Sub(start)
	var modelTime, codeTime time.Duration
	for _, c := range model.Calls() {
		if !c.End.After(end) {
			modelTime += c.End.Sub(c.Start)
		}
	}
	for _, e := range evs {
		if e.Type == "EXECUTION_RESULT" && e.Result != nil {
			codeTime += time.Duration(e.Result.DurationMs) * time.Millisecond
		}
	}
	return wall - modelTime - codeTime, countType(evs, "TOKEN")
}

// turnRouter answers the turn of BenchmarkChatTurnOverhead: the agent and
// the interpreter stream many chunks; the housekeeping calls answer short.
func turnRouter() *llmtest.Router {
	words := func(n int, word string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = word + " "
		}
		return out
	}
	agent := append([]string{"```python\n", "print('rows:', ", "df.shape[0])\n", "```\n"}, words(agentChunks-5, "counted")...)
	agent = append(agent, "rows.")
	interpret := append(words(interpretChunks-1, "the"), "rows.")
	return llmtest.Route(
		llmtest.Rule{Contains: interpreterPrompt, Reply: llmtest.Reply{Chunks: interpret}},
		housekeepingRule,
		llmtest.Rule{Contains: "You are preprocessing_agent", Reply: llmtest.Reply{Chunks: agent}},
	)
}
