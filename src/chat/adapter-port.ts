import type { Logger as LoggerPort } from '../domain/logger.js';
import type { CommandRouter } from './router.js';
import type { RolePolicy } from './roles.js';
import type { Services } from './services.js';

/**
 * What a chat adapter (src/adapters/*) is given of the chat core — and nothing more. The
 * composition root (src/app.ts) builds it and hands it down; an adapter imports neither app.ts
 * nor the job store (src/jobs): every write it makes (attaching an approval request message,
 * cancelling the job of an unposted one, a decision by reaction) goes through `services`, whose
 * writes wait out a busy database (createServices, retryWhileBusy).
 *
 * - `router`: handle an invocation, complete an option (autocomplete), tell whether it must be
 *   deferred, and the command definitions to register or complete from;
 * - `roles`: the platform's role ids → kvmops roles;
 * - `services`: jobs, approvals (attachMessage, decide via approval-reactions.ts), audit;
 * - `logger`: the app's logger.
 * The notifications an adapter shows go the other way: it gives a `NotificationSink` (below)
 * to the app, which hands it to the notifier.
 */
export interface ChatCore {
  router: Pick<CommandRouter, 'handle' | 'complete' | 'needsDefer' | 'definitions'>;
  roles: RolePolicy;
  services: Services;
  logger: AdapterLogger;
}

/** The shared logger port plus what an adapter adds: debug lines and a child per adapter (pino fits). */
export interface AdapterLogger extends LoggerPort {
  debug(obj: Record<string, unknown>, msg?: string): void;
  child(bindings: Record<string, unknown>): AdapterLogger;
}

/** The notification port an adapter implements, and the records it shows (re-exported: adapters never import src/jobs). */
export type { NotificationSink, StatusView } from '../notifier/types.js';
export type { Approval, Job, NotifyTarget } from '../jobs/types.js';
