package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// DeepAnalysisReport is the stored outcome of a deep analysis.
type DeepAnalysisReport struct{ ent.Schema }

// Mixin of DeepAnalysisReport.
func (DeepAnalysisReport) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rep"), TimeMixin{}, OwnerMixin{}}
}

// Fields of DeepAnalysisReport.
func (DeepAnalysisReport) Fields() []ent.Field {
	return []ent.Field{
		field.String("uuid").Unique().Immutable(),
		field.String("chat_id").Optional().Nillable(),
		field.String("run_id").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Text("goal"),
		field.Enum("status").Values("PENDING", "RUNNING", "COMPLETED", "FAILED").Default("PENDING").
			Annotations(entgql.OrderField("STATUS")),
		field.Time("start_time").Optional().Nillable(),
		field.Time("end_time").Optional().Nillable(),
		field.Float("duration_seconds").Optional().Nillable(),
		field.Strings("deep_questions").Optional(),
		// DeepPlan is the plan as JSON (orchestrator.Plan); GraphQL reads it
		// as a Plan, null until the planning step stored one.
		field.Text("deep_plan").Default("").Annotations(entgql.Type("Plan"),
			entgql.Skip(entgql.SkipWhereInput), entgql.Directives(forceResolver())),
		field.Strings("summaries").Optional(),
		field.Text("analysis_code").Default(""),
		// PlotlyFigures are the figures of the analysis's script, each a
		// Plotly figure ({"data": [...], "layout": {...}}).
		field.JSON("plotly_figures", []json.RawMessage{}).Optional().Annotations(entgql.Type("[JSON!]")),
		field.Text("synthesis").Default(""),
		field.Text("final_conclusion").Default(""),
		field.Text("html_report").Default("").Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Text("report_summary").Default(""),
		field.Int("progress_percentage").Default(0).Range(0, 100),
		field.Strings("steps_completed").Optional(),
		field.Text("error_message").Optional().Nillable(),
		field.String("model_provider").Default("").Annotations(LLMProviderType()),
		field.String("model_name").Default(""),
		field.Int("total_tokens_used").Default(0),
		field.Float("estimated_cost").Default(0),
		field.Int("credits_consumed").Default(0),
	}
}

// Edges of DeepAnalysisReport.
func (DeepAnalysisReport) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("reports").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("chat", Chat.Type).Ref("reports").Field("chat_id").Unique().
			Annotations(entgql.Skip()),
		edge.From("run", Run.Type).Ref("report").Field("run_id").Unique().
			Annotations(entgql.Skip()),
	}
}

// Annotations of DeepAnalysisReport.
func (DeepAnalysisReport) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField("deepAnalysisReports"), entgql.MultiOrder()}
}
