/** Where a run is in its life. Queued and running runs are active: one per person, counted by the quotas. */
export type RunStatus = 'queued' | 'running' | 'finished' | 'failed' | 'cancelled';

export const ACTIVE_STATUSES: RunStatus[] = ['queued', 'running'];
