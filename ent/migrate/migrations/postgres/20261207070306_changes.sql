-- Modify "runs" table
ALTER TABLE "runs" ADD COLUMN "credits" bigint NOT NULL DEFAULT 0;
-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "credit_allowance" bigint NULL;
-- Create "plan_allowances" table
CREATE TABLE "plan_allowances" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "plan" character varying NOT NULL, "credits" bigint NOT NULL, PRIMARY KEY ("id"));
-- Create index "planallowance_plan" to table: "plan_allowances"
CREATE UNIQUE INDEX "planallowance_plan" ON "plan_allowances" ("plan");
-- Create "credit_usages" table
CREATE TABLE "credit_usages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "period" character varying NOT NULL, "used" bigint NOT NULL DEFAULT 0, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "credit_usages_users_credit_usages" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create index "creditusage_period" to table: "credit_usages"
CREATE INDEX "creditusage_period" ON "credit_usages" ("period");
-- Create index "creditusage_user_id" to table: "credit_usages"
CREATE INDEX "creditusage_user_id" ON "credit_usages" ("user_id");
-- Create index "creditusage_user_id_period" to table: "credit_usages"
CREATE UNIQUE INDEX "creditusage_user_id_period" ON "credit_usages" ("user_id", "period");
