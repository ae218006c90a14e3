-- Several rating events in one statement (group commit, src/core/vote-batcher.ts): when every connection
-- of the pool is busy, the votes waiting are sent together, so they share one round trip and one commit
-- (one WAL flush) instead of one each. Each vote is applied by tasteloop_apply_vote (migrations/0006)
-- exactly as when sent alone, one after another inside this transaction, so a later vote of the batch
-- sees an earlier one.
--
-- p_votes is a JSON array of objects named like tasteloop_apply_vote's parameters without the p_
-- prefix, plus "i", the vote's place in the caller's batch, which its answer row repeats. Votes are
-- applied in (user_key, image_id, i) order: every batch takes its advisory locks in the same order, so
-- two batches never wait for each other in a cycle (on a hashtext collision PostgreSQL's deadlock
-- detector ends one, and the caller retries), and one image's votes keep the order they were sent in.
-- event_id is the rating_events row a change added (null when nothing changed).
CREATE FUNCTION tasteloop_apply_votes(p_votes jsonb)
RETURNS TABLE (i integer, outcome text, before_score smallint, after_score smallint, event_id bigint) LANGUAGE plpgsql AS $$
DECLARE
  v record;
  r record;
BEGIN
  FOR v IN
    SELECT * FROM jsonb_to_recordset(p_votes) AS x(
      i integer, user_key text, forget_hash text, image_id text, kind text, score smallint, event_time timestamptz,
      source text, scope_id text, channel_id text, message_id text,
      platform text, workspace_id text, platform_user_id text, display_name text)
    ORDER BY x.user_key, x.image_id, x.i
  LOOP
    SELECT * INTO r FROM tasteloop_apply_vote(
      v.user_key, v.forget_hash, v.image_id, v.kind, v.score, v.event_time,
      v.source, v.scope_id, v.channel_id, v.message_id,
      v.platform, v.workspace_id, v.platform_user_id, v.display_name);
    i := v.i;
    outcome := r.outcome;
    before_score := r.before_score;
    after_score := r.after_score;
    event_id := CASE WHEN r.outcome = 'changed' THEN currval(pg_get_serial_sequence('rating_events', 'id')) END;
    RETURN NEXT;
  END LOOP;
END $$;
