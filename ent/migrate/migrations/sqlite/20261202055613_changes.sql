-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_agent_templates" table
CREATE TABLE `new_agent_templates` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `template_name` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `description` text NOT NULL DEFAULT (''), `prompt_template` text NOT NULL DEFAULT (''), `icon_url` text NOT NULL DEFAULT (''), `category` text NOT NULL DEFAULT (''), `is_premium_only` bool NOT NULL DEFAULT (false), `variant_type` text NOT NULL DEFAULT ('BOTH'), `base_agent` text NOT NULL DEFAULT (''), `is_active` bool NOT NULL DEFAULT (true), `default_enabled` bool NOT NULL DEFAULT (false), `usage_count` integer NOT NULL DEFAULT (0), `user_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `agent_templates_users_templates` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Copy rows from old table "agent_templates" to new temporary table "new_agent_templates"
INSERT INTO `new_agent_templates` (`id`, `created_at`, `updated_at`, `template_name`, `display_name`, `description`, `prompt_template`, `icon_url`, `category`, `is_premium_only`, `variant_type`, `base_agent`, `is_active`, `user_id`) SELECT `id`, `created_at`, `updated_at`, `template_name`, `display_name`, `description`, `prompt_template`, `icon_url`, `category`, `is_premium_only`, `variant_type`, `base_agent`, `is_active`, `user_id` FROM `agent_templates`;
-- Drop "agent_templates" table after copying rows
DROP TABLE `agent_templates`;
-- Rename temporary table "new_agent_templates" to "agent_templates"
ALTER TABLE `new_agent_templates` RENAME TO `agent_templates`;
-- Create index "agenttemplate_user_id_template_name" to table: "agent_templates"
CREATE UNIQUE INDEX `agenttemplate_user_id_template_name` ON `agent_templates` (`user_id`, `template_name`);
-- Create index "agenttemplate_builtin_name" to table: "agent_templates"
CREATE UNIQUE INDEX `agenttemplate_builtin_name` ON `agent_templates` (`template_name`) WHERE user_id IS NULL;
-- Create index "message_feedbacks_message_id_key" to table: "message_feedbacks"
CREATE UNIQUE INDEX `message_feedbacks_message_id_key` ON `message_feedbacks` (`message_id`);
-- Add column "model_provider" to table: "runs"
ALTER TABLE `runs` ADD COLUMN `model_provider` text NULL;
-- Add column "model_name" to table: "runs"
ALTER TABLE `runs` ADD COLUMN `model_name` text NULL;
-- Add column "model_temperature" to table: "runs"
ALTER TABLE `runs` ADD COLUMN `model_temperature` real NULL;
-- Add column "model_max_tokens" to table: "runs"
ALTER TABLE `runs` ADD COLUMN `model_max_tokens` integer NULL;
-- Add column "model_provider" to table: "users"
ALTER TABLE `users` ADD COLUMN `model_provider` text NULL;
-- Add column "model_name" to table: "users"
ALTER TABLE `users` ADD COLUMN `model_name` text NULL;
-- Add column "model_temperature" to table: "users"
ALTER TABLE `users` ADD COLUMN `model_temperature` real NULL;
-- Add column "model_max_tokens" to table: "users"
ALTER TABLE `users` ADD COLUMN `model_max_tokens` integer NULL;
-- Add column "model_api_key" to table: "users"
ALTER TABLE `users` ADD COLUMN `model_api_key` blob NULL;
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
