-- Drop index "agent_templates_template_name_key" from table: "agent_templates"
DROP INDEX "agent_templates_template_name_key";
-- Modify "agent_templates" table
ALTER TABLE "agent_templates" ADD COLUMN "default_enabled" boolean NOT NULL DEFAULT false, ADD COLUMN "usage_count" bigint NOT NULL DEFAULT 0;
-- Create index "agenttemplate_builtin_name" to table: "agent_templates"
CREATE UNIQUE INDEX "agenttemplate_builtin_name" ON "agent_templates" ("template_name") WHERE (user_id IS NULL);
-- Create index "agenttemplate_user_id_template_name" to table: "agent_templates"
CREATE UNIQUE INDEX "agenttemplate_user_id_template_name" ON "agent_templates" ("user_id", "template_name");
-- Create index "message_feedbacks_message_id_key" to table: "message_feedbacks"
CREATE UNIQUE INDEX "message_feedbacks_message_id_key" ON "message_feedbacks" ("message_id");
-- Modify "runs" table
ALTER TABLE "runs" ADD COLUMN "model_provider" character varying NULL, ADD COLUMN "model_name" character varying NULL, ADD COLUMN "model_temperature" double precision NULL, ADD COLUMN "model_max_tokens" bigint NULL;
-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "model_provider" character varying NULL, ADD COLUMN "model_name" character varying NULL, ADD COLUMN "model_temperature" double precision NULL, ADD COLUMN "model_max_tokens" bigint NULL, ADD COLUMN "model_api_key" bytea NULL;
