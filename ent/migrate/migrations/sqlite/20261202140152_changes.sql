-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_deep_analysis_reports" table
CREATE TABLE `new_deep_analysis_reports` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `uuid` text NOT NULL, `goal` text NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `start_time` datetime NULL, `end_time` datetime NULL, `duration_seconds` real NULL, `deep_questions` json NULL, `deep_plan` text NOT NULL DEFAULT (''), `summaries` json NULL, `analysis_code` text NOT NULL DEFAULT (''), `plotly_figures` json NULL, `synthesis` text NOT NULL DEFAULT (''), `final_conclusion` text NOT NULL DEFAULT (''), `html_report` text NOT NULL DEFAULT (''), `report_summary` text NOT NULL DEFAULT (''), `progress_percentage` integer NOT NULL DEFAULT (0), `steps_completed` json NULL, `error_message` text NULL, `model_provider` text NOT NULL DEFAULT (''), `model_name` text NOT NULL DEFAULT (''), `total_tokens_used` integer NOT NULL DEFAULT (0), `estimated_cost` real NOT NULL DEFAULT (0), `credits_consumed` integer NOT NULL DEFAULT (0), `chat_id` text NULL, `run_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `deep_analysis_reports_chats_reports` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE SET NULL, CONSTRAINT `deep_analysis_reports_runs_report` FOREIGN KEY (`run_id`) REFERENCES `runs` (`id`) ON DELETE SET NULL, CONSTRAINT `deep_analysis_reports_users_reports` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "deep_analysis_reports" to new temporary table "new_deep_analysis_reports"
INSERT INTO `new_deep_analysis_reports` (`id`, `created_at`, `updated_at`, `uuid`, `goal`, `status`, `start_time`, `end_time`, `duration_seconds`, `deep_questions`, `deep_plan`, `summaries`, `analysis_code`, `plotly_figures`, `synthesis`, `final_conclusion`, `html_report`, `report_summary`, `progress_percentage`, `steps_completed`, `error_message`, `model_provider`, `model_name`, `total_tokens_used`, `estimated_cost`, `credits_consumed`, `chat_id`, `run_id`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `uuid`, `goal`, `status`, `start_time`, `end_time`, `duration_seconds`, `deep_questions`, `deep_plan`, `summaries`, `analysis_code`, `plotly_figures`, `synthesis`, `final_conclusion`, `html_report`, `report_summary`, `progress_percentage`, `steps_completed`, `error_message`, `model_provider`, `model_name`, `total_tokens_used`, `estimated_cost`, `credits_consumed`, `chat_id`, `run_id`, `user_id` FROM `deep_analysis_reports`;
-- Drop "deep_analysis_reports" table after copying rows
DROP TABLE `deep_analysis_reports`;
-- Rename temporary table "new_deep_analysis_reports" to "deep_analysis_reports"
ALTER TABLE `new_deep_analysis_reports` RENAME TO `deep_analysis_reports`;
-- Create index "deep_analysis_reports_uuid_key" to table: "deep_analysis_reports"
CREATE UNIQUE INDEX `deep_analysis_reports_uuid_key` ON `deep_analysis_reports` (`uuid`);
-- Create index "deep_analysis_reports_run_id_key" to table: "deep_analysis_reports"
CREATE UNIQUE INDEX `deep_analysis_reports_run_id_key` ON `deep_analysis_reports` (`run_id`);
-- Create index "deepanalysisreport_user_id" to table: "deep_analysis_reports"
CREATE INDEX `deepanalysisreport_user_id` ON `deep_analysis_reports` (`user_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
