/**
 * Records a posted message in the database (services.messages) so that reactions find its image by
 * message id after restarts and on uncached messages. Adapters call it right after posting and
 * before adding rating controls.
 */
import type { Services } from '../core/services';
import type { OutMessage } from '../../commands/kit/types';

export async function recordPosted(
  services: Services,
  platform: string,
  posted: { messageId: string; channelId: string; scopeId?: string },
  msg: OutMessage,
): Promise<void> {
  // Images and run headers are what reactions act on (rating / ❌ cancel); run messages are recorded
  // by their event key (exactly-once posting across restarts); other messages need no row.
  if (!msg.image && msg.kind !== 'header' && !msg.idempotencyKey) return;
  await services.messages.record({
    platform,
    messageId: posted.messageId,
    channelId: posted.channelId,
    scopeId: posted.scopeId,
    imageId: msg.image?.imageId,
    runId: msg.runId,
    kind: msg.kind ?? (msg.image ? 'rate' : 'info'),
    eventKey: msg.idempotencyKey,
  });
}
