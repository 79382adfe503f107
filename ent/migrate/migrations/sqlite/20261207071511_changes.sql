-- Create "output_files" table
CREATE TABLE `output_files` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `size` integer NOT NULL, `media_type` text NOT NULL, `blob_key` text NOT NULL, `message_id` text NULL, `run_id` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `output_files_messages_output_files` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE CASCADE, CONSTRAINT `output_files_runs_output_files` FOREIGN KEY (`run_id`) REFERENCES `runs` (`id`) ON DELETE SET NULL, CONSTRAINT `output_files_users_output_files` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "outputfile_user_id" to table: "output_files"
CREATE INDEX `outputfile_user_id` ON `output_files` (`user_id`);
-- Create index "outputfile_message_id" to table: "output_files"
CREATE INDEX `outputfile_message_id` ON `output_files` (`message_id`);
-- Create index "outputfile_run_id" to table: "output_files"
CREATE INDEX `outputfile_run_id` ON `output_files` (`run_id`);
