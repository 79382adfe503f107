-- Create index "message_run_id" to table: "messages"
CREATE INDEX "message_run_id" ON "messages" ("run_id");
