ALTER TABLE "runs" ADD COLUMN "display_ended_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "candidates_images_recent_idx" ON "candidates" USING btree ("created_at") WHERE image_id is not null;--> statement-breakpoint
CREATE INDEX "outbox_undelivered_idx" ON "outbox" USING btree ("id") WHERE delivered_at is null;--> statement-breakpoint
CREATE INDEX "outbox_delivered_idx" ON "outbox" USING btree ("delivered_at") WHERE delivered_at is not null;--> statement-breakpoint
CREATE INDEX "processed_events_created_idx" ON "processed_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "rating_events_received_idx" ON "rating_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "runs_feed_idx" ON "runs" USING btree (("destination"->>'platform')) WHERE display_ended_at is null and destination ? 'threadId';--> statement-breakpoint
CREATE INDEX "runs_user_idx" ON "runs" USING btree ("user_key");--> statement-breakpoint
CREATE INDEX "runs_scope_idx" ON "runs" USING btree ("scope_id","status");