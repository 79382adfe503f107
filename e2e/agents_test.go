package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// Scripted answers of TestAgentsChatTurns.
const (
	answerSummary     = "Cleaned the data and charted price by city."
	correctionLesson  = "A column name was misspelt; the fix used the dataset's own column name."
	turnOneQuestion   = "@preprocessing_agent @data_viz_agent clean the areas and chart the price by city"
	turnTwoQuestion   = "Which city has the highest mean price per square metre?"
	turnThreeQuestion = "What will the weather be in Paris tomorrow?"
	brokenVizCode     = "fig = px.bar(df_clean.groupby('city', as_index=False)['Price'].mean(), x='city', y='Price')\nfig.show()"
	fixedVizCode      = "fig = px.bar(df_clean.groupby('city', as_index=False)['price'].mean(), x='city', y='price')\nfig.show()"
	brokenStatsCode   = "per_m2 = (df_clean['price'] / df_clean['area']).groupby(df_clean['town']).mean()\nprint(per_m2.idxmax())"
	fixedStatsCode    = "per_m2 = (df_clean['price'] / df_clean['area']).groupby(df_clean['city']).mean()\nprint('highest:', per_m2.idxmax())"
	preprocessingCode = "df_clean = df.copy()\ndf_clean['area'] = df_clean['area'].fillna(df_clean['area'].median())"
)

// agentsLLM scripts two chat turns that exercise the planner and the repair
// loop: a first turn addressed to two agents with @mentions whose second
// agent's code fails once and is repaired; a second turn whose first plan
// does not parse, whose statistics agent is rate limited once and whose code
// fails once. The rater is only answered on gpt-5-nano (its step model).
func agentsLLM(t *testing.T) (*llmtest.Server, *atomic.Int32) {
	var plans, statsCalls, rateLimited atomic.Int32
	code := func(c, summary string) llmtest.Reply { return llmtest.Text("```python\n" + c + "\n```\n" + summary) }
	router := llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You rate a user's question", Model: "gpt-5-nano", Respond: func(req llmtest.ChatRequest) llmtest.Reply {
			if strings.Contains(req.LastMessage(), turnThreeQuestion) {
				return llmtest.Text(`{"complexity": "unrelated", "needs_analysis": false, "reason": "not about the data"}`)
			}
			return llmtest.Text(`{"complexity": "intermediate", "needs_analysis": true, "reason": "a ratio by group"}`)
		}},
		llmtest.Rule{Contains: "You are basic_qa_agent", Reply: llmtest.Text("I can only answer questions about your data.")},
		llmtest.Rule{Contains: "You are the planner", Respond: func(llmtest.ChatRequest) llmtest.Reply {
			if plans.Add(1) == 1 {
				return llmtest.Text("First I would clean the data, then compute the ratio per city.")
			}
			return llmtest.Text("```json\n" + `{"plan": ["statistical_analytics_agent", "preprocessing_agent"], "instructions": {` +
				`"statistical_analytics_agent": {"create": ["per_m2"], "use": ["df_clean"], "instruction": "mean price per m2 by city"},` +
				`"preprocessing_agent": {"create": ["df_clean"], "use": ["df"], "instruction": "fill missing areas"}}}` + "\n```")
		}},
		llmtest.Rule{Contains: "The block of data_viz_agent failed", Reply: code(fixedVizCode, "Used the lowercase price column.")},
		llmtest.Rule{Contains: "The block of statistical_analytics_agent failed", Reply: code(fixedStatsCode, "Grouped by city.")},
		llmtest.Rule{Contains: "You are preprocessing_agent", Reply: code(preprocessingCode, "Missing areas are filled with the median.")},
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: code(brokenVizCode, "A bar chart of the mean price per city.")},
		llmtest.Rule{Contains: "You are statistical_analytics_agent", Respond: func(llmtest.ChatRequest) llmtest.Reply {
			if statsCalls.Add(1) == 1 {
				rateLimited.Add(1)
				return llmtest.RateLimited("1")
			}
			return code(brokenStatsCode, "The mean price per square metre by city.")
		}},
	)
	return llmtest.NewOpenAIServer(t, router.Handle), &rateLimited
}

// TestAgentsChatTurns follows two chat turns through the planner, the agents
// and the repair loop, and checks what they store: the answers' summaries
// (the next turn's memory), the correction summary (the next repair's
// lesson), the code execution records, the step model and one usage row per
// LLM call.
func TestAgentsChatTurns(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv, rateLimited := agentsLLM(t)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": llmSrv.BaseURL(),
		"DEFAULT_MODEL":   "gpt-5-mini",
		"STEP_MODELS":     "rater=gpt-5-nano, memory_summary=gpt-5-nano",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)

	send := func(t *testing.T, content string) []event {
		t.Helper()
		var r struct {
			SendMessage struct{ ID string } `json:"sendMessage"`
		}
		srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": content}, &r)
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.SendMessage.ID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		checkSeqs(t, evs, 1)
		if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last event = %+v\nall: %+v", last, evs)
		}
		return evs
	}
	type stored struct {
		Sender        string `json:"sender"`
		Summary       string `json:"summary"`
		CodeExecution *struct {
			InitialCode       string   `json:"initialCode"`
			LatestCode        string   `json:"latestCode"`
			IsSuccessful      bool     `json:"isSuccessful"`
			FailedAgents      []string `json:"failedAgents"`
			ErrorMessages     []string `json:"errorMessages"`
			CorrectionSummary string   `json:"correctionSummary"`
		} `json:"codeExecution"`
	}
	answers := func(t *testing.T) []stored {
		t.Helper()
		var q struct {
			Node struct {
				Messages struct {
					Edges []struct{ Node stored } `json:"edges"`
				} `json:"messages"`
			} `json:"node"`
		}
		srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Chat { messages(first: 20) { edges { node {
			sender summary codeExecution { initialCode latestCode isSuccessful failedAgents errorMessages correctionSummary } } } } } } }`,
			map[string]any{"id": chatID}, &q)
		var out []stored
		for _, e := range q.Node.Messages.Edges {
			if e.Node.Sender == "AI" {
				out = append(out, e.Node)
			}
		}
		return out
	}

	t.Run("two @mentioned agents, the second repaired on the second try", func(t *testing.T) {
		evs := send(t, turnOneQuestion)
		plan := find(evs, "PLAN")
		if plan == nil || plan.Plan.Complexity != "DIRECT" || len(plan.Plan.Steps) != 2 ||
			plan.Plan.Steps[0].Agent != "preprocessing_agent" || plan.Plan.Steps[1].Agent != "data_viz_agent" {
			t.Fatalf("PLAN = %+v", plan)
		}
		var results []bool
		for _, e := range evs {
			if e.Type == "EXECUTION_RESULT" {
				results = append(results, e.Result.OK)
			}
		}
		if len(results) != 2 || results[0] || !results[1] {
			t.Fatalf("executions ok = %v, want a failure then a success", results)
		}
		a := answers(t)
		if len(a) != 1 || a[0].CodeExecution == nil {
			t.Fatalf("answers = %+v", a)
		}
		ce := a[0].CodeExecution
		if !ce.IsSuccessful || !strings.Contains(ce.InitialCode, "['Price']") || !strings.Contains(ce.LatestCode, "['price']") ||
			!strings.Contains(ce.LatestCode, "# preprocessing_agent code start") ||
			len(ce.FailedAgents) != 1 || ce.FailedAgents[0] != "data_viz_agent" ||
			len(ce.ErrorMessages) != 1 || !strings.Contains(ce.ErrorMessages[0], "KeyError") {
			t.Fatalf("code execution = %+v", ce)
		}
		if a[0].Summary != answerSummary || ce.CorrectionSummary != correctionLesson {
			t.Fatalf("summary %q, correction summary %q", a[0].Summary, ce.CorrectionSummary)
		}
	})

	t.Run("a plan that does not parse is asked again; memory and lessons reach the prompts", func(t *testing.T) {
		evs := send(t, turnTwoQuestion)
		var reasked bool
		for _, e := range evs {
			reasked = reasked || (e.Type == "STEP" && e.Agent == "planner" && strings.Contains(e.Text, "asking again"))
		}
		if !reasked {
			t.Fatal("no STEP event says the planner was asked again")
		}
		plan := find(evs, "PLAN")
		if plan == nil || len(plan.Plan.Steps) != 2 || plan.Plan.Steps[0].Agent != "preprocessing_agent" {
			t.Fatalf("PLAN = %+v, want preprocessing_agent first (it creates df_clean)", plan)
		}
		res := evs[len(evs)-2]
		for _, e := range evs {
			if e.Type == "EXECUTION_RESULT" {
				res = e
			}
		}
		if res.Result == nil || !res.Result.OK || !strings.Contains(res.Result.Stdout, "highest: Lyon") {
			t.Fatalf("last EXECUTION_RESULT = %+v", res.Result)
		}
		var statsPrompt, fixPrompt, planPrompt string
		for _, req := range llmSrv.Requests() {
			switch m := req.LastMessage(); {
			case strings.Contains(m, "You are statistical_analytics_agent"):
				statsPrompt = m
			case strings.HasPrefix(m, "You fix") && strings.Contains(m, "The block of statistical_analytics_agent failed"):
				fixPrompt = m
			case strings.Contains(m, "You are the planner") && strings.Contains(m, turnTwoQuestion):
				planPrompt = m
			}
		}
		// Memory: the first turn's question and the summary of its answer,
		// not the answer itself.
		if !strings.Contains(planPrompt, answerSummary) || strings.Contains(planPrompt, "chart(s) were produced") {
			t.Fatalf("the planner's prompt lacks the memory summary:\n%s", planPrompt)
		}
		// The agent sees the code of the step it depends on.
		if !strings.Contains(statsPrompt, "This code runs before yours") || !strings.Contains(statsPrompt, "df_clean = df.copy()") {
			t.Fatalf("the statistics agent's prompt lacks the code before it:\n%s", statsPrompt)
		}
		if !strings.Contains(fixPrompt, "Errors corrected earlier in this chat") || !strings.Contains(fixPrompt, correctionLesson) {
			t.Fatalf("the fix prompt lacks the chat's earlier correction:\n%s", fixPrompt)
		}
		if rateLimited.Load() != 1 {
			t.Fatalf("%d rate-limited replies, want 1", rateLimited.Load())
		}
	})

	t.Run("a question unrelated to the data goes to basic_qa_agent, with no code", func(t *testing.T) {
		evs := send(t, turnThreeQuestion)
		plan := find(evs, "PLAN")
		if plan == nil || plan.Plan.Complexity != "UNRELATED" || len(plan.Plan.Steps) != 1 || plan.Plan.Steps[0].Agent != "basic_qa_agent" {
			t.Fatalf("PLAN = %+v", plan)
		}
		if find(evs, "EXECUTION_STARTED") != nil || find(evs, "AGENT_CODE") != nil {
			t.Fatal("code ran for an unrelated question")
		}
		if a := answers(t); len(a) != 3 || a[2].CodeExecution != nil {
			t.Fatalf("answers = %+v", a)
		}
	})

	t.Run("one usage row per LLM call, the rater on its step model", func(t *testing.T) {
		var q struct {
			Viewer struct {
				Usage struct {
					Calls   int `json:"calls"`
					ByModel []struct {
						Model string `json:"model"`
						Calls int    `json:"calls"`
					} `json:"byModel"`
				} `json:"usage"`
			} `json:"viewer"`
		}
		srv.must(alice, `{ viewer { usage(period: P7D) { calls byModel { model calls } } } }`, nil, &q)
		calls := 0
		models := map[string]int{}
		for _, req := range llmSrv.Requests() {
			models[req.Model]++
			calls++
		}
		// A 429 is retried inside the same call: no tokens, no row.
		calls -= int(rateLimited.Load())
		models["gpt-5-mini"] -= int(rateLimited.Load())
		if q.Viewer.Usage.Calls != calls {
			t.Fatalf("usage rows = %d, LLM calls = %d", q.Viewer.Usage.Calls, calls)
		}
		got := map[string]int{}
		for _, m := range q.Viewer.Usage.ByModel {
			got[m.Model] = m.Calls
		}
		// gpt-5-nano: two ratings (the first turn was @mentioned) and three
		// answer summaries.
		if got["gpt-5-nano"] != 5 || models["gpt-5-nano"] != 5 || got["gpt-5-mini"] != models["gpt-5-mini"] {
			t.Fatalf("usage by model = %v, requests by model = %v", got, models)
		}
		// The rows themselves, as connections with filters; another user
		// sees none of them.
		var rows struct {
			ModelUsages struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ModelName, Provider    string
						IsStreaming            bool
						QuerySize, TotalTokens int
					}
				}
			}
			CodeExecutions struct{ TotalCount int }
		}
		const list = `{ modelUsages(first: 50, where: {step: "rater", provider: OPENAI}, orderBy: [{field: CREATED_AT}]) {
			totalCount edges { node { modelName provider isStreaming querySize totalTokens } } }
			codeExecutions(first: 10) { totalCount } }`
		srv.must(alice, list, nil, &rows)
		if rows.ModelUsages.TotalCount != 2 || rows.CodeExecutions.TotalCount != 2 {
			t.Fatalf("rater usage rows %d, code executions %d", rows.ModelUsages.TotalCount, rows.CodeExecutions.TotalCount)
		}
		if n := rows.ModelUsages.Edges[0].Node; n.ModelName != "gpt-5-nano" || n.Provider != "OPENAI" || !n.IsStreaming || n.QuerySize == 0 || n.TotalTokens == 0 {
			t.Fatalf("rater usage row %+v", n)
		}
		var others struct{ ModelUsages struct{ TotalCount int } }
		srv.must(alice, `{ modelUsages(where: {providerNotIn: [OPENAI]}) { totalCount } }`, nil, &others)
		if others.ModelUsages.TotalCount != 0 {
			t.Fatalf("%d usage rows of another provider", others.ModelUsages.TotalCount)
		}
		var none struct {
			ModelUsages    struct{ TotalCount int }
			CodeExecutions struct{ TotalCount int }
		}
		srv.must(srv.session(), list, nil, &none)
		if none.ModelUsages.TotalCount != 0 || none.CodeExecutions.TotalCount != 0 {
			t.Fatalf("another user sees %+v", none)
		}
	})
}
