package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// OutputFile is a file that code of a run wrote to its output folder
// (/tmp/outputs in the sandbox), kept in the blob store and attached to the
// run's answer. Only its owner sees it and downloads it (GET /files/{id}).
// Its GraphQL type is written by hand (graph/files.graphqls).
type OutputFile struct{ ent.Schema }

// Mixin of OutputFile.
func (OutputFile) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ofl"), TimeMixin{}, OwnerMixin{}}
}

// Fields of OutputFile.
func (OutputFile) Fields() []ent.Field {
	return []ent.Field{
		// MessageID is the answer the file is attached to: set once the
		// run's answer is stored (null for a run without one).
		field.String("message_id").Optional().Nillable(),
		field.String("run_id").Optional().Nillable(),
		// Name is the file's name made safe (executor.SafeFileName).
		field.String("name").NotEmpty().MaxLen(120).Immutable(),
		field.Int64("size").NonNegative().Immutable(),
		field.String("media_type").NotEmpty().Immutable(),
		// BlobKey is where the blob store keeps the bytes.
		field.String("blob_key").NotEmpty().Immutable(),
	}
}

// Edges of OutputFile.
func (OutputFile) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("output_files").Field("user_id").Unique().Required().Immutable(),
		edge.From("message", Message.Type).Ref("output_files").Field("message_id").Unique(),
		edge.From("run", Run.Type).Ref("output_files").Field("run_id").Unique(),
	}
}

// Indexes of OutputFile.
func (OutputFile) Indexes() []ent.Index {
	return []ent.Index{index.Fields("message_id"), index.Fields("run_id")}
}

// Annotations of OutputFile.
func (OutputFile) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
