/**
 * Neutral messages → Slack messages. Images go up with files.uploadV2 into the channel / the run's
 * thread, and the message `ts` that carries the file is read back from files.info (`shares`) so
 * reactions find the image via platform_messages. Run messages carry their outbox event key
 * (event-marks.ts) and are looked for in the history before a repeat (Conversation.findPosted).
 */
import type { Logger } from 'pino';
import type { Conversation, OutFile } from '../../../commands/kit/types';
import type { Services } from '../../core/services';
import { encodeForUpload } from '../discord/upload';
import { RATING_SLACK_NAMES } from '../emoji';
import { recordPosted } from '../record';
import { PLATFORM, type SlackContext, type SlackState } from './context';
import { eventMetadata, markedTextBlocks } from './event-marks';
import { detailsBlock, pickBlock, tileBlocks, type ActionsBlock } from './grid-blocks';
import { postedIndexReader } from './history';
import type { ChannelQueue } from './queue';
import { parseSlackMessageId, slackConversationId, slackMessageId, toSlackText } from './text';
import type { WebClient } from './web-client';

export interface OutgoingDeps {
  web: WebClient;
  queue: ChannelQueue;
  services: Services;
  log: Logger;
  state: SlackState;
  /** Delay between files.info polls while Slack shares an upload. */
  sharePollMs: number;
}

export function slackOutgoing(deps: OutgoingDeps): Pick<SlackContext, 'conversation' | 'uploadFiles'> {
  const { web, queue, services } = deps;
  const readPostedIndex = postedIndexReader(deps);
  const uploadFiles = (channel: string, threadTs: string | undefined, files: OutFile[], comment?: string) =>
    uploadExtraFiles(deps, channel, threadTs, files, comment);

  async function postMessage(
    channel: string,
    threadTs: string | undefined,
    text: string,
    key: string | undefined,
    controls: ActionsBlock[] = [],
  ): Promise<string> {
    const res = await queue.run(channel, 'post', () =>
      web.chat.postMessage({
        channel,
        thread_ts: threadTs,
        text,
        ...(controls.length ? { blocks: [...sectionBlocks(text, key), ...controls] } : {}),
        mrkdwn: true,
        link_names: false,
        unfurl_links: false,
        unfurl_media: false,
        ...(key ? { metadata: eventMetadata(key) } : {}),
      }),
    );
    if (!res.ts) throw new Error('chat.postMessage returned no ts');
    return res.ts;
  }

  async function postImage(
    channel: string,
    threadTs: string | undefined,
    text: string,
    key: string | undefined,
    image: { imageId: string } | { png: Buffer; name: string },
    controls: ActionsBlock[] = [],
  ): Promise<string> {
    const png = 'png' in image ? image.png : await encodeForUpload(await services.images.readBytes(image.imageId));
    // A run's image: its text goes in a section block marked with the event key (a share cannot carry
    // metadata); controls (a grid's tile menus, a summary's Details button) follow it.
    const caption = key || controls.length ? { blocks: [...sectionBlocks(text, key), ...controls] } : { initial_comment: text };
    const res = (await queue.run(channel, 'post', () =>
      web.files.uploadV2({
        channel_id: channel,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        ...caption,
        file: png,
        filename: 'png' in image ? image.name : 'tasteloop.png',
        title: 'Tasteloop image',
        alt_text: 'An image to rate',
      } as Parameters<WebClient['files']['uploadV2']>[0]),
    )) as { files?: { files?: { id?: string }[] }[] };
    const fileId = res.files?.[0]?.files?.[0]?.id;
    if (!fileId) throw new Error('files.uploadV2 returned no file id');
    return findShareTs(deps, fileId, channel);
  }

  /** `sinceTs`: channel conversations only read history from there on (a run's notice comes after its thread). */
  function conversation(
    channel: string,
    threadTs: string | undefined,
    scopeId: string | undefined,
    label?: string,
    sinceTs?: string,
  ): Conversation {
    /** Read once per conversation object (RunDisplay makes one per batch of a run's events). */
    let posted: ReturnType<typeof readPostedIndex> | null = null;
    return {
      id: slackConversationId(channel, threadTs),
      mention: label ?? 'this channel',
      async post(msg) {
        const key = msg.idempotencyKey;
        // Slack has no collapsible text: the Details toggle is a button answering with them privately.
        const text = toSlackText(msg.text);
        const controls = messageControls(msg);
        // A grid's picture is the message itself (its tile menus or pick buttons under it); other files follow the message.
        const gridPicture = msg.grid || msg.pick ? msg.files?.find((f) => f.contentType === 'image/png') : undefined;
        const files = msg.files?.filter((f) => f !== gridPicture);
        const ts = msg.image
          ? await postImage(channel, threadTs, text, key, { imageId: msg.image.imageId }, controls)
          : gridPicture
            ? await postImage(channel, threadTs, text, key, { png: gridPicture.data, name: gridPicture.name }, controls)
            : await postMessage(channel, threadTs, text, key, controls);
        const messageId = slackMessageId(channel, ts);
        if (files?.length) await uploadFiles(channel, threadTs, files);
        await recordPosted(services, PLATFORM, { messageId, channelId: channel, scopeId }, msg);
        if (msg.image?.rateable) await addRatingControls(deps, channel, ts);
        return messageId;
      },
      async findPosted(msg) {
        if (!msg.idempotencyKey) return undefined;
        const index = await (posted ??= readPostedIndex(channel, threadTs, sinceTs));
        const ts = index?.find(msg.idempotencyKey);
        if (!ts) return undefined;
        const messageId = slackMessageId(channel, ts);
        await recordPosted(services, PLATFORM, { messageId, channelId: channel, scopeId }, msg);
        // The crash may have come before every rating reaction was added.
        if (msg.image?.rateable) await addRatingControls(deps, channel, ts);
        return messageId;
      },
      async edit(messageId, msg) {
        const { channel: ch, ts } = parseSlackMessageId(messageId);
        await queue.run(ch, 'call', () => web.chat.update({ channel: ch, ts, text: toSlackText(msg.text) }));
      },
      async remove(messageId) {
        const { channel: ch, ts } = parseSlackMessageId(messageId);
        await queue
          .run(ch, 'call', () => web.chat.delete({ channel: ch, ts }))
          .catch((err: unknown) => {
            if ((err as { data?: { error?: string } }).data?.error !== 'message_not_found') throw err;
          });
      },
    };
  }

  return { conversation, uploadFiles };
}

/** A message's controls: a grid's tile menus, a pick's buttons, a summary's Details button. */
function messageControls(msg: Parameters<Conversation['post']>[0]): ActionsBlock[] {
  return [
    ...(msg.grid ? tileBlocks(msg.grid) : []),
    ...(msg.pick ? [pickBlock(msg.pick)] : []),
    ...(msg.details && msg.runId ? [detailsBlock(msg.runId)] : []),
  ];
}

/** The text as section blocks, marked with the run event key when there is one. */
function sectionBlocks(text: string, key: string | undefined): { type: 'section'; text: { type: 'mrkdwn'; text: string } }[] {
  return key ? markedTextBlocks(text, key) : [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) || ' ' } }];
}

/** Where a file upload became a message: Slack shares uploads asynchronously, so poll files.info. */
async function findShareTs(deps: OutgoingDeps, fileId: string, channel: string): Promise<string> {
  const { web, queue } = deps;
  for (let attempt = 0; attempt < 25; attempt++) {
    const info = (await queue.run('files.info', 'call', () => web.files.info({ file: fileId }))) as {
      file?: { shares?: Record<string, Record<string, { ts: string }[]> | undefined> };
    };
    const shares = info.file?.shares;
    const ts = shares?.public?.[channel]?.[0]?.ts ?? shares?.private?.[channel]?.[0]?.ts;
    if (ts) return ts;
    await new Promise((r) => setTimeout(r, deps.sharePollMs * Math.min(1 + attempt, 5)));
  }
  throw new Error(`Slack did not report the message of file ${fileId} in ${channel}`);
}

async function uploadExtraFiles(
  deps: OutgoingDeps,
  channel: string,
  threadTs: string | undefined,
  files: OutFile[],
  comment?: string,
): Promise<void> {
  await deps.queue.run(channel, 'post', () =>
    deps.web.files.uploadV2({
      channel_id: channel,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      ...(comment ? { initial_comment: comment } : {}),
      file_uploads: files.map((f) => ({ file: f.data, filename: f.name })),
    }),
  );
}

/** The :one: … :keycap_ten: rating reactions, in order so people see 1…10 (again after a crash: already_reacted is fine). */
async function addRatingControls(deps: OutgoingDeps, channel: string, ts: string): Promise<void> {
  // Not paced like posts (reactions.add has its own, larger tier).
  for (const name of RATING_SLACK_NAMES) {
    await deps.queue
      .run(channel, 'call', () => deps.web.reactions.add({ channel, timestamp: ts, name }))
      .catch((err: unknown) => {
        if ((err as { data?: { error?: string } }).data?.error !== 'already_reacted') throw err;
      });
  }
}
