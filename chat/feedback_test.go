package chat

import (
	"context"
	"testing"

	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
)

// TestAnsweredWith: feedback records the temperature the answer's run used:
// the one it recorded, or 1 for a reasoning model (the run records none).
func TestAnsweredWith(t *testing.T) {
	ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
	db, err := database.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := db.Client.User.Create().Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := New(db.Client, nil)
	tests := []struct {
		name  string
		model string
		temp  *float64
		want  float64
	}{
		{"recorded temperature", "gpt-4o-mini", ptrTo(0.2), 0.2},
		{"reasoning model, none recorded", "gpt-5-mini", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := db.Client.Run.Create().SetUserID(u.ID).SetKind("CHAT").SetModelProvider("openai").
				SetModelName(tt.model).SetNillableModelTemperature(tt.temp).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, model, temp, _ := s.answeredWith(ctx, &ent.Message{RunID: &r.ID})
			if model != tt.model || temp != tt.want {
				t.Fatalf("answeredWith = %s at %v, want %s at %v", model, temp, tt.model, tt.want)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
