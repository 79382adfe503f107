-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_runs" table
CREATE TABLE `new_runs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `input` json NULL, `error` text NULL, `attempts` integer NOT NULL DEFAULT (0), `last_seq` integer NOT NULL DEFAULT (0), `seq_reserved` integer NOT NULL DEFAULT (0), `recoveries` integer NOT NULL DEFAULT (0), `started_at` datetime NULL, `finished_at` datetime NULL, `events` json NULL, `message_id` text NULL, `model_provider` text NULL, `model_name` text NULL, `model_temperature` real NULL, `model_max_tokens` integer NULL, `chat_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `runs_chats_runs` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `runs_users_runs` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "runs" to new temporary table "new_runs"
INSERT INTO `new_runs` (`id`, `created_at`, `updated_at`, `kind`, `status`, `input`, `error`, `attempts`, `started_at`, `finished_at`, `events`, `message_id`, `model_provider`, `model_name`, `model_temperature`, `model_max_tokens`, `chat_id`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `kind`, `status`, `input`, `error`, `attempts`, `started_at`, `finished_at`, `events`, `message_id`, `model_provider`, `model_name`, `model_temperature`, `model_max_tokens`, `chat_id`, `user_id` FROM `runs`;
-- Drop "runs" table after copying rows
DROP TABLE `runs`;
-- Rename temporary table "new_runs" to "runs"
ALTER TABLE `new_runs` RENAME TO `runs`;
-- Create index "run_user_id" to table: "runs"
CREATE INDEX `run_user_id` ON `runs` (`user_id`);
-- Create index "run_status" to table: "runs"
CREATE INDEX `run_status` ON `runs` (`status`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
