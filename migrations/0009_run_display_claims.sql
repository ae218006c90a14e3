-- Which process shows a run on a platform (platforms/run-display.ts): two processes that read the same
-- platform's run feed (Slack web replicas, gateways in a rolling update) post a run's events only while
-- they hold its claim, so no event is posted twice by two processes at once. Taken and renewed by one
-- conditional upsert (db/run-display-claims.ts); expires_at is on the database's clock, so a holder that
-- died is replaced once it passes; the holder deletes the row when the run's display ends.
CREATE TABLE "run_display_claims" (
	"platform" text NOT NULL,
	"run_id" text NOT NULL,
	"holder" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "run_display_claims_platform_run_id_pk" PRIMARY KEY("platform","run_id")
);--> statement-breakpoint
ALTER TABLE "run_display_claims" ADD CONSTRAINT "run_display_claims_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;
