/**
 * The Slack Web API client of the app. It never retries (one retry layer only: the channel queue
 * retries 429s after Retry-After; other failures are not retried blindly, since a repeated post can
 * post twice), and it notices a refused token on any call: every Web API call goes through apiCall.
 */
import { LogLevel, webApi, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Config } from '../../config';

export type WebClient = InstanceType<typeof webApi.WebClient>;

/** Web API errors meaning the token itself is no good (not a missing scope or a bad argument). */
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'no_permission_for_team']);

export function createSlackWebClient(
  config: Partial<Pick<Config, 'SLACK_API_URL'>>,
  token: string,
  log: Logger,
  state: { tokenRejected: string | null },
): { web: WebClient; clientOptions: webApi.WebClientOptions; slackLogger: SlackLogger } {
  const slackLogger = toSlackLogger(log);
  const clientOptions: webApi.WebClientOptions = {
    slackApiUrl: config.SLACK_API_URL ? withTrailingSlash(config.SLACK_API_URL) : undefined,
    // One retry layer only: 429s are thrown at once and retried by the channel queue after
    // Retry-After; other failures are not retried blindly, since a repeated post can post twice.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 30_000,
    logger: slackLogger,
  };
  // A revoked or rotated token, or an uninstalled app, fails every call: say what to do, once, and
  // report not-ready (every Web API call goes through apiCall, so one place sees them all).
  class ObservedWebClient extends webApi.WebClient {
    override async apiCall(method: string, options?: Record<string, unknown>): Promise<webApi.WebAPICallResult> {
      try {
        return await super.apiCall(method, options);
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (code && AUTH_ERRORS.has(code) && !state.tokenRejected) {
          state.tokenRejected = code;
          log.error(
            { error: code },
            `Slack refused the bot token (${code}): nothing can be posted or read. Reinstall the app to the workspace if it was removed, put the current xoxb- token in SLACK_BOT_TOKEN and restart.`,
          );
        }
        throw err;
      }
    }
  }
  return { web: new ObservedWebClient(token, clientOptions), clientOptions, slackLogger };
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** Bolt and the WebClient log through pino, so their messages get the same redaction. */
function toSlackLogger(log: Logger): SlackLogger {
  const child = log.child({ lib: 'slack' });
  let level = LogLevel.INFO;
  const fmt = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...m: unknown[]) => child.debug(fmt(m)),
    info: (...m: unknown[]) => child.info(fmt(m)),
    warn: (...m: unknown[]) => child.warn(fmt(m)),
    error: (...m: unknown[]) => child.error(fmt(m)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
