-- Create "agent_templates" table
CREATE TABLE `agent_templates` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `template_name` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `prompt_template` text NOT NULL DEFAULT (''), `icon_url` text NOT NULL DEFAULT (''), `category` text NOT NULL DEFAULT (''), `is_premium_only` bool NOT NULL DEFAULT (false), `variant_type` text NOT NULL DEFAULT ('BOTH'), `base_agent` text NOT NULL DEFAULT (''), `is_active` bool NOT NULL DEFAULT (true), `user_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `agent_templates_users_templates` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "agent_templates_template_name_key" to table: "agent_templates"
CREATE UNIQUE INDEX `agent_templates_template_name_key` ON `agent_templates` (`template_name`);
-- Create "chats" table
CREATE TABLE `chats` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `title` text NOT NULL DEFAULT ('New Chat'), `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `chats_users_chats` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "chat_user_id" to table: "chats"
CREATE INDEX `chat_user_id` ON `chats` (`user_id`);
-- Create "code_executions" table
CREATE TABLE `code_executions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `run_id` text NULL, `initial_code` text NOT NULL, `latest_code` text NOT NULL, `output` text NOT NULL DEFAULT (''), `is_successful` bool NOT NULL DEFAULT (false), `model_provider` text NOT NULL DEFAULT (''), `model_name` text NOT NULL DEFAULT (''), `model_temperature` real NOT NULL DEFAULT (0), `model_max_tokens` integer NOT NULL DEFAULT (0), `failed_agents` json NULL, `error_messages` json NULL, `chat_id` text NULL, `message_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `code_executions_chats_code_executions` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `code_executions_messages_code_execution` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE SET NULL, CONSTRAINT `code_executions_users_code_executions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "code_executions_message_id_key" to table: "code_executions"
CREATE UNIQUE INDEX `code_executions_message_id_key` ON `code_executions` (`message_id`);
-- Create index "codeexecution_user_id" to table: "code_executions"
CREATE INDEX `codeexecution_user_id` ON `code_executions` (`user_id`);
-- Create "datasets" table
CREATE TABLE `datasets` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `file_name` text NOT NULL, `description` text NOT NULL DEFAULT (''), `format` text NOT NULL DEFAULT ('CSV'), `sheet` text NULL, `size_bytes` integer NOT NULL, `sha256` text NOT NULL, `storage_key` text NOT NULL, `row_count` integer NOT NULL DEFAULT (0), `columns` json NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `datasets_users_datasets` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "dataset_user_id" to table: "datasets"
CREATE INDEX `dataset_user_id` ON `datasets` (`user_id`);
-- Create "deep_analysis_reports" table
CREATE TABLE `deep_analysis_reports` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `uuid` text NOT NULL, `run_id` text NULL, `goal` text NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `start_time` datetime NULL, `end_time` datetime NULL, `duration_seconds` real NULL, `deep_questions` json NULL, `deep_plan` text NOT NULL DEFAULT (''), `summaries` json NULL, `analysis_code` text NOT NULL DEFAULT (''), `plotly_figures` json NULL, `synthesis` text NOT NULL DEFAULT (''), `final_conclusion` text NOT NULL DEFAULT (''), `html_report` text NOT NULL DEFAULT (''), `report_summary` text NOT NULL DEFAULT (''), `progress_percentage` integer NOT NULL DEFAULT (0), `steps_completed` json NULL, `error_message` text NULL, `model_provider` text NOT NULL DEFAULT (''), `model_name` text NOT NULL DEFAULT (''), `total_tokens_used` integer NOT NULL DEFAULT (0), `estimated_cost` real NOT NULL DEFAULT (0), `credits_consumed` integer NOT NULL DEFAULT (0), `chat_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `deep_analysis_reports_chats_reports` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE SET NULL, CONSTRAINT `deep_analysis_reports_users_reports` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "deep_analysis_reports_uuid_key" to table: "deep_analysis_reports"
CREATE UNIQUE INDEX `deep_analysis_reports_uuid_key` ON `deep_analysis_reports` (`uuid`);
-- Create index "deepanalysisreport_user_id" to table: "deep_analysis_reports"
CREATE INDEX `deepanalysisreport_user_id` ON `deep_analysis_reports` (`user_id`);
-- Create "messages" table
CREATE TABLE `messages` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `sender` text NOT NULL, `content` text NOT NULL, `run_id` text NULL, `chat_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `messages_chats_messages` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `messages_users_messages` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "message_user_id" to table: "messages"
CREATE INDEX `message_user_id` ON `messages` (`user_id`);
-- Create index "message_chat_id_created_at" to table: "messages"
CREATE INDEX `message_chat_id_created_at` ON `messages` (`chat_id`, `created_at`);
-- Create "message_feedbacks" table
CREATE TABLE `message_feedbacks` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `rating` integer NOT NULL, `comment` text NOT NULL DEFAULT (''), `model_name` text NOT NULL DEFAULT (''), `model_provider` text NOT NULL DEFAULT (''), `temperature` real NOT NULL DEFAULT (0), `max_tokens` integer NOT NULL DEFAULT (0), `message_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `message_feedbacks_messages_feedback` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE CASCADE, CONSTRAINT `message_feedbacks_users_feedback` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "messagefeedback_user_id" to table: "message_feedbacks"
CREATE INDEX `messagefeedback_user_id` ON `message_feedbacks` (`user_id`);
-- Create index "messagefeedback_user_id_message_id" to table: "message_feedbacks"
CREATE UNIQUE INDEX `messagefeedback_user_id_message_id` ON `message_feedbacks` (`user_id`, `message_id`);
-- Create "model_usages" table
CREATE TABLE `model_usages` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `run_id` text NULL, `step` text NOT NULL DEFAULT (''), `model_name` text NOT NULL, `provider` text NOT NULL, `prompt_tokens` integer NOT NULL DEFAULT (0), `completion_tokens` integer NOT NULL DEFAULT (0), `total_tokens` integer NOT NULL DEFAULT (0), `query_size` integer NOT NULL DEFAULT (0), `response_size` integer NOT NULL DEFAULT (0), `cost` real NOT NULL DEFAULT (0), `is_streaming` bool NOT NULL DEFAULT (false), `request_time_ms` integer NOT NULL DEFAULT (0), `error` text NULL, `chat_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `model_usages_chats_model_usages` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE SET NULL, CONSTRAINT `model_usages_users_model_usages` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "modelusage_user_id" to table: "model_usages"
CREATE INDEX `modelusage_user_id` ON `model_usages` (`user_id`);
-- Create index "modelusage_created_at" to table: "model_usages"
CREATE INDEX `modelusage_created_at` ON `model_usages` (`created_at`);
-- Create index "modelusage_run_id" to table: "model_usages"
CREATE INDEX `modelusage_run_id` ON `model_usages` (`run_id`);
-- Create "runs" table
CREATE TABLE `runs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `input` json NULL, `error` text NULL, `attempts` integer NOT NULL DEFAULT (0), `started_at` datetime NULL, `finished_at` datetime NULL, `events` json NULL, `message_id` text NULL, `chat_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `runs_chats_runs` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `runs_users_runs` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "run_user_id" to table: "runs"
CREATE INDEX `run_user_id` ON `runs` (`user_id`);
-- Create index "run_status" to table: "runs"
CREATE INDEX `run_status` ON `runs` (`status`);
-- Create "sessions" table
CREATE TABLE `sessions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `token_hash` text NOT NULL, `expires_at` datetime NOT NULL, `last_used_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- Create index "session_user_id" to table: "sessions"
CREATE INDEX `session_user_id` ON `sessions` (`user_id`);
-- Create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- Create "users" table
CREATE TABLE `users` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `username` text NOT NULL DEFAULT (''), `email` text NULL, `name` text NOT NULL DEFAULT (''), `password_hash` text NULL, `role` text NOT NULL DEFAULT ('USER'), `plan` text NOT NULL DEFAULT ('FREE'), `is_guest` bool NOT NULL DEFAULT (true), PRIMARY KEY (`id`));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create "user_template_preferences" table
CREATE TABLE `user_template_preferences` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `is_enabled` bool NOT NULL DEFAULT (false), `usage_count` integer NOT NULL DEFAULT (0), `last_used_at` datetime NULL, `template_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `user_template_preferences_agent_templates_preferences` FOREIGN KEY (`template_id`) REFERENCES `agent_templates` (`id`) ON DELETE CASCADE, CONSTRAINT `user_template_preferences_users_template_preferences` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "usertemplatepreference_user_id" to table: "user_template_preferences"
CREATE INDEX `usertemplatepreference_user_id` ON `user_template_preferences` (`user_id`);
-- Create index "usertemplatepreference_user_id_template_id" to table: "user_template_preferences"
CREATE UNIQUE INDEX `usertemplatepreference_user_id_template_id` ON `user_template_preferences` (`user_id`, `template_id`);
-- Create "chat_datasets" table
CREATE TABLE `chat_datasets` (`chat_id` text NOT NULL, `dataset_id` text NOT NULL, PRIMARY KEY (`chat_id`, `dataset_id`), CONSTRAINT `chat_datasets_chat_id` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `chat_datasets_dataset_id` FOREIGN KEY (`dataset_id`) REFERENCES `datasets` (`id`) ON DELETE CASCADE);
