-- Modify "code_executions" table
ALTER TABLE "code_executions" ADD COLUMN "result" text NULL;
