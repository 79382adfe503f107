package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

const templatesQuery = `query($variant: TemplateVariantFilter, $category: String) {
  templates(variant: $variant, category: $category, orderBy: [{field: NAME}]) {
    totalCount
    edges { node { id name displayName description category variant isPremium enabled usageCount custom } }
  }
}`

type templateNode struct {
	ID, Name, DisplayName, Description, Category, Variant string
	IsPremium, Enabled, Custom                            bool
	UsageCount                                            int
}

// listTemplates returns the viewer's templates by name.
func listTemplates(t *testing.T, s *server, token string, vars map[string]any) map[string]templateNode {
	t.Helper()
	var out struct {
		Templates struct {
			TotalCount int
			Edges      []struct{ Node templateNode }
		}
	}
	s.must(token, templatesQuery, vars, &out)
	m := map[string]templateNode{}
	for _, e := range out.Templates.Edges {
		m[e.Node.Name] = e.Node
	}
	if len(m) != out.Templates.TotalCount {
		t.Fatalf("totalCount %d, %d edges", out.Templates.TotalCount, len(m))
	}
	return m
}

func enabledNames(m map[string]templateNode) []string {
	var out []string
	for n, tp := range m {
		if tp.Enabled {
			out = append(out, n)
		}
	}
	return out
}

func wantCode(t *testing.T, r *gqlResponse, code, field string) {
	t.Helper()
	if r.code() != code || (field != "" && r.Errors[0].Extensions["field"] != field) {
		t.Fatalf("want %s on %q, got %s %+v", code, field, r.Data, r.Errors)
	}
}

// TestTemplates lists, toggles and creates agent templates over GraphQL, with
// the original's limits, and counts their use by a chat turn.
func TestTemplates(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(housekeepingRule, llmtest.Rule{Contains: "You are basic_qa_agent",
		Reply: llmtest.Text("The median is the middle value.")}).Handle)
	srv := startServer(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL()})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, bob := srv.session(), srv.session()

	all := listTemplates(t, srv, alice, nil)
	if len(all) != 7 || len(enabledNames(all)) != 4 {
		t.Fatalf("a new guest sees %d templates, %v enabled", len(all), enabledNames(all))
	}
	for _, n := range []string{"preprocessing_agent", "statistical_analytics_agent", "sk_learn_agent", "data_viz_agent"} {
		if !all[n].Enabled || all[n].IsPremium || all[n].Custom {
			t.Fatalf("%s: %+v", n, all[n])
		}
	}
	if ts := all["time_series_agent"]; !ts.IsPremium || ts.Category != "Data Modelling" || ts.Variant != "BOTH" || ts.Enabled {
		t.Fatalf("time_series_agent: %+v", ts)
	}
	if _, ok := all["polars_agent"]; ok {
		t.Fatal("polars_agent is listed")
	}
	if n := len(listTemplates(t, srv, alice, map[string]any{"variant": "PLANNER"})); n != 6 {
		t.Fatalf("%d planner templates, want 6 (all but basic_qa_agent)", n)
	}
	if n := len(listTemplates(t, srv, alice, map[string]any{"category": "Data Visualization"})); n != 1 {
		t.Fatalf("%d visualization templates, want 1", n)
	}
	var cats struct{ TemplateCategories []string }
	srv.must(alice, `{ templateCategories }`, nil, &cats)
	if strings.Join(cats.TemplateCategories, ",") != "Data Manipulation,Data Modelling,Data Visualization" {
		t.Fatalf("categories: %v", cats.TemplateCategories)
	}
	// Where-filters are named after the fields they filter.
	var filtered struct {
		Templates struct {
			Edges []struct{ Node struct{ Name string } }
		}
	}
	srv.must(alice, `{ templates(where: {nameHasPrefix: "time_", isPremium: true, variantIn: [BOTH], promptContains: "statsmodels"}) {
		edges { node { name } } } }`, nil, &filtered)
	if e := filtered.Templates.Edges; len(e) != 1 || e[0].Node.Name != "time_series_agent" {
		t.Fatalf("filtered templates: %+v", e)
	}

	const setOne = `mutation($id: ID!, $on: Boolean!) { setTemplateEnabled(templateID: $id, enabled: $on) { id name enabled } }`
	const setMany = `mutation($in: [TemplatePreferenceInput!]!) { setTemplatesEnabled(input: $in) { name enabled } }`
	wantCode(t, srv.do(alice, setOne, map[string]any{"id": all["time_series_agent"].ID, "on": true}), "PREMIUM_REQUIRED", "templateID")
	var core []map[string]any
	for _, n := range enabledNames(all) {
		core = append(core, map[string]any{"templateID": all[n].ID, "enabled": false})
	}
	wantCode(t, srv.do(alice, setMany, map[string]any{"in": core}), "BAD_USER_INPUT", "input")
	srv.must(alice, setMany, map[string]any{"in": core[:3]}, &struct{}{})
	last := enabledNames(listTemplates(t, srv, alice, nil))
	if len(last) != 1 {
		t.Fatalf("enabled after disabling 3 of 4: %v", last)
	}
	wantCode(t, srv.do(alice, setOne, map[string]any{"id": all[last[0]].ID, "on": false}), "BAD_USER_INPUT", "enabled")
	// All or nothing: a refused bulk change leaves every preference as it was.
	wantCode(t, srv.do(alice, setMany, map[string]any{"in": []map[string]any{
		{"templateID": all["basic_qa_agent"].ID, "enabled": true},
		{"templateID": all["feature_engineering_agent"].ID, "enabled": true},
	}}), "PREMIUM_REQUIRED", "input[1].templateID")
	if all2 := listTemplates(t, srv, alice, nil); all2["basic_qa_agent"].Enabled {
		t.Fatal("a refused setTemplatesEnabled enabled basic_qa_agent")
	}
	var restored struct{ SetTemplatesEnabled []struct{ Name string } }
	for i := range core {
		core[i]["enabled"] = true
	}
	srv.must(alice, setMany, map[string]any{"in": core}, &restored)
	if len(restored.SetTemplatesEnabled) != 4 {
		t.Fatalf("setTemplatesEnabled returned %+v", restored)
	}

	// Custom templates: 4 core + 6 custom enabled = 10; the 7th is created disabled.
	const create = `mutation($in: CreateTemplateInput!) { createTemplate(input: $in) { id name displayName category variant enabled custom isPremium } }`
	wantCode(t, srv.do(alice, create, map[string]any{"in": map[string]any{"name": "my-agent", "prompt": "p", "category": "Data Modelling"}}), "BAD_USER_INPUT", "name")
	wantCode(t, srv.do(alice, create, map[string]any{"in": map[string]any{"name": "mine", "prompt": "p", "category": "Cooking"}}), "BAD_USER_INPUT", "category")
	wantCode(t, srv.do(alice, create, map[string]any{"in": map[string]any{"name": "mine", "prompt": " ", "category": "Data Modelling"}}), "BAD_USER_INPUT", "prompt")
	wantCode(t, srv.do(alice, create, map[string]any{"in": map[string]any{"name": "data_viz_agent", "prompt": "p", "category": "Data Modelling"}}), "BAD_USER_INPUT", "name")
	var customs []string
	for i := range 7 {
		var c struct {
			CreateTemplate struct {
				ID, Name, DisplayName, Variant string
				Enabled, Custom                bool
			}
		}
		srv.must(alice, create, map[string]any{"in": map[string]any{"name": "custom_" + string(rune('a'+i)),
			"displayName": "Custom", "prompt": "You are a custom agent.", "category": "Data Modelling", "variant": "INDIVIDUAL"}}, &c)
		if !c.CreateTemplate.Custom || c.CreateTemplate.Variant != "INDIVIDUAL" || c.CreateTemplate.Enabled != (i < 6) {
			t.Fatalf("custom template %d: %+v", i, c.CreateTemplate)
		}
		customs = append(customs, c.CreateTemplate.ID)
	}
	wantCode(t, srv.do(alice, setOne, map[string]any{"id": customs[6], "on": true}), "LIMIT_EXCEEDED", "templateID")
	wantCode(t, srv.do(alice, setMany, map[string]any{"in": []map[string]any{{"templateID": customs[6], "enabled": true}}}), "LIMIT_EXCEEDED", "input")
	var upd struct {
		UpdateTemplate struct{ Prompt, Category string }
	}
	srv.must(alice, `mutation($id: ID!) { updateTemplate(id: $id, input: {prompt: "new", category: "Data Visualization"}) { prompt category } }`,
		map[string]any{"id": customs[0]}, &upd)
	if upd.UpdateTemplate.Prompt != "new" || upd.UpdateTemplate.Category != "Data Visualization" {
		t.Fatalf("updateTemplate: %+v", upd)
	}
	wantCode(t, srv.do(alice, `mutation($id: ID!) { updateTemplate(id: $id, input: {prompt: "x"}) { id } }`,
		map[string]any{"id": all["data_viz_agent"].ID}), "BAD_USER_INPUT", "id")

	// Bob sees none of it.
	if n := len(listTemplates(t, srv, bob, nil)); n != 7 {
		t.Fatalf("bob sees %d templates", n)
	}
	wantCode(t, srv.do(bob, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": customs[0]}), "NOT_FOUND", "")
	wantCode(t, srv.do(bob, `mutation($id: ID!) { updateTemplate(id: $id, input: {prompt: "x"}) { id } }`, map[string]any{"id": customs[0]}), "NOT_FOUND", "id")
	wantCode(t, srv.do(bob, `mutation($id: ID!) { deleteTemplate(id: $id) }`, map[string]any{"id": customs[0]}), "NOT_FOUND", "id")
	wantCode(t, srv.do(bob, setOne, map[string]any{"id": customs[0], "on": true}), "NOT_FOUND", "templateID")
	var del struct{ DeleteTemplate string }
	srv.must(alice, `mutation($id: ID!) { deleteTemplate(id: $id) }`, map[string]any{"id": customs[0]}, &del)
	wantCode(t, srv.do(alice, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": customs[0]}), "NOT_FOUND", "")
	var node struct {
		Node struct {
			Name    string
			Enabled bool
		}
	}
	srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Template { name enabled } } }`, map[string]any{"id": customs[1]}, &node)
	if node.Node.Name != "custom_b" || !node.Node.Enabled {
		t.Fatalf("node: %+v", node)
	}

	// A new account starts with the four core agents.
	var up struct{ SignUp struct{ Token string } }
	srv.must("", `mutation { signUp(input: {email: "new@example.com", password: "correct horse"}) { token } }`, nil, &up)
	if n := len(enabledNames(listTemplates(t, srv, up.SignUp.Token, nil))); n != 4 {
		t.Fatalf("a new account has %d templates enabled", n)
	}

	// A chat turn counts its agents' use.
	var c struct{ CreateChat struct{ ID string } }
	srv.must(alice, createChatMutation, map[string]any{"ids": []string{}}, &c)
	var sent struct{ SendMessage struct{ ID string } }
	srv.must(alice, sendMutation, map[string]any{"chat": c.CreateChat.ID, "content": "@basic_qa_agent what is a median?"}, &sent)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil)
	if err != nil || gerr != nil || find(evs, "RUN_SUCCEEDED") == nil {
		t.Fatalf("chat turn: %v %+v %+v", err, gerr, evs)
	}
	if n := listTemplates(t, srv, bob, nil)["basic_qa_agent"].UsageCount; n != 1 {
		t.Fatalf("basic_qa_agent usage count %d, want 1", n)
	}
}

// TestTemplatesSyncCommand syncs a configuration file with the CLI; the
// server started on it keeps what the file says.
func TestTemplatesSyncCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "templates.yaml")
	os.WriteFile(file, []byte(`templates:
  - name: only_agent
    display_name: The Only Agent
    prompt: You are only_agent.
    category: Data Manipulation
    default_enabled: true
remove: [basic_qa_agent]
`), 0o644)
	run := func(args ...string) string {
		cmd := exec.Command(buildBinary(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + dir, "LOG_FORMAT=json"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("templates", "sync") // the embedded default
	if out := run("templates", "sync", file); !strings.Contains(out, `"created":1`) || !strings.Contains(out, `"removed":1`) {
		t.Fatalf("sync output: %s", out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("templates:\n  - name: 1x\n"), 0o644)
	cmd := exec.Command(buildBinary(t), "templates", "sync", bad)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + dir}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Python identifier") {
		t.Fatalf("a bad file was accepted: %v %s", err, out)
	}

	srv := startServer(t, map[string]string{"DATA_DIR": dir, "TEMPLATES_FILE": file})
	all := listTemplates(t, srv, srv.session(), nil)
	if _, ok := all["basic_qa_agent"]; ok || all["only_agent"].DisplayName != "The Only Agent" || !all["only_agent"].Enabled {
		t.Fatalf("templates after sync: %+v", all)
	}
	if len(all) != 7 { // 6 defaults left + only_agent
		t.Fatalf("%d templates", len(all))
	}
}
