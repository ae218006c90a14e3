/**
 * The command kit's vocabulary: what a command handler writes (platform-neutral messages into
 * Conversations) and everything it may touch (CommandContext). Commands speak only these terms;
 * each platform translates them — a Discord message, a Slack `chat.postMessage` and a playground
 * bubble are all a `Conversation.post`; Discord's 1️⃣…🔟 reactions, Slack's :one:…:keycap_ten:
 * reactions and the playground's buttons are all `rateable`.
 *
 * Shaped so Slack fits too: posting an image = files.uploadV2 into a channel/thread, edits =
 * chat.update, threads = a parent message whose `ts` is the thread id.
 */
import type { Logger } from 'pino';
import type { PersonRef, Platform } from '../../src/core/identity';
import type { Services, StartRunRequest } from '../../src/core/services';

/** What a message in a conversation is, so reactions and restarts can find it again (platform_messages.kind). */
export type MessageKind = 'rate' | 'candidate' | 'header' | 'progress' | 'summary' | 'iteration' | 'info' | 'best' | 'grid' | 'pick';

/** One candidate of a run's iteration grid (see OutGrid). */
export interface OutGridTile {
  /** 1-based number shown on the tile and on its controls. */
  number: number;
  /** The image (sha256 hex); null when the candidate has none to show (skipped, withheld): no controls then. */
  imageId: string | null;
  score: number | null;
  prompt: string;
  /** Why a tile has no image, written on its grey tile. */
  missingReason?: string;
}

/**
 * A run's iteration as one picture of numbered tiles with per-tile controls: rate 1–10, "more like
 * this" (a new run from the tile's prompt), "bigger" (the image full size in the thread). Platforms
 * attach the picture (src/platforms/run-pictures.ts) and render one control per tile whose value
 * carries the image id, so a click needs no client cache and survives restarts.
 */
export interface OutGrid {
  runId: string;
  iteration: number;
  tiles: OutGridTile[];
}

/**
 * Images to pick one of (/rate mode:pick): the grid picture of numbered tiles is attached as a file by
 * the command, and platforms render one pick control per tile (Discord and Slack buttons, playground
 * buttons) carrying the offer id and the tile's number, so a click needs no cache and survives restarts.
 */
export interface OutPick {
  offerId: string;
  /** The images in tile order (tile number = index + 1). */
  imageIds: string[];
}

/** Best and mean predicted score per iteration, drawn as a small line chart under a run's summary. */
export interface OutScorePoint {
  iteration: number;
  best: number;
  mean: number;
}

export interface OutImage {
  imageId: string;
  /** Offer the 1–10 rating controls (reactions / buttons) on this image. */
  rateable: boolean;
}

/** A platform-neutral message. `text` is user-visible markdown-ish text (bold with **…**). */
export interface OutMessage {
  text: string;
  image?: OutImage;
  kind?: MessageKind;
  runId?: string;
  /**
   * True when the text contains text a person typed (a prompt, feedback): platforms must make it
   * unable to ping anyone (Discord allowed_mentions parse [], Slack escaping). Adapters apply
   * "no mentions" to every message anyway; the flag documents intent.
   */
  userText?: boolean;
  /**
   * The run event this message shows (src/platforms/run-display.ts): the adapter records it with the
   * posted message (platform_messages.event_key) and, where the platform supports it, makes a repeated
   * post of the same key return the first message (Discord: nonce + enforce_nonce).
   */
  idempotencyKey?: string;
  /**
   * Extra files shown with the message (charts, image grids, a JSON export). Never rateable and not
   * recorded: they are not images of the image store.
   */
  files?: OutFile[];
  /** A run iteration's tiles: the grid picture is attached and each tile gets its controls. */
  grid?: OutGrid;
  /** Pick-one controls under the message's grid picture (/rate mode:pick). */
  pick?: OutPick;
  /** Drawn as a line chart attached to the message (a run's summary). */
  scoreChart?: OutScorePoint[];
  /**
   * Longer explanations behind a "Details" toggle (Discord: a button answering privately; Slack: a
   * button answering in an ephemeral; playground: a collapsible section), read again by run id.
   */
  details?: string;
}

export interface OutFile {
  name: string;
  contentType: string;
  data: Buffer;
}

/** A channel or a thread: somewhere messages can be posted and edited. */
export interface Conversation {
  /** Platform id of the channel / thread (Slack: channel id + thread ts joined by '/'). */
  readonly id: string;
  /** How to point a person at it in text (Discord `<#id>`, elsewhere the title). */
  readonly mention: string;
  /** Posts a message; returns the platform message id. Rateable images are recorded and get rating controls. */
  post(msg: OutMessage): Promise<string>;
  /** Replaces the text of a message this bot posted. */
  edit(messageId: string, msg: OutMessage): Promise<void>;
  /**
   * Recovery after a crash between a post and its record (run-display.ts): the message this bot
   * already posted here for `msg.idempotencyKey`, if any. When found it is recorded (as post would
   * have) and finished (rating controls), and its id returned; undefined = never posted. Platforms
   * whose posts are idempotent by themselves (Discord's nonce) leave it out.
   */
  findPosted?(msg: OutMessage): Promise<string | undefined>;
  /** Deletes a message this bot posted (a progress message that moved to the end of the thread); gone already is fine. */
  remove?(messageId: string): Promise<void>;
}

export interface ReplyOptions {
  /** Only the person who ran the command sees it. */
  ephemeral?: boolean;
}

/** Typed option values as the handler receives them (after validation against the command's spec). */
export type OptionValue = string | number | boolean | PersonRef;
export type CommandOptions = Record<string, OptionValue | undefined>;

export type RunOutcome = 'finished' | 'failed' | 'cancelled';

/** Posts a run's closing notice where the command was answered (Discord: the interaction while alive). */
export type Notify = (msg: OutMessage) => Promise<void>;

/** A platform's durable run display (src/platforms/run-display.ts), as far as starting a run needs it. */
export interface RunFollower {
  /** Resolves when the run's closing notice is out; `notify` (this process only) delivers that notice. */
  follow(runId: string, notify?: Notify): Promise<RunOutcome>;
}

/** A run that has started, and the thread that shows it. */
export interface StartedRun {
  runId: string;
  thread: Conversation;
}

/**
 * How a platform writes a person in text, so commands can read `users:@a @b` without knowing which
 * platform they run on.
 */
export interface MentionStyle {
  /** One whole token that names a person: group 1 is the user id, an optional group 2 the name it shows. */
  readonly pattern: RegExp;
  /**
   * The id is a name typed by hand (the playground): case-insensitive, so it is lowercased, and shown
   * capitalized when the mention carries no name.
   */
  readonly typedNames?: boolean;
}

/**
 * What a platform looks like to the person using it, so commands can say what to do there: how
 * rating works and which markup shows. Every platform renders **bold** and `code` (the messages'
 * common markup); italics only where `italics` is true.
 */
export interface PlatformSurface {
  /** How to rate an image here, as an instruction: "react with 1️⃣ … 🔟". */
  readonly rateHow: string;
  /** How to take a rating back here. */
  readonly unrateHow: string;
  /** Whether *single-asterisk italics* render (Slack reads them as bold, the playground not at all). */
  readonly italics: boolean;
}

/** What a platform adapter builds for one invocation; the dispatcher completes it into a CommandContext. */
export interface CommandInvocation {
  platform: Platform;
  person: PersonRef;
  /** Guild / workspace id from the verified platform event. */
  scopeId?: string;
  /** Where the command was typed. */
  channel: Conversation;
  /** Unique id of this invocation (interaction id / trigger id): a dedupe key. */
  invocationId: string;
  services: Services;
  log: Logger;
  /**
   * Acknowledge now, answer later (Discord's 3-second rule, Slack's ack). Handlers whose work may
   * be slow call it first. Ephemeral-ness of the eventual first reply is fixed here on Discord.
   */
  defer(opts?: ReplyOptions): Promise<void>;
  /** Answers the invocation: the first reply fills the deferred answer, later ones follow up. */
  reply(msg: OutMessage, opts?: ReplyOptions): Promise<void>;
  /** Opens a thread under the command's channel for a long conversation (an /optimize run). */
  openThread(title: string): Promise<Conversation>;
  /**
   * The adapter's durable run display. When present, runs are shown from the outbox (and survive
   * restarts); without it only the live events of this process are shown.
   */
  runDisplay?: RunFollower;
}

/** Everything a command handler may touch. */
export interface CommandContext extends CommandInvocation {
  /** The options, checked against the command's declaration. */
  options: CommandOptions;
  /** How this platform writes people in text (see commands/mentions.ts). */
  mentions: MentionStyle;
  /** How rating and markup look on this platform (help and /rate say what to do here). */
  surface: PlatformSurface;
  /**
   * Starts a run and shows it in a new thread titled `threadTitle` (header, candidates, iteration
   * summaries, one progress message, final summary); its closing notice answers this invocation.
   * Resolves once the run started and its thread is open.
   */
  startRun(request: StartRunRequest, threadTitle: string): Promise<StartedRun>;
}
