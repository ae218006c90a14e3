-- One rating event in one statement (src/core/ratings.ts): the ledger calls tasteloop_apply_vote once,
-- outside any explicit transaction, so a rating costs one round trip and one commit.
-- The advisory-lock namespaces (7281001 person, 7281002 vote) are the ones src/core/ratings.ts uses for
-- its other callers. The change is announced (pg_notify) by the caller after the commit, in batches
-- (src/core/rating-announcer.ts): a notifying transaction's commit is serialized server-wide.

-- Records a person and the scope they were seen in, writing only what is new: the users row when the
-- person is unknown or brings a new name, the user_scopes row when it is missing or its last_seen_at
-- is over a minute old. Most events come from people seen a moment ago, so most calls write nothing.
CREATE FUNCTION tasteloop_record_person(
  p_user_key text, p_platform text, p_workspace_id text, p_platform_user_id text, p_display_name text, p_scope_id text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM users WHERE user_key = p_user_key AND (p_display_name IS NULL OR display_name = p_display_name);
  IF NOT FOUND THEN
    INSERT INTO users (user_key, platform, workspace_id, platform_user_id, display_name)
    VALUES (p_user_key, p_platform, p_workspace_id, p_platform_user_id, p_display_name)
    -- Keep the last known name when an event carries none; never touch share_profile here.
    ON CONFLICT (user_key) DO UPDATE SET display_name = coalesce(excluded.display_name, users.display_name);
  END IF;
  IF coalesce(p_scope_id, '') <> '' THEN
    PERFORM 1 FROM user_scopes
      WHERE user_key = p_user_key AND scope_id = p_scope_id AND last_seen_at > now() - interval '1 minute';
    IF NOT FOUND THEN
      INSERT INTO user_scopes (user_key, scope_id) VALUES (p_user_key, p_scope_id)
      ON CONFLICT (user_key, scope_id) DO UPDATE SET last_seen_at = now();
    END IF;
  END IF;
END $$;
--> statement-breakpoint

-- touchPerson in one statement: under the person's shared lock (a forget holds it exclusively), false
-- for a forgotten person (nothing written), else the person is recorded and it answers true.
CREATE FUNCTION tasteloop_touch_person(
  p_user_key text, p_forget_hash text, p_platform text, p_workspace_id text, p_platform_user_id text,
  p_display_name text, p_scope_id text
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7281001, hashtext(p_user_key));
  IF EXISTS (SELECT 1 FROM forgotten_users WHERE user_key_hash = p_forget_hash) THEN
    RETURN false;
  END IF;
  PERFORM tasteloop_record_person(p_user_key, p_platform, p_workspace_id, p_platform_user_id, p_display_name, p_scope_id);
  RETURN true;
END $$;
--> statement-breakpoint

-- Applies one vote event (add or remove of the vote p_score on an image) by the rules of
-- src/core/vote-rules.ts and answers (outcome, before_score, after_score), outcome being
-- 'forgotten' | 'unknown_image' | 'unchanged' | 'changed'. With p_platform set it records the person
-- first (tasteloop_record_person), also when the vote then changes nothing.
--
-- The person's shared lock and the (person, image) lock come first, so every read below sees all
-- committed before; the vote upsert still carries the event-time guard, so the database itself never
-- lets an older event overwrite a newer one. A change writes its audit row (the person's ledger
-- version).
CREATE FUNCTION tasteloop_apply_vote(
  p_user_key text, p_forget_hash text, p_image_id text, p_kind text, p_score smallint, p_event_time timestamptz,
  p_source text, p_scope_id text, p_channel_id text, p_message_id text,
  p_platform text, p_workspace_id text, p_platform_user_id text, p_display_name text
) RETURNS TABLE (outcome text, before_score smallint, after_score smallint) LANGUAGE plpgsql AS $$
DECLARE
  prev rating_votes%ROWTYPE;
  bef rating_votes%ROWTYPE;
  aft rating_votes%ROWTYPE;
  present_now boolean := p_kind = 'add';
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7281001, hashtext(p_user_key)),
          pg_advisory_xact_lock(7281002, hashtext(p_user_key || '|' || p_image_id));
  IF EXISTS (SELECT 1 FROM forgotten_users WHERE user_key_hash = p_forget_hash) THEN
    RETURN QUERY SELECT 'forgotten'::text, NULL::smallint, NULL::smallint;
    RETURN;
  END IF;
  IF p_platform IS NOT NULL THEN
    PERFORM tasteloop_record_person(p_user_key, p_platform, p_workspace_id, p_platform_user_id, p_display_name, p_scope_id);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM images WHERE id = p_image_id) THEN
    RETURN QUERY SELECT 'unknown_image'::text, NULL::smallint, NULL::smallint;
    RETURN;
  END IF;

  SELECT * INTO prev FROM rating_votes v
    WHERE v.user_key = p_user_key AND v.image_id = p_image_id AND v.score = p_score;
  -- The effective vote: present, newest event time, equal times resolved to the higher score.
  SELECT * INTO bef FROM rating_votes v
    WHERE v.user_key = p_user_key AND v.image_id = p_image_id AND v.present
    ORDER BY v.event_time DESC, v.score DESC LIMIT 1;
  -- Strictly newer only: an equal time is a duplicate (or an unordered twin), the first one wins.
  IF prev.user_key IS NOT NULL AND p_event_time <= prev.event_time THEN
    RETURN QUERY SELECT 'unchanged'::text, bef.score, bef.score;
    RETURN;
  END IF;

  INSERT INTO rating_votes AS v (user_key, image_id, score, present, event_time, source, scope_id, channel_id, message_id)
  VALUES (p_user_key, p_image_id, p_score, present_now, p_event_time, p_source, p_scope_id, p_channel_id, p_message_id)
  ON CONFLICT (user_key, image_id, score) DO UPDATE SET
    present = excluded.present, event_time = excluded.event_time, source = excluded.source,
    scope_id = excluded.scope_id, channel_id = excluded.channel_id, message_id = excluded.message_id
  WHERE excluded.event_time > v.event_time;

  SELECT * INTO aft FROM rating_votes v
    WHERE v.user_key = p_user_key AND v.image_id = p_image_id AND v.present
    ORDER BY v.event_time DESC, v.score DESC LIMIT 1;
  -- The effective rating row follows the effective vote (its time and place too, when it falls back).
  IF bef.score IS DISTINCT FROM aft.score OR bef.event_time IS DISTINCT FROM aft.event_time THEN
    IF aft.user_key IS NULL THEN
      DELETE FROM ratings r WHERE r.user_key = p_user_key AND r.image_id = p_image_id;
    ELSE
      INSERT INTO ratings AS r (user_key, image_id, score, event_time, source, scope_id, channel_id, message_id)
      VALUES (p_user_key, p_image_id, aft.score, aft.event_time, aft.source, aft.scope_id, aft.channel_id, aft.message_id)
      ON CONFLICT (user_key, image_id) DO UPDATE SET
        score = excluded.score, event_time = excluded.event_time, source = excluded.source, scope_id = excluded.scope_id,
        channel_id = excluded.channel_id, message_id = excluded.message_id, updated_at = now();
    END IF;
  END IF;

  -- Applied but invisible (a remove of a vote already taken back or never given, an add repeated later):
  -- no audit row, nothing to announce.
  IF coalesce(prev.present, false) = present_now AND bef.score IS NOT DISTINCT FROM aft.score THEN
    RETURN QUERY SELECT 'unchanged'::text, aft.score, aft.score;
    RETURN;
  END IF;
  INSERT INTO rating_events (user_key, image_id, kind, score, event_time, effective_score, source, scope_id, channel_id, message_id)
  VALUES (p_user_key, p_image_id, p_kind, p_score, p_event_time, aft.score, p_source, p_scope_id, p_channel_id, p_message_id);
  RETURN QUERY SELECT 'changed'::text, bef.score, aft.score;
END $$;
