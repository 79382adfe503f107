-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_code_executions" table
CREATE TABLE `new_code_executions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `run_id` text NULL, `initial_code` text NOT NULL, `latest_code` text NOT NULL, `output` text NOT NULL DEFAULT (''), `is_successful` bool NOT NULL DEFAULT (false), `model_provider` text NOT NULL DEFAULT (''), `model_name` text NOT NULL DEFAULT (''), `model_temperature` real NOT NULL DEFAULT (0), `model_max_tokens` integer NOT NULL DEFAULT (0), `failed_agents` json NULL, `error_messages` json NULL, `correction_summary` text NOT NULL DEFAULT (''), `chat_id` text NULL, `message_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `code_executions_chats_code_executions` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `code_executions_messages_code_execution` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE SET NULL, CONSTRAINT `code_executions_users_code_executions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "code_executions" to new temporary table "new_code_executions"
INSERT INTO `new_code_executions` (`id`, `created_at`, `updated_at`, `run_id`, `initial_code`, `latest_code`, `output`, `is_successful`, `model_provider`, `model_name`, `model_temperature`, `model_max_tokens`, `failed_agents`, `error_messages`, `chat_id`, `message_id`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `run_id`, `initial_code`, `latest_code`, `output`, `is_successful`, `model_provider`, `model_name`, `model_temperature`, `model_max_tokens`, `failed_agents`, `error_messages`, `chat_id`, `message_id`, `user_id` FROM `code_executions`;
-- Drop "code_executions" table after copying rows
DROP TABLE `code_executions`;
-- Rename temporary table "new_code_executions" to "code_executions"
ALTER TABLE `new_code_executions` RENAME TO `code_executions`;
-- Create index "code_executions_message_id_key" to table: "code_executions"
CREATE UNIQUE INDEX `code_executions_message_id_key` ON `code_executions` (`message_id`);
-- Create index "codeexecution_user_id" to table: "code_executions"
CREATE INDEX `codeexecution_user_id` ON `code_executions` (`user_id`);
-- Create "new_messages" table
CREATE TABLE `new_messages` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `sender` text NOT NULL, `content` text NOT NULL, `run_id` text NULL, `summary` text NOT NULL DEFAULT (''), `chat_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `messages_chats_messages` FOREIGN KEY (`chat_id`) REFERENCES `chats` (`id`) ON DELETE CASCADE, CONSTRAINT `messages_users_messages` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "messages" to new temporary table "new_messages"
INSERT INTO `new_messages` (`id`, `created_at`, `updated_at`, `sender`, `content`, `run_id`, `chat_id`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `sender`, `content`, `run_id`, `chat_id`, `user_id` FROM `messages`;
-- Drop "messages" table after copying rows
DROP TABLE `messages`;
-- Rename temporary table "new_messages" to "messages"
ALTER TABLE `new_messages` RENAME TO `messages`;
-- Create index "message_user_id" to table: "messages"
CREATE INDEX `message_user_id` ON `messages` (`user_id`);
-- Create index "message_chat_id_created_at" to table: "messages"
CREATE INDEX `message_chat_id_created_at` ON `messages` (`chat_id`, `created_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
