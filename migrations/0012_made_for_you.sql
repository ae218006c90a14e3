-- "Made for you" (core/made-for-you.ts): a person's opt-in to a weekly short optimize run posted where
-- they opted in (platform, scope, channel). A worker claims a due row (last_run_at older than the
-- interval) with FOR UPDATE SKIP LOCKED and stamps last_run_at in the same transaction, so two workers
-- never start one person's week twice. A week skipped (over quota, nothing rated highly) keeps its reason
-- until the person is told once (skip_told_at). A forget deletes the row.
CREATE TABLE "made_for_you" (
	"user_key" text PRIMARY KEY NOT NULL,
	"platform" text NOT NULL,
	"scope_id" text,
	"channel_id" text NOT NULL,
	"display_name" text NOT NULL,
	"opted_in_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_run_at" timestamp with time zone,
	"last_run_id" text,
	"skip_reason" text,
	"skip_told_at" timestamp with time zone
);--> statement-breakpoint
CREATE INDEX "made_for_you_due_idx" ON "made_for_you" USING btree ("last_run_at" NULLS FIRST);
