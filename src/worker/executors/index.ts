import { deploy } from './deploy.js';
import { snapshotCreate } from './snapshot-create.js';
import { snapshotDelete } from './snapshot-delete.js';
import { snapshotRevert } from './snapshot-revert.js';
import { templateCreate } from './template-create.js';
import { templateDelete } from './template-delete.js';
import type { ExecutorMap } from './types.js';
import { vmDelete } from './vm-delete.js';
import { vmStart } from './vm-start.js';
import { vmStop } from './vm-stop.js';

export type { Executor, ExecutorContext, ExecutorMap } from './types.js';

/** The registry: `ExecutorMap` makes a JobKind without an executor a compile error. */
export const EXECUTORS: ExecutorMap = {
  deploy,
  'template.create': templateCreate,
  'template.delete': templateDelete,
  'snapshot.create': snapshotCreate,
  'snapshot.revert': snapshotRevert,
  'snapshot.delete': snapshotDelete,
  'vm.start': vmStart,
  'vm.stop': vmStop,
  'vm.delete': vmDelete,
};
