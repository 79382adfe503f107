-- Modify "code_executions" table
ALTER TABLE "code_executions" ADD COLUMN "correction_summary" text NOT NULL DEFAULT '';
-- Modify "messages" table
ALTER TABLE "messages" ADD COLUMN "summary" text NOT NULL DEFAULT '';
