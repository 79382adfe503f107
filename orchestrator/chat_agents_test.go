package orchestrator

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/catalog"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

func TestTurnAgents(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	tpl := catalog.New(db)
	cfg, _ := catalog.DefaultTemplateConfig()
	if _, err := tpl.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DB: db, Templates: tpl})
	if err != nil {
		t.Fatal(err)
	}
	newUser := func(plan user.Plan) (*viewer.Viewer, *runContext) {
		u, err := db.User.Create().SetPlan(plan).Save(system(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if err := tpl.EnableDefaults(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		v := &viewer.Viewer{UserID: u.ID, Plan: string(plan)}
		return v, &runContext{run: &ent.Run{UserID: u.ID}, user: viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID})}
	}
	ids := map[string]string{}
	all, _ := db.AgentTemplate.Query().All(system(ctx))
	for _, a := range all {
		ids[a.Name] = a.ID
	}

	free, freeRC := newUser(user.PlanFREE)
	if _, err := tpl.Create(viewer.NewContext(ctx, free), free, catalog.TemplateInput{Name: "churn_agent", Prompt: ptr("You are churn_agent."),
		Category: ptr(catalog.CategoryModelling), Variant: ptr(agenttemplate.VariantINDIVIDUAL)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.SetEnabled(viewer.NewContext(ctx, free), free, []catalog.Preference{{TemplateID: ids["sk_learn_agent"]}}, ""); err != nil {
		t.Fatal(err)
	}
	pro, proRC := newUser(user.PlanPRO)
	if _, err := tpl.SetEnabled(viewer.NewContext(ctx, pro), pro, []catalog.Preference{{TemplateID: ids["time_series_agent"], Enabled: true}}, ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		rc      *runContext
		planner []string
		mention string
		want    []string // agents the mention resolves to
	}{
		{"free: enabled core agents, no premium", freeRC,
			[]string{"data_viz_agent", "preprocessing_agent", "statistical_analytics_agent"},
			"@churn @time_series_agent @sk_learn_agent go", []string{"churn_agent", "sk_learn_agent"}},
		{"pro: with the premium one enabled", proRC,
			[]string{"data_viz_agent", "preprocessing_agent", "sk_learn_agent", "statistical_analytics_agent", "time_series_agent"},
			"@time_series_agent @churn_agent go", []string{"time_series_agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := s.turnAgents(tt.rc)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for n := range set.plannerKnown() {
				got = append(got, n)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.planner) {
				t.Fatalf("planner agents %v, want %v", got, tt.planner)
			}
			if list := set.plannerAgents(); strings.Contains(list, "basic_qa_agent") || !strings.Contains(list, tt.planner[0]) {
				t.Fatalf("planner list:\n%s", list)
			}
			if m, _ := set.mentions(tt.mention); !slices.Equal(m, tt.want) {
				t.Fatalf("mentions = %v, want %v", m, tt.want)
			}
			if set.agents[basicQAAgent] == nil {
				t.Fatal("no basic_qa_agent")
			}
		})
	}
}

func TestOrderPlan(t *testing.T) {
	step := func(agent string, create, use []string) PlanStep {
		return PlanStep{Agent: agent, Create: create, Use: use}
	}
	names := func(steps []PlanStep) []string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Agent)
		}
		return out
	}
	tests := []struct {
		name    string
		steps   []PlanStep
		want    []string
		problem bool
	}{
		{"in order", []PlanStep{step("a", []string{"x"}, []string{"df"}), step("b", []string{"fig"}, []string{"x"})}, []string{"a", "b"}, false},
		{"used before created is reordered", []PlanStep{step("b", []string{"fig"}, []string{"x"}), step("a", []string{"x"}, []string{"houses"})}, []string{"a", "b"}, false},
		{"independent keep their order", []PlanStep{step("c", nil, []string{"df"}), step("a", nil, nil), step("b", nil, []string{"pd"})}, []string{"c", "a", "b"}, false},
		{"a step may use what it creates", []PlanStep{step("a", []string{"x"}, []string{"x"})}, []string{"a"}, false},
		{"unknown variable", []PlanStep{step("a", nil, []string{"nowhere"})}, nil, true},
		{"cycle", []PlanStep{step("a", []string{"x"}, []string{"y"}), step("b", []string{"y"}, []string{"x"})}, nil, true},
		{"a dataset is not created again", []PlanStep{step("b", nil, []string{"houses"}), step("a", []string{"houses"}, nil)}, []string{"b", "a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := orderPlan(tt.steps, []string{"df", "pd", "houses"})
			var pp *planProblem
			if tt.problem != errors.As(err, &pp) {
				t.Fatalf("err = %v, want a plan problem: %v", err, tt.problem)
			}
			if !tt.problem && !reflect.DeepEqual(names(got), tt.want) {
				t.Fatalf("order = %v, want %v", names(got), tt.want)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	steps := []PlanStep{
		{Agent: "clean", Create: []string{"df_clean"}},
		{Agent: "stats", Create: []string{"model"}, Use: []string{"df"}},
		{Agent: "viz", Create: []string{"fig"}, Use: []string{"df_clean", "model"}},
	}
	got := dependencies(steps)
	want := [][]int{nil, nil, {0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dependencies = %v, want %v", got, want)
	}
}

// TestSendMessagePremiumMention: a message that @mentions a premium template
// is refused with PREMIUM_REQUIRED, naming it, unless the sender is on PRO;
// other mentions start the run.
func TestSendMessagePremiumMention(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	tpl := catalog.New(db)
	cfg, _ := catalog.DefaultTemplateConfig()
	if _, err := tpl.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	brk := memory.New()
	t.Cleanup(func() { brk.Close() })
	s, err := New(Config{DB: db, Broker: brk, Templates: tpl, Files: noFiles{}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	viewerOf := func(plan user.Plan) (context.Context, string) {
		u, err := db.User.Create().SetPlan(plan).Save(system(ctx))
		if err != nil {
			t.Fatal(err)
		}
		vctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID, Plan: string(plan)})
		c, err := db.Chat.Create().SetUserID(u.ID).Save(vctx)
		if err != nil {
			t.Fatal(err)
		}
		return vctx, c.ID
	}
	freeCtx, freeChat := viewerOf(user.PlanFREE)
	proCtx, proChat := viewerOf(user.PlanPRO)
	tests := []struct {
		name     string
		ctx      context.Context
		chat     string
		content  string
		wantCode errcode.Code // "" when the run starts
		wantName string
	}{
		{"free, premium by full name", freeCtx, freeChat, "@time_series_agent forecast sales", errcode.PremiumRequired, "time_series_agent"},
		{"free, premium without suffix", freeCtx, freeChat, "@data_viz_agent then @time_series go", errcode.PremiumRequired, "time_series_agent"},
		{"free, free template", freeCtx, freeChat, "@data_viz_agent plot it", "", ""},
		{"free, unknown name", freeCtx, freeChat, "mail me @ bob@example.com", "", ""},
		{"pro, premium", proCtx, proChat, "@time_series_agent forecast sales", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.SendMessage(tt.ctx, tt.chat, tt.content)
			if tt.wantCode == "" {
				if err != nil || r == nil {
					t.Fatalf("SendMessage = %v, %v; want a run", r, err)
				}
				return
			}
			var ce *errcode.Error
			if !errors.As(err, &ce) || ce.Code != tt.wantCode || !strings.Contains(ce.Message, tt.wantName) {
				t.Fatalf("SendMessage error = %v, want %s naming %s", err, tt.wantCode, tt.wantName)
			}
		})
	}
	if n, _ := db.Message.Query().Count(system(ctx)); n != 3 {
		t.Fatalf("%d messages stored, want 3 (none for the refused ones)", n)
	}
}

func TestBlame(t *testing.T) {
	twoBlocks := "# preprocessing_agent code start\ndf_clean = df\n# preprocessing_agent code end\n\n" +
		"# data_viz_agent code start\nfig = px.bar(df_clean)\n# data_viz_agent code end"
	prologue := "import missing_module\n\n" + twoBlocks
	between := "# preprocessing_agent code start\ndf_clean = df\n# preprocessing_agent code end\nprint(undefined)\n" +
		"# data_viz_agent code start\nfig = px.bar(df_clean)\n# data_viz_agent code end"
	tests := []struct {
		name      string
		code      string
		err       *executor.Error
		wantAgent string
		wantCode  string // "" when the code is unchanged
	}{
		{"no error", twoBlocks, nil, "", ""},
		{"the kernel's agent", twoBlocks, &executor.Error{Line: 6, Agent: "data_viz_agent"}, "data_viz_agent", ""},
		{"a line in a block", twoBlocks, &executor.Error{Line: 2}, "preprocessing_agent", ""},
		{"a blank line between blocks", twoBlocks, &executor.Error{Line: 4}, "preprocessing_agent",
			"# preprocessing_agent code start\ndf_clean = df\n\n# preprocessing_agent code end\n" +
				"# data_viz_agent code start\nfig = px.bar(df_clean)\n# data_viz_agent code end"},
		{"loose code between blocks", between, &executor.Error{Line: 4}, "preprocessing_agent",
			"# preprocessing_agent code start\ndf_clean = df\nprint(undefined)\n# preprocessing_agent code end\n" +
				"# data_viz_agent code start\nfig = px.bar(df_clean)\n# data_viz_agent code end"},
		{"a prologue", prologue, &executor.Error{Line: 1}, "preprocessing_agent",
			"# preprocessing_agent code start\nimport missing_module\n\ndf_clean = df\n# preprocessing_agent code end\n\n" +
				"# data_viz_agent code start\nfig = px.bar(df_clean)\n# data_viz_agent code end"},
		{"past the end", twoBlocks, &executor.Error{Line: 40}, "data_viz_agent", ""},
		{"an agent the code has no block of", twoBlocks, &executor.Error{Line: 6, Agent: "ghost"}, "data_viz_agent", ""},
		{"no line", twoBlocks, &executor.Error{Type: "MemoryError"}, "", ""},
		{"no blocks", "print(x)", &executor.Error{Line: 1}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent, code := blame(tt.code, tt.err)
			want := tt.wantCode
			if want == "" {
				want = tt.code
			}
			if agent != tt.wantAgent || code != want {
				t.Fatalf("blame = %q,\n%s\nwant %q,\n%s", agent, code, tt.wantAgent, want)
			}
			if agent != "" {
				// The repair (fix) finds the blamed block, the failing line in it.
				found := false
				for _, b := range splitBlocks(code) {
					found = found || b.agent == agent
				}
				if !found {
					t.Fatalf("no block of %s in\n%s", agent, code)
				}
			}
		})
	}
}

// scriptedRunner fails the first execution with an error whose line is the
// blank line between the two agents' blocks (no agent's), then runs every
// program; it records the programs.
type scriptedRunner struct {
	mu    sync.Mutex
	codes []string
}

func (r *scriptedRunner) Execute(_ context.Context, req executor.Request) (*executor.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes = append(r.codes, req.Code)
	if len(r.codes) == 1 {
		return &executor.Result{Error: &executor.Error{Type: "NameError", Message: "name 'pd2' is not defined", Line: 4}}, nil
	}
	return &executor.Result{OK: true, Stdout: "ok\n"}, nil
}

// TestChatTurnRepairsOutsideBlocks: a chat turn whose combined code fails on
// a line outside every agent's block is repaired (the block before the line
// is blamed) instead of ending with the error.
func TestChatTurnRepairsOutsideBlocks(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	brk := memory.New()
	t.Cleanup(func() { brk.Close() })
	p := llm.NewScriptedFunc(func(req llm.Request) (string, error) {
		prompt := req.Messages[len(req.Messages)-1].Content
		switch {
		case strings.Contains(prompt, "The block of preprocessing_agent failed"):
			return "```python\ndf_clean = df.copy()\n```\nCopied the data.", nil
		case strings.Contains(prompt, "You are preprocessing_agent"):
			return "```python\ndf_clean = df\n```\nKept the data.", nil
		case strings.Contains(prompt, "You are data_viz_agent"):
			return "```python\nprint(len(df_clean))\n```\nCounted the rows.", nil
		}
		return "Done.", nil
	})
	exe := &scriptedRunner{}
	s, err := New(Config{
		DB: db, Broker: brk, Files: noFiles{}, Logger: zerolog.Nop(), Executor: exe,
		Models: modelsFunc(func(context.Context, string) (*modelsetting.Choice, error) {
			return &modelsetting.Choice{Provider: p, Model: "gpt-4o-mini"}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: alice.ID})
	c, err := db.Chat.Create().SetUserID(alice.ID).Save(actx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.SendMessage(actx, c.ID, "@preprocessing_agent @data_viz_agent count the rows")
	if err != nil {
		t.Fatal(err)
	}
	w := s.StartWorkers(1)
	defer w.Stop(ctx)
	s.waitEnd(actx, r.ID, 10*time.Second)
	if rr, _ := db.Run.Get(actx, r.ID); rr.Status != run.StatusSUCCEEDED {
		t.Fatalf("run = %s (%v)", rr.Status, rr.Error)
	}
	exe.mu.Lock()
	defer exe.mu.Unlock()
	if len(exe.codes) != 2 || !strings.Contains(exe.codes[1], "df_clean = df.copy()") ||
		!strings.Contains(exe.codes[1], "# data_viz_agent code start\nprint(len(df_clean))") {
		t.Fatalf("executions = %q, want the first repaired in preprocessing_agent's block", exe.codes)
	}
}
