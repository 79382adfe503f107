package e2e

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// BenchmarkAbuse compares the server CPU that the worst request of each class
// of issue 14 costs with that of an ordinary query, `{ viewer { id } }` sent
// without a token. One server (SQLite, RATE_LIMIT=0) serves alternating rounds
// of baseline and attack requests; the CPU is the server process's utime+stime
// (/proc/<pid>/stat, in clock ticks) over each round, less the CPU the idle
// server spends in that time. It reports <class>/viewer-cpu, the ratio of CPU
// per request, and fails when a class costs more than 10 times the baseline.
// A class whose request gets no answer within 10 seconds fails and the server
// is restarted. It does its fixed rounds once, whatever b.N; run it with
// -benchtime 1x.
func BenchmarkAbuse(b *testing.B) {
	var results []benchResult
	var baseline float64
	for b.Loop() {
		results, baseline = measureAbuse(b)
	}
	b.ReportMetric(baseline*1e3, "viewer-cpu-µs")
	for _, r := range results {
		b.ReportMetric(r.ratio, r.class+"/viewer-cpu")
		if r.err != "" {
			b.Errorf("%s: %s", r.class, r.err)
		} else if r.ratio > 10 {
			b.Errorf("%s costs %.1f times the CPU of { viewer { id } } (%.2f ms per request over %d requests), want at most 10",
				r.class, r.ratio, r.cpu*1e3, r.n)
		}
	}
}

// abuseClasses are the worst request of each class.
var abuseClasses = []struct {
	name string
	req  func(e *abuseEnv) *http.Request
}{
	{"typename10k", func(e *abuseEnv) *http.Request { return e.gql("", typename10k, nil, nil) }},
	{"models10k", func(e *abuseEnv) *http.Request { return e.gql("", models10k, nil, nil) }},
	{"fragments24", func(e *abuseEnv) *http.Request { return e.gql("", fragments24, nil, nil) }},
	{"directives10k", func(e *abuseEnv) *http.Request { return e.gql("", directives10k, nil, nil) }},
	{"chunked30MB", func(e *abuseEnv) *http.Request { return e.post(acceptJSON, "", bigVariable(30e6), true) }},
	{"query10MB", func(e *abuseEnv) *http.Request { return e.post(acceptJSON, "", bigQuery(10e6), false) }},
	{"upload40MB", func(e *abuseEnv) *http.Request { return e.upload("", `{"0":["variables.f"]}`, 0, 40e6, true) }},
	{"connections4", func(e *abuseEnv) *http.Request { return e.gql(e.token, connections4, nil, nil) }},
	{"nodes10k", func(e *abuseEnv) *http.Request {
		ids := make([]string, 10000)
		for i := range ids {
			ids[i] = e.chatID
		}
		return e.gql(e.token, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", map[string]any{"ids": ids}, nil)
	}},
	{"cleanCode1000", func(e *abuseEnv) *http.Request { return e.gql("", cleanCode1000, nil, nil) }},
	{"publicTicker1000", func(e *abuseEnv) *http.Request { return e.gql("", ticker1000, nil, nil) }},
	{"getURL1MB", func(e *abuseEnv) *http.Request { return e.hugeURL(1e6) }},
}

// benchResult is one class's measure: CPU seconds per request (cpu, over n
// requests) and the ratio to the baseline's.
type benchResult struct {
	class string
	n     int
	cpu   float64
	ratio float64
	err   string
}

const (
	benchRounds     = 3
	benchTicksPerS  = 100 // USER_HZ: clock ticks in /proc/<pid>/stat
	benchTimeout    = 10 * time.Second
	benchAttackWall = time.Second // an attack round sends requests for about this long
)

// abuseBench is a running server and what requests need.
type abuseBench struct {
	b   *testing.B
	srv *server
	e   *abuseEnv
	bg  float64 // CPU seconds per second the idle server spends
}

func startAbuseBench(b *testing.B) *abuseBench {
	srv := startServer(b, map[string]string{"RATE_LIMIT": "0", "LOG_LEVEL": "warn"})
	e := &abuseEnv{url: srv.url, token: srv.session()}
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(e.token, `mutation { createChat { id } }`, nil, &chat)
	e.chatID = chat.CreateChat.ID
	// Messages for the nested connections to return (their runs fail: no model).
	for i := range 30 {
		srv.do(e.token, sendMutation, map[string]any{"chat": e.chatID, "content": fmt.Sprint("question ", i)})
	}
	ab := &abuseBench{b: b, srv: srv, e: e}
	time.Sleep(time.Second) // the runs end
	c0, t0 := ab.cpu(), time.Now()
	time.Sleep(2 * time.Second)
	ab.bg = (ab.cpu() - c0) / time.Since(t0).Seconds()
	return ab
}

// cpu is the server's CPU time so far, in seconds.
func (ab *abuseBench) cpu() float64 {
	return processCPU(ab.b, ab.srv.cmd.Process.Pid)
}

// run sends requests built by req until n are sent or, with n = 0, until wall
// has passed (at least one); it returns how many and the server CPU they
// cost, less the idle server's.
func (ab *abuseBench) run(req func(*abuseEnv) *http.Request, n int, wall time.Duration) (int, float64, error) {
	c0, t0 := ab.cpu(), time.Now()
	sent := 0
	var err error
	for n > 0 && sent < n || n == 0 && (sent == 0 || time.Since(t0) < wall) {
		_, err = roundTrip(req(ab.e), benchTimeout)
		sent++
		if err != nil {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // the server finishes with the connection
	cost := ab.cpu() - c0 - ab.bg*time.Since(t0).Seconds()
	return sent, math.Max(cost, 0), err
}

// measureAbuse measures the baseline's CPU per request, then each class
// against it.
func measureAbuse(b *testing.B) ([]benchResult, float64) {
	ab := startAbuseBench(b)
	baseline := func(e *abuseEnv) *http.Request { return e.gql("", "{ viewer { id } }", nil, nil) }
	// Enough baseline requests per class for about 200 ms of CPU.
	n, cost, err := ab.run(baseline, 0, 3*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	perRound := int(math.Ceil(0.2 / math.Max(cost/float64(n), 1e-6) / benchRounds))
	b.Logf("idle server: %.1f ms CPU per second; baseline: %.0f µs CPU per request, %d per round",
		ab.bg*1e3, cost/float64(n)*1e6, perRound)

	var results []benchResult
	var baseCPU float64
	var baseN int
	for _, class := range abuseClasses {
		r := benchResult{class: class.name}
		var classBaseCPU, attackCPU float64
		var classBaseN int
		for range benchRounds {
			n, cost, err := ab.run(baseline, perRound, 0)
			if err != nil {
				b.Fatalf("baseline: %v", err)
			}
			classBaseN += n
			classBaseCPU += cost
			t0 := time.Now()
			n, cost, err = ab.run(class.req, 0, benchAttackWall)
			r.n += n
			attackCPU += cost
			if err != nil {
				r.err = fmt.Sprintf("no answer: %v", err)
				break
			}
			if time.Since(t0) > 3*benchAttackWall {
				break // one round tells
			}
		}
		r.cpu = attackCPU / float64(r.n)
		r.ratio = r.cpu / math.Max(classBaseCPU/float64(classBaseN), 1e-6)
		baseCPU += classBaseCPU
		baseN += classBaseN
		b.Logf("%-17s %5d requests, %8.3f ms CPU each, %7.1f times the baseline (%.0f µs) %s",
			class.name, r.n, r.cpu*1e3, r.ratio, classBaseCPU/float64(classBaseN)*1e6, r.err)
		results = append(results, r)
		if r.err != "" {
			// It may still be running the request: start afresh.
			stopServer(ab.srv)
			ab = startAbuseBench(b)
		}
	}
	return results, baseCPU / float64(baseN)
}

// abuseBody is a request body streamed without holding it: prefix, then n
// bytes repeating pat, then suffix.
type abuseBody struct {
	prefix, pat, suffix string
	n                   int64
}

func bodyOf(s string) abuseBody { return abuseBody{prefix: s} }

func (b abuseBody) size() int64 { return int64(len(b.prefix)) + b.n + int64(len(b.suffix)) }

func (b abuseBody) reader() io.Reader {
	return io.MultiReader(strings.NewReader(b.prefix), &repeatReader{pat: []byte(b.pat), n: b.n}, strings.NewReader(b.suffix))
}

// repeatReader yields n bytes of pat repeated.
type repeatReader struct {
	pat []byte
	n   int64
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pat[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pat)
	}
	r.n -= int64(n)
	return n, nil
}

// Documents that cost a naive server much more than their size.
var (
	typename10k   = "{" + strings.Repeat(" __typename", 10000) + " }"
	models10k     = "{" + strings.Repeat(" models { name }", 10000) + " }"
	directives10k = "{ __typename" + strings.Repeat(" @skip(if: false)", 10000) + " }"
	fragments24   = fragmentBomb(24)
	connections4  = aliases(4, "chats(first: 100) { edges { node { messages(first: 100) { edges { node { chat { messages(first: 100) { edges { node { id } } } } } } } } } }")
	cleanCode1000 = aliases(1000, `cleanCode(code: "import os\nimport sys\nx = 1\n")`)
	ticker1000    = aliases(1000, "publicTicker { signups }")
)

// fragmentBomb is a document of k fragments, each spreading the previous one
// twice: 2^k fields once expanded.
func fragmentBomb(k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "query { ...F%d } fragment F0 on Query { __typename }", k)
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i-1, i-1)
	}
	return b.String()
}

// aliases is a query of n aliased copies of field.
func aliases(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

// bigVariable is a valid JSON request of about size bytes: a query with a
// huge string variable.
func bigVariable(size int64) abuseBody {
	return abuseBody{prefix: `{"query":"query($s: String!) { cleanCode(code: $s) }","variables":{"s":"`, pat: "x", n: size, suffix: `"}}`}
}

// bigQuery is a JSON request whose document is about size bytes of __typename
// fields.
func bigQuery(size int64) abuseBody {
	const f = " __typename"
	return abuseBody{prefix: `{"query":"{`, pat: f, n: size / int64(len(f)) * int64(len(f)), suffix: ` }"}`}
}

// hugeURL is a GET of /graphql whose URL is about size bytes (a query padded
// with a comment).
func (e *abuseEnv) hugeURL(size int) *http.Request {
	req, _ := http.NewRequest("GET", e.url+"/graphql?query="+url.QueryEscape("{ __typename }\n#"+strings.Repeat("x", size)), nil)
	return req
}
