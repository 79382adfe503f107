package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// CodeExecution records the code of an answer: as the agents first wrote it,
// as it last ran, and how it went.
type CodeExecution struct{ ent.Schema }

// Mixin of CodeExecution.
func (CodeExecution) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cex"), TimeMixin{}, OwnerMixin{}}
}

// Fields of CodeExecution.
func (CodeExecution) Fields() []ent.Field {
	return []ent.Field{
		field.String("message_id").Optional().Nillable(),
		field.String("chat_id").Optional().Nillable().Immutable(),
		field.String("run_id").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Text("initial_code"),
		field.Text("latest_code"),
		field.Text("output").Default(""),
		field.Bool("is_successful").Default(false),
		// Result is what latest_code produced when it last ran: the executor's
		// result as JSON (stdout, stderr, the error, Plotly figures, images,
		// tables), bounded as the execution was (EXEC_MAX_RESULT_BYTES; see
		// orchestrator.EncodeResult). Text, not jsonb: PostgreSQL's jsonb
		// refuses the \u0000 that a program may print. Null for code that
		// never ran and for executions stored before results were kept.
		field.Text("result").Optional().
			Comment("What latestCode produced when it last ran (the same shape as a run's EXECUTION_RESULT); null for code that never ran.").
			Annotations(entgql.Type("ExecutionResult"),
				entgql.Skip(entgql.SkipWhereInput), entgql.Directives(forceResolver())),
		field.String("model_provider").Default("").Annotations(LLMProviderType()),
		field.String("model_name").Default(""),
		field.Float("model_temperature").Default(0),
		field.Int("model_max_tokens").Default(0),
		field.Strings("failed_agents").Optional(),
		field.Strings("error_messages").Optional(),
		// CorrectionSummary says what went wrong and how it was repaired; the
		// code-fix agent is given the chat's recent ones.
		field.Text("correction_summary").Default("").Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Edges of CodeExecution.
func (CodeExecution) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("code_executions").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("message", Message.Type).Ref("code_execution").Field("message_id").Unique(),
		edge.From("chat", Chat.Type).Ref("code_executions").Field("chat_id").Unique().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Annotations of CodeExecution.
func (CodeExecution) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}
