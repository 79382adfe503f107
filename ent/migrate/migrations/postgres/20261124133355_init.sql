-- Create "users" table
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "username" character varying NOT NULL DEFAULT '', "email" character varying NULL, "name" character varying NOT NULL DEFAULT '', "password_hash" character varying NULL, "role" character varying NOT NULL DEFAULT 'USER', "plan" character varying NOT NULL DEFAULT 'FREE', "is_guest" boolean NOT NULL DEFAULT true, PRIMARY KEY ("id"));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- Create "agent_templates" table
CREATE TABLE "agent_templates" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "template_name" character varying NOT NULL, "display_name" character varying NOT NULL DEFAULT '', "description" text NOT NULL DEFAULT '', "prompt_template" text NOT NULL DEFAULT '', "icon_url" character varying NOT NULL DEFAULT '', "category" character varying NOT NULL DEFAULT '', "is_premium_only" boolean NOT NULL DEFAULT false, "variant_type" character varying NOT NULL DEFAULT 'BOTH', "base_agent" character varying NOT NULL DEFAULT '', "is_active" boolean NOT NULL DEFAULT true, "user_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "agent_templates_users_templates" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "agent_templates_template_name_key" to table: "agent_templates"
CREATE UNIQUE INDEX "agent_templates_template_name_key" ON "agent_templates" ("template_name");
-- Create "chats" table
CREATE TABLE "chats" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "title" character varying NOT NULL DEFAULT 'New Chat', "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "chats_users_chats" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "chat_user_id" to table: "chats"
CREATE INDEX "chat_user_id" ON "chats" ("user_id");
-- Create "datasets" table
CREATE TABLE "datasets" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "file_name" character varying NOT NULL, "description" text NOT NULL DEFAULT '', "format" character varying NOT NULL DEFAULT 'CSV', "sheet" character varying NULL, "size_bytes" bigint NOT NULL, "sha256" character varying NOT NULL, "storage_key" character varying NOT NULL, "row_count" bigint NOT NULL DEFAULT 0, "columns" jsonb NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "datasets_users_datasets" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "dataset_user_id" to table: "datasets"
CREATE INDEX "dataset_user_id" ON "datasets" ("user_id");
-- Create "chat_datasets" table
CREATE TABLE "chat_datasets" ("chat_id" character varying NOT NULL, "dataset_id" character varying NOT NULL, PRIMARY KEY ("chat_id", "dataset_id"), CONSTRAINT "chat_datasets_chat_id" FOREIGN KEY ("chat_id") REFERENCES "chats" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "chat_datasets_dataset_id" FOREIGN KEY ("dataset_id") REFERENCES "datasets" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "messages" table
CREATE TABLE "messages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "sender" character varying NOT NULL, "content" text NOT NULL, "run_id" character varying NULL, "chat_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "messages_chats_messages" FOREIGN KEY ("chat_id") REFERENCES "chats" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "messages_users_messages" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "message_chat_id_created_at" to table: "messages"
CREATE INDEX "message_chat_id_created_at" ON "messages" ("chat_id", "created_at");
-- Create index "message_user_id" to table: "messages"
CREATE INDEX "message_user_id" ON "messages" ("user_id");
-- Create "code_executions" table
CREATE TABLE "code_executions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "run_id" character varying NULL, "initial_code" text NOT NULL, "latest_code" text NOT NULL, "output" text NOT NULL DEFAULT '', "is_successful" boolean NOT NULL DEFAULT false, "model_provider" character varying NOT NULL DEFAULT '', "model_name" character varying NOT NULL DEFAULT '', "model_temperature" double precision NOT NULL DEFAULT 0, "model_max_tokens" bigint NOT NULL DEFAULT 0, "failed_agents" jsonb NULL, "error_messages" jsonb NULL, "chat_id" character varying NULL, "message_id" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "code_executions_chats_code_executions" FOREIGN KEY ("chat_id") REFERENCES "chats" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "code_executions_messages_code_execution" FOREIGN KEY ("message_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "code_executions_users_code_executions" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "code_executions_message_id_key" to table: "code_executions"
CREATE UNIQUE INDEX "code_executions_message_id_key" ON "code_executions" ("message_id");
-- Create index "codeexecution_user_id" to table: "code_executions"
CREATE INDEX "codeexecution_user_id" ON "code_executions" ("user_id");
-- Create "deep_analysis_reports" table
CREATE TABLE "deep_analysis_reports" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "uuid" character varying NOT NULL, "run_id" character varying NULL, "goal" text NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "start_time" timestamptz NULL, "end_time" timestamptz NULL, "duration_seconds" double precision NULL, "deep_questions" jsonb NULL, "deep_plan" text NOT NULL DEFAULT '', "summaries" jsonb NULL, "analysis_code" text NOT NULL DEFAULT '', "plotly_figures" jsonb NULL, "synthesis" text NOT NULL DEFAULT '', "final_conclusion" text NOT NULL DEFAULT '', "html_report" text NOT NULL DEFAULT '', "report_summary" text NOT NULL DEFAULT '', "progress_percentage" bigint NOT NULL DEFAULT 0, "steps_completed" jsonb NULL, "error_message" text NULL, "model_provider" character varying NOT NULL DEFAULT '', "model_name" character varying NOT NULL DEFAULT '', "total_tokens_used" bigint NOT NULL DEFAULT 0, "estimated_cost" double precision NOT NULL DEFAULT 0, "credits_consumed" bigint NOT NULL DEFAULT 0, "chat_id" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "deep_analysis_reports_chats_reports" FOREIGN KEY ("chat_id") REFERENCES "chats" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "deep_analysis_reports_users_reports" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "deep_analysis_reports_uuid_key" to table: "deep_analysis_reports"
CREATE UNIQUE INDEX "deep_analysis_reports_uuid_key" ON "deep_analysis_reports" ("uuid");
-- Create index "deepanalysisreport_user_id" to table: "deep_analysis_reports"
CREATE INDEX "deepanalysisreport_user_id" ON "deep_analysis_reports" ("user_id");
-- Create "message_feedbacks" table
CREATE TABLE "message_feedbacks" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "rating" bigint NOT NULL, "comment" text NOT NULL DEFAULT '', "model_name" character varying NOT NULL DEFAULT '', "model_provider" character varying NOT NULL DEFAULT '', "temperature" double precision NOT NULL DEFAULT 0, "max_tokens" bigint NOT NULL DEFAULT 0, "message_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "message_feedbacks_messages_feedback" FOREIGN KEY ("message_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "message_feedbacks_users_feedback" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "messagefeedback_user_id" to table: "message_feedbacks"
CREATE INDEX "messagefeedback_user_id" ON "message_feedbacks" ("user_id");
-- Create index "messagefeedback_user_id_message_id" to table: "message_feedbacks"
CREATE UNIQUE INDEX "messagefeedback_user_id_message_id" ON "message_feedbacks" ("user_id", "message_id");
-- Create "model_usages" table
CREATE TABLE "model_usages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "run_id" character varying NULL, "step" character varying NOT NULL DEFAULT '', "model_name" character varying NOT NULL, "provider" character varying NOT NULL, "prompt_tokens" bigint NOT NULL DEFAULT 0, "completion_tokens" bigint NOT NULL DEFAULT 0, "total_tokens" bigint NOT NULL DEFAULT 0, "query_size" bigint NOT NULL DEFAULT 0, "response_size" bigint NOT NULL DEFAULT 0, "cost" double precision NOT NULL DEFAULT 0, "is_streaming" boolean NOT NULL DEFAULT false, "request_time_ms" bigint NOT NULL DEFAULT 0, "error" text NULL, "chat_id" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "model_usages_chats_model_usages" FOREIGN KEY ("chat_id") REFERENCES "chats" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "model_usages_users_model_usages" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "modelusage_created_at" to table: "model_usages"
CREATE INDEX "modelusage_created_at" ON "model_usages" ("created_at");
-- Create index "modelusage_run_id" to table: "model_usages"
CREATE INDEX "modelusage_run_id" ON "model_usages" ("run_id");
-- Create index "modelusage_user_id" to table: "model_usages"
CREATE INDEX "modelusage_user_id" ON "model_usages" ("user_id");
-- Create "runs" table
CREATE TABLE "runs" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'QUEUED', "input" jsonb NULL, "error" text NULL, "attempts" bigint NOT NULL DEFAULT 0, "started_at" timestamptz NULL, "finished_at" timestamptz NULL, "events" jsonb NULL, "message_id" character varying NULL, "chat_id" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "runs_chats_runs" FOREIGN KEY ("chat_id") REFERENCES "chats" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "runs_users_runs" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "run_status" to table: "runs"
CREATE INDEX "run_status" ON "runs" ("status");
-- Create index "run_user_id" to table: "runs"
CREATE INDEX "run_user_id" ON "runs" ("user_id");
-- Create "sessions" table
CREATE TABLE "sessions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "token_hash" character varying NOT NULL, "expires_at" timestamptz NOT NULL, "last_used_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "sessions_users_sessions" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX "session_expires_at" ON "sessions" ("expires_at");
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX "session_user_id" ON "sessions" ("user_id");
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions" ("token_hash");
-- Create "user_template_preferences" table
CREATE TABLE "user_template_preferences" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "is_enabled" boolean NOT NULL DEFAULT false, "usage_count" bigint NOT NULL DEFAULT 0, "last_used_at" timestamptz NULL, "template_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "user_template_preferences_agent_templates_preferences" FOREIGN KEY ("template_id") REFERENCES "agent_templates" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "user_template_preferences_users_template_preferences" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "usertemplatepreference_user_id" to table: "user_template_preferences"
CREATE INDEX "usertemplatepreference_user_id" ON "user_template_preferences" ("user_id");
-- Create index "usertemplatepreference_user_id_template_id" to table: "user_template_preferences"
CREATE UNIQUE INDEX "usertemplatepreference_user_id_template_id" ON "user_template_preferences" ("user_id", "template_id");
