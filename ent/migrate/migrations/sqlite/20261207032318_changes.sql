-- Add column "result" to table: "code_executions"
ALTER TABLE `code_executions` ADD COLUMN `result` text NULL;
