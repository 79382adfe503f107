-- Create "output_files" table
CREATE TABLE "output_files" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "size" bigint NOT NULL, "media_type" character varying NOT NULL, "blob_key" character varying NOT NULL, "message_id" character varying NULL, "run_id" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "output_files_messages_output_files" FOREIGN KEY ("message_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "output_files_runs_output_files" FOREIGN KEY ("run_id") REFERENCES "runs" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "output_files_users_output_files" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "outputfile_message_id" to table: "output_files"
CREATE INDEX "outputfile_message_id" ON "output_files" ("message_id");
-- Create index "outputfile_run_id" to table: "output_files"
CREATE INDEX "outputfile_run_id" ON "output_files" ("run_id");
-- Create index "outputfile_user_id" to table: "output_files"
CREATE INDEX "outputfile_user_id" ON "output_files" ("user_id");
