-- Modify "deep_analysis_reports" table
ALTER TABLE "deep_analysis_reports" ADD CONSTRAINT "deep_analysis_reports_runs_report" FOREIGN KEY ("run_id") REFERENCES "runs" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
-- Create index "deep_analysis_reports_run_id_key" to table: "deep_analysis_reports"
CREATE UNIQUE INDEX "deep_analysis_reports_run_id_key" ON "deep_analysis_reports" ("run_id");
