-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "credit_allowance" to table: "users"
ALTER TABLE `users` ADD COLUMN `credit_allowance` integer NULL;
-- Create "new_runs" table
CREATE TABLE `new_runs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `input` json NULL, `error` text NULL, `attempts` integer NOT NULL DEFAULT (0), `last_seq` integer NOT NULL DEFAULT (0), `seq_reserved` integer NOT NULL DEFAULT (0), `recoveries` integer NOT NULL DEFAULT (0), `started_at` datetime NULL, `finished_at` datetime NULL, `events` json NULL, `message_id` text NULL, `model_provider` text NULL, `model_name` text NULL, `model_temperature` real NULL, `model_max_tokens` integer NULL, `credits` integer NOT NULL DEFAULT (0), `chat_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `runs_chats_runs` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `runs_users_runs` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "runs" to new temporary table "new_runs"
INSERT INTO `new_runs` (`id`, `created_at`, `updated_at`, `kind`, `status`, `input`, `error`, `attempts`, `last_seq`, `seq_reserved`, `recoveries`, `started_at`, `finished_at`, `events`, `message_id`, `model_provider`, `model_name`, `model_temperature`, `model_max_tokens`, `chat_id`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `kind`, `status`, `input`, `error`, `attempts`, `last_seq`, `seq_reserved`, `recoveries`, `started_at`, `finished_at`, `events`, `message_id`, `model_provider`, `model_name`, `model_temperature`, `model_max_tokens`, `chat_id`, `user_id` FROM `runs`;
-- Drop "runs" table after copying rows
DROP TABLE `runs`;
-- Rename temporary table "new_runs" to "runs"
ALTER TABLE `new_runs` RENAME TO `runs`;
-- Create index "run_user_id" to table: "runs"
CREATE INDEX `run_user_id` ON `runs` (`user_id`);
-- Create index "run_status" to table: "runs"
CREATE INDEX `run_status` ON `runs` (`status`);
-- Create "credit_usages" table
CREATE TABLE `credit_usages` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `period` text NOT NULL, `used` integer NOT NULL DEFAULT (0), `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `credit_usages_users_credit_usages` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "creditusage_user_id" to table: "credit_usages"
CREATE INDEX `creditusage_user_id` ON `credit_usages` (`user_id`);
-- Create index "creditusage_user_id_period" to table: "credit_usages"
CREATE UNIQUE INDEX `creditusage_user_id_period` ON `credit_usages` (`user_id`, `period`);
-- Create index "creditusage_period" to table: "credit_usages"
CREATE INDEX `creditusage_period` ON `credit_usages` (`period`);
-- Create "plan_allowances" table
CREATE TABLE `plan_allowances` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `plan` text NOT NULL, `credits` integer NOT NULL, PRIMARY KEY (`id`));
-- Create index "planallowance_plan" to table: "plan_allowances"
CREATE UNIQUE INDEX `planallowance_plan` ON `plan_allowances` (`plan`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
