-- runs.display_ended_at mirrors the run's done marker: the platform message with event key
-- `<run id>:end:done` on the run's destination platform (platforms/run-display.ts records it once the
-- closing notice is out). The database keeps the two in step for every writer (a marker recorded, or
-- deleted to replay a run), so the run feed's partial index (runs_feed_idx) holds only runs still
-- being shown.
CREATE FUNCTION "runs_sync_display_ended"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') AND OLD."event_key" LIKE '%:end:done' THEN
    UPDATE "runs" SET "display_ended_at" = NULL
     WHERE "id" = left(OLD."event_key", -length(':end:done')) AND "destination"->>'platform' = OLD."platform";
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW."event_key" LIKE '%:end:done' THEN
    UPDATE "runs" SET "display_ended_at" = NEW."created_at"
     WHERE "id" = left(NEW."event_key", -length(':end:done')) AND "destination"->>'platform' = NEW."platform";
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "platform_messages_display_ended" AFTER INSERT OR DELETE OR UPDATE OF "event_key", "platform" ON "platform_messages"
  FOR EACH ROW EXECUTE FUNCTION "runs_sync_display_ended"();--> statement-breakpoint
-- Runs already shown to their end leave the feed at once.
UPDATE "runs" r SET "display_ended_at" = pm."created_at" FROM "platform_messages" pm
 WHERE pm."platform" = r."destination"->>'platform' AND pm."event_key" = r."id" || ':end:done';
