package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/httpapi"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// TestTypedOutputs reads stored rows through GraphQL: a report's plan and
// figures come typed, and provider names the LLMProvider enum lacks (none
// recorded, a test double's, another version's) read as null, not as errors.
func TestTypedOutputs(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	client := db.Client
	a := auth.New(client, time.Hour, "")
	guest, err := a.CreateGuest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewHandler(&resolvers.Resolver{DB: client, Auth: a, Logger: zerolog.Nop()}, httpapi.Config{MaxUploadBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sys := auth.SystemContext(ctx)
	uid := guest.User.ID
	for i, provider := range []string{"openai", "acme", ""} {
		r := client.Run.Create().SetUserID(uid).SetKind(run.KindDEEP_ANALYSIS).SaveX(sys)
		c := client.DeepAnalysisReport.Create().SetUserID(uid).SetUUID(r.ID).SetGoal("g").SetRunID(r.ID).SetModelProvider(provider)
		if i == 0 {
			c.SetDeepPlan(`{"complexity":"deep","steps":[{"agent":"data_viz_agent","instruction":"chart","create":["fig"],"use":["df"]}]}`).
				SetPlotlyFigures([]json.RawMessage{json.RawMessage(`{"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": {"text": "t"}}}`)})
		}
		c.ExecX(sys)
		if provider != "" {
			client.ModelUsage.Create().SetUserID(uid).SetRunID(r.ID).SetModelName("m").SetProvider(provider).ExecX(sys)
		}
	}
	query := func(q string, out any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": q})
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+guest.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp struct {
			Data   json.RawMessage
			Errors []any
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Errors) > 0 {
			t.Fatalf("%s: %d %s", q, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(resp.Data, out); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	var reps struct {
		DeepAnalysisReports struct {
			Edges []struct {
				Node struct {
					ModelProvider *string
					DeepPlan      *struct {
						Complexity string
						Steps      []struct{ Agent string }
					}
					PlotlyFigures []map[string]any
				}
			}
		}
	}
	query(`{ deepAnalysisReports(orderBy: [{field: CREATED_AT}]) { edges { node { modelProvider deepPlan { complexity steps { agent } } plotlyFigures } } } }`, &reps)
	e := reps.DeepAnalysisReports.Edges
	if len(e) != 3 || e[0].Node.ModelProvider == nil || *e[0].Node.ModelProvider != "OPENAI" || e[1].Node.ModelProvider != nil || e[2].Node.ModelProvider != nil {
		t.Fatalf("reports %+v", e)
	}
	if p := e[0].Node.DeepPlan; p == nil || p.Complexity != "DEEP" || len(p.Steps) != 1 || p.Steps[0].Agent != "data_viz_agent" || e[1].Node.DeepPlan != nil {
		t.Fatalf("deepPlan %+v, then %+v", p, e[1].Node.DeepPlan)
	}
	if f := e[0].Node.PlotlyFigures; len(f) != 1 || f[0]["data"] == nil || f[0]["layout"] == nil || e[1].Node.PlotlyFigures != nil {
		t.Fatalf("plotlyFigures %+v", f)
	}

	var usage struct {
		All, OpenAI struct {
			TotalCount int
			Edges      []struct{ Node struct{ Provider *string } }
		}
	}
	query(`{ all: modelUsages(orderBy: [{field: CREATED_AT}]) { totalCount edges { node { provider } } }
		openAI: modelUsages(where: {providerIn: [OPENAI, GROQ]}) { totalCount } }`, &usage)
	if u := usage.All.Edges; len(u) != 2 || u[0].Node.Provider == nil || *u[0].Node.Provider != "OPENAI" || u[1].Node.Provider != nil || usage.OpenAI.TotalCount != 1 {
		t.Fatalf("usage %+v", usage)
	}
}
