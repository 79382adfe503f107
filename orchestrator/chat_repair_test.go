package orchestrator

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

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
