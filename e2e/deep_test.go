package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent/modelusage"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

const startDeepMutation = `mutation($chat: ID!, $goal: String!) { startDeepAnalysis(input: {chatID: $chat, goal: $goal}) { id kind status } }`

// slowGoal marks the deep analysis that the cancellation test stops: its
// code synthesis answers only after a long wait.
const slowGoal = "Take your time: which city is dearest?"

// deepCode is what the scripted model writes at each step of a deep analysis.
var deepCode = struct{ stats, viz, failing, fixed string }{
	stats: "means = df.groupby('city')['price'].mean()\nprint('mean price by city:', means.round(1).to_dict())",
	viz:   "import plotly.express as px\nfig = px.scatter(df, x='area', y='price', color='city')\nfig.show()",
	// The first synthesized script names a column that does not exist.
	failing: "import plotly.express as px\nmeans = df.groupby('City')['price'].mean()\nprint(means)",
	fixed: "import plotly.express as px\n" +
		"means = df.groupby('city', as_index=False)['price'].mean()\n" +
		"print('mean price by city:', dict(zip(means['city'], means['price'].round(1))))\n" +
		"fig = px.bar(means, x='city', y='price', title='Mean price by city')\nfig.show()\n" +
		"fig2 = px.scatter(df, x='area', y='price', title='Price against area')\nfig2.show()",
}

// deepLLM answers every prompt of a deep analysis (and a chat's
// housekeeping): questions, a plan that cannot be used and its repair, two
// agents, a synthesized script that fails and its repair, the synthesis and
// the conclusion.
func deepLLM(t *testing.T) *llmtest.Server {
	fence := func(code, summary string) llmtest.Reply {
		return llmtest.Text("```python\n" + code + "\n```\n" + summary)
	}
	router := llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You write the research questions of a deep analysis", Reply: llmtest.Text(
			"1. Which city has the highest mean price?\n2. How does price relate to area?")},
		// The first plan names an agent that does not exist; its repair is good.
		llmtest.Rule{Contains: "You are the planner of a deep analysis", Reply: llmtest.Text(`{"plan": ["stats_agent"]}`)},
		llmtest.Rule{Contains: "You repair the plan of a deep analysis", Reply: llmtest.Text(
			`{"plan": ["statistical_analytics_agent", "data_viz_agent"], "instructions": {` +
				`"statistical_analytics_agent": {"create": ["means"], "use": ["df"], "instruction": "mean price per city"},` +
				`"data_viz_agent": {"create": ["fig"], "use": ["df"], "instruction": "price against area"}}}`)},
		llmtest.Rule{Contains: "You are statistical_analytics_agent", Reply: fence(deepCode.stats, "Mean price per city.")},
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: fence(deepCode.viz, "A scatter of price against area.")},
		llmtest.Rule{Contains: "You combine the code of several data analysis agents", Respond: func(req llmtest.ChatRequest) llmtest.Reply {
			r := fence(deepCode.failing, "")
			if strings.Contains(req.LastMessage(), slowGoal) {
				r.Delay = time.Minute // cancelled long before
			}
			return r
		}},
		llmtest.Rule{Contains: "You repair a deep-analysis script", Reply: fence(deepCode.fixed, "")},
		llmtest.Rule{Contains: "You synthesise the findings of a deep analysis", Reply: llmtest.Text(
			"Nice is the dearest city, at 300 on average.\n\n- Price grows with area\n- Paris is the cheapest")},
		llmtest.Rule{Contains: "You write the conclusion of a deep analysis", Reply: llmtest.Text(
			"Conclusion:\nNice is dearest and price follows area.\n\nKey takeaways:\n- Area drives price\n- Nice costs most\n\n" +
				"Next steps:\n- Collect more listings")},
	)
	return llmtest.NewOpenAIServer(t, router.Handle)
}

// deepServer starts a server with the deep-analysis model on databaseURL
// (empty: SQLite in dataDir) and a chat of alice's on testdata/houses.csv.
func deepServer(t *testing.T, databaseURL string) (srv *server, llmSrv *llmtest.Server, dataDir, alice, chatID string) {
	llmSrv = deepLLM(t)
	dataDir = t.TempDir()
	env := map[string]string{
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini", "DATA_DIR": dataDir,
	}
	if databaseURL != "" {
		env["DATABASE_URL"] = databaseURL
	}
	srv = startServer(t, env)
	alice = srv.session()
	return srv, llmSrv, dataDir, alice, housesChat(t, srv, alice)
}

// deepReport is a run with its report, as GraphQL returns them.
type deepReport struct {
	Node struct {
		Status string
		Report *struct {
			ID, Status, Goal, ModelName, ModelProvider, DownloadURL, Synthesis, FinalConclusion, AnalysisCode string
			ErrorMessage                                                                                      *string
			ProgressPercentage, TotalTokensUsed                                                               int
			DeepQuestions, StepsCompleted, Summaries                                                          []string
			DeepPlan                                                                                          *struct {
				Complexity string
				Steps      []struct{ Agent, Instruction string }
			}
			PlotlyFigures []map[string]json.RawMessage
		}
	}
}

const runReportQuery = `query($id: ID!) { node(id: $id) { ... on Run { status report {
  id status goal modelName modelProvider downloadURL synthesis finalConclusion analysisCode errorMessage
  deepPlan { complexity steps { agent instruction } }
  progressPercentage totalTokensUsed deepQuestions stepsCompleted plotlyFigures summaries } } } }`

// TestDeepAnalysis runs a deep analysis to its end, on each database
// dialect: seven STEP events with rising percentages, a synthesized script
// that fails and is repaired until it makes figures, the report COMPLETED,
// and its HTML downloadable with the figures inlined.
func TestDeepAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, tt := range []struct {
		name  string
		dbURL func(testing.TB) string
	}{
		{"sqlite", func(testing.TB) string { return "" }},
		{"postgres", databasetest.PostgresURL},
	} {
		t.Run(tt.name, func(t *testing.T) { testDeepAnalysis(t, tt.dbURL(t)) })
	}
}

func testDeepAnalysis(t *testing.T, databaseURL string) {
	srv, llmSrv, dataDir, alice, chatID := deepServer(t, databaseURL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var started struct {
		StartDeepAnalysis struct{ ID, Kind, Status string } `json:"startDeepAnalysis"`
	}
	srv.must(alice, startDeepMutation, map[string]any{"chat": chatID, "goal": "  What drives house prices?  "}, &started)
	runID := started.StartDeepAnalysis.ID
	if started.StartDeepAnalysis.Kind != "DEEP_ANALYSIS" {
		t.Fatalf("run = %+v", started.StartDeepAnalysis)
	}
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), runID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	checkSeqs(t, evs, 1)
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event = %+v\nall: %+v", last, evs)
	}

	// The seven steps, announced in order with rising percentages, then 100.
	var steps []string
	var progress []int
	for _, e := range evs {
		if e.Type == "STEP" && e.Agent == "deep_analysis" {
			if e.Progress == nil {
				t.Fatalf("STEP without progress: %+v", e)
			}
			steps = append(steps, e.Text)
			progress = append(progress, *e.Progress)
		}
	}
	wantSteps := []string{"step 1 of 7: research questions", "step 2 of 7: plan", "step 3 of 7: agents",
		"step 4 of 7: code synthesis", "step 5 of 7: execution", "step 6 of 7: synthesis", "step 7 of 7: conclusion"}
	if len(steps) != 8 || fmt.Sprint(steps[:7]) != fmt.Sprint(wantSteps) || !strings.HasPrefix(steps[7], "report ready") {
		t.Fatalf("STEP events: %q", steps)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] <= progress[i-1] {
			t.Fatalf("progress does not rise: %v", progress)
		}
	}
	if progress[7] != 100 {
		t.Fatalf("progress ends at %d", progress[7])
	}
	plan := find(evs, "PLAN")
	if plan == nil || len(plan.Plan.Steps) != 2 {
		t.Fatalf("PLAN = %+v", plan)
	}
	planRepaired := false
	for _, e := range evs {
		planRepaired = planRepaired || (e.Type == "STEP" && e.Agent == "deep_planner" && strings.Contains(e.Text, `unknown agent "stats_agent"`))
	}
	if !planRepaired {
		t.Fatal("no STEP event tells of the plan's repair")
	}

	// The synthesis loop: the first script fails, the repair makes figures,
	// and its result is the execution step's (it is not run a third time).
	var results []*event
	for i := range evs {
		if evs[i].Type == "EXECUTION_RESULT" {
			results = append(results, &evs[i])
		}
	}
	if len(results) != 2 || results[0].Result.OK || !strings.Contains(results[0].Result.Error, "City") ||
		!results[1].Result.OK || len(results[1].Result.Figures) != 2 {
		t.Fatalf("executions: %+v", results)
	}
	repairNote := false
	for _, e := range evs {
		repairNote = repairNote || (e.Type == "STEP" && e.Agent == "deep_code_synthesizer" && strings.Contains(e.Text, "attempt 1 of 5 scored 0"))
	}
	if !repairNote {
		t.Fatal("no STEP event tells of the failed first attempt")
	}

	// The report, through Run.report.
	var q deepReport
	srv.must(alice, runReportQuery, map[string]any{"id": runID}, &q)
	rep := q.Node.Report
	if q.Node.Status != "SUCCEEDED" || rep == nil {
		t.Fatalf("run = %+v", q.Node)
	}
	if rep.Status != "COMPLETED" || rep.ProgressPercentage != 100 || rep.Goal != "What drives house prices?" || len(rep.StepsCompleted) != 7 ||
		len(rep.DeepQuestions) != 2 || len(rep.PlotlyFigures) != 2 || len(rep.Summaries) != 2 || rep.ModelName != "gpt-5-mini" ||
		rep.AnalysisCode != deepCode.fixed || !strings.Contains(rep.Synthesis, "Nice is the dearest") ||
		!strings.Contains(rep.FinalConclusion, "Key takeaways") || rep.ModelProvider != "OPENAI" ||
		rep.TotalTokensUsed == 0 || rep.ErrorMessage != nil {
		t.Fatalf("report = %+v", rep)
	}
	// The plan and the figures are typed, not JSON in strings.
	if p := rep.DeepPlan; p == nil || p.Complexity != "DEEP" || !slices.ContainsFunc(p.Steps, func(s struct{ Agent, Instruction string }) bool {
		return s.Agent == "data_viz_agent" && s.Instruction != ""
	}) {
		t.Fatalf("deepPlan = %+v", rep.DeepPlan)
	}
	for _, f := range rep.PlotlyFigures {
		if len(f["data"]) == 0 || f["data"][0] != '[' {
			t.Fatalf("plotlyFigures = %v", rep.PlotlyFigures)
		}
	}

	// Every LLM call has its usage row.
	db, err := database.Open(ctx, databaseURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.Client.ModelUsage.Query().Where(modelusage.RunID(runID)).Count(privacy.DecisionContext(ctx, privacy.Allow))
	if err != nil {
		t.Fatal(err)
	}
	// questions, plan and its repair, 2 agents, synthesized code and its
	// repair, synthesis, conclusion
	if calls := len(llmSrv.Requests()); n != 9 || calls != 9 {
		t.Fatalf("%d usage rows for %d LLM calls, want 9", n, calls)
	}

	// The download: the whole page, offline.
	code, _, body := srv.download(alice, rep.DownloadURL)
	if code != 200 {
		t.Fatalf("download: %d %s", code, body)
	}
	for _, want := range []string{"What drives house prices?", "Which city has the highest mean price?", "Nice is the dearest city",
		`id="figure-1-data"`, `id="figure-2-data"`, "Mean price by city", "Price against area", "Area drives price", "Collect more listings",
		"Plotly.newPlot", "@media print", `<details class="code">`, "button class=\"copy\""} {
		if !strings.Contains(body, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if len(body) < 1<<20 {
		t.Errorf("the report has %d bytes: plotly.js is not inlined", len(body))
	}
	page := withoutBigScripts(body)
	for _, remote := range []string{"<script src", "<link", `src="http`, `href="http`, "cdn.plot.ly"} {
		if strings.Contains(page, remote) {
			t.Errorf("the report loads %q from elsewhere", remote)
		}
	}

	t.Run("refusals", func(t *testing.T) {
		bob := srv.session()
		wantCode(t, srv.do(bob, startDeepMutation, map[string]any{"chat": chatID, "goal": "mine now"}), "NOT_FOUND", "chatID")
		wantCode(t, srv.do(alice, startDeepMutation, map[string]any{"chat": chatID, "goal": "   "}), "BAD_USER_INPUT", "goal")
		wantCode(t, srv.do(alice, startDeepMutation, map[string]any{"chat": chatID, "goal": strings.Repeat("why ", 1001)}), "BAD_USER_INPUT", "goal")
		wantCode(t, srv.do("", startDeepMutation, map[string]any{"chat": chatID, "goal": "anything"}), "UNAUTHENTICATED", "")
		// Bob cannot read alice's report either.
		wantCode(t, srv.do(bob, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": rep.ID}), "NOT_FOUND", "")
	})
}

// withoutBigScripts removes the inline scripts of a page that are larger
// than 1 MiB (plotly.js, whose own strings name URLs it never loads here).
func withoutBigScripts(page string) string {
	var b strings.Builder
	for {
		start := strings.Index(page, "<script>")
		if start < 0 {
			b.WriteString(page)
			return b.String()
		}
		end := strings.Index(page[start:], "</script>")
		if end < 0 {
			b.WriteString(page)
			return b.String()
		}
		end += start + len("</script>")
		b.WriteString(page[:start])
		if end-start < 1<<20 {
			b.WriteString(page[start:end])
		}
		page = page[end:]
	}
}

// TestDeepAnalysisCancel cancels a deep analysis in the middle of its code
// synthesis: the run ends CANCELLED promptly and its report FAILED.
func TestDeepAnalysisCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv, _, _, alice, chatID := deepServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var started struct {
		StartDeepAnalysis struct{ ID string } `json:"startDeepAnalysis"`
	}
	srv.must(alice, startDeepMutation, map[string]any{"chat": chatID, "goal": slowGoal}, &started)
	runID := started.StartDeepAnalysis.ID
	var cancelled atomic.Bool
	cancelAt := make(chan time.Time, 1)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), runID, 0, func(e event) {
		if e.Type == "STEP" && strings.HasPrefix(e.Text, "step 4 of 7") && cancelled.CompareAndSwap(false, true) {
			go func() {
				time.Sleep(300 * time.Millisecond)
				cancelAt <- time.Now()
				var c struct{ CancelRun struct{ Status string } }
				srv.must(alice, `mutation($id: ID!) { cancelRun(id: $id) { status } }`, map[string]any{"id": runID}, &c)
				if c.CancelRun.Status != "CANCELLED" {
					t.Errorf("cancelRun status = %s", c.CancelRun.Status)
				}
			}()
		}
	})
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_CANCELLED" {
		t.Fatalf("last event = %+v", last)
	}
	if d := time.Since(<-cancelAt); d > 10*time.Second {
		t.Fatalf("the cancellation took %v", d)
	}
	var q deepReport
	srv.must(alice, runReportQuery, map[string]any{"id": runID}, &q)
	rep := q.Node.Report
	if q.Node.Status != "CANCELLED" || rep == nil || rep.Status != "FAILED" || rep.ErrorMessage == nil ||
		!strings.Contains(*rep.ErrorMessage, "cancelled") || len(rep.StepsCompleted) != 3 || rep.ProgressPercentage != 50 {
		t.Fatalf("run %s, report %+v", q.Node.Status, rep)
	}
	if code, _, _ := srv.download(alice, rep.DownloadURL); code != 404 {
		t.Fatalf("download of a failed report: %d", code)
	}
}
