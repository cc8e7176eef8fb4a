export { Notifier, type NotifierOptions } from './notifier.js';
export { statusView, jobTitle, resultSummary, formatDuration } from './render.js';
export { PermanentSinkError, isPermanentSinkError, type NotificationSink, type StatusView } from './types.js';
export { planDelivery, type DeliveryPlan } from './plan.js';
export { deliveryDelay, type DeliveryBackoff } from './backoff.js';
