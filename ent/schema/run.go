package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// Run is one unit of background work (a chat turn, a code execution, a deep
// analysis): queued on the broker, executed by a worker, streamed as events.
type Run struct{ ent.Schema }

// Mixin of Run.
func (Run) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("run"), TimeMixin{}, OwnerMixin{}}
}

// Fields of Run.
func (Run) Fields() []ent.Field {
	return []ent.Field{
		field.String("chat_id").Optional().Nillable().Immutable(),
		field.Enum("kind").Values("CHAT", "EXECUTE_CODE", "FIX_CODE", "EDIT_CODE", "DESCRIBE_DATASETS", "DEEP_ANALYSIS").Immutable().
			Annotations(entgql.OrderField("KIND")),
		field.Enum("status").Values("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED").Default("QUEUED").
			Annotations(entgql.OrderField("STATUS")),
		// Input is the job's arguments (the question, the code).
		field.JSON("input", json.RawMessage{}).Optional().Annotations(entgql.Skip()),
		field.Text("error").Optional().Nillable(),
		field.Int("attempts").Default(0),
		// last_seq is the Seq of the run's last event as its worker last
		// checkpointed it (each heartbeat, and when it hands the run back):
		// a log lost with the broker's data goes on past it.
		field.Int64("last_seq").Default(0).Annotations(entgql.Skip()),
		// seq_reserved bounds the Seqs the run's workers may have appended:
		// a worker raises it (by a block) before it appends past it, so a
		// log lost with the broker's data goes on after it, past every
		// event a follower may have seen.
		field.Int64("seq_reserved").Default(0).Annotations(entgql.Skip()),
		// recoveries counts the times the reconciler queued the run again
		// because the broker had lost its job.
		field.Int("recoveries").Default(0).Annotations(entgql.Skip()),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		// Events is the run's whole event log, kept once the run has ended so
		// that a subscription can replay it after the broker's copy expired.
		field.JSON("events", json.RawMessage{}).Optional().Annotations(entgql.Skip()),
		field.String("message_id").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// The model settings the run's LLM calls used (set when a worker
		// starts a chat turn).
		field.String("model_provider").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.String("model_name").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Float("model_temperature").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Int("model_max_tokens").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// Credits is what the run was charged when it was accepted (0: free,
		// or on the user's own API key).
		field.Int("credits").Default(0).Immutable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Edges of Run.
func (Run) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("runs").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("chat", Chat.Type).Ref("runs").Field("chat_id").Unique().Immutable(),
		// Report is the DeepAnalysisReport of a DEEP_ANALYSIS run.
		edge.To("report", DeepAnalysisReport.Type).Unique().Annotations(entsql.OnDelete(entsql.SetNull)),
		// OutputFiles are the files the run's code wrote (/tmp/outputs).
		edge.To("output_files", OutputFile.Type).Annotations(entgql.Skip(), entsql.OnDelete(entsql.SetNull)),
	}
}

// Indexes of Run.
func (Run) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status")}
}

// Annotations of Run.
func (Run) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}
