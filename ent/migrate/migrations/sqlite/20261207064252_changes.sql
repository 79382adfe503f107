-- Add column "follow_ups" to table: "messages"
ALTER TABLE `messages` ADD COLUMN `follow_ups` json NULL;
