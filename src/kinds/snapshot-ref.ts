import { z } from 'zod';
import { hostNameSchema, snapshotNameSchema, vmNameSchema } from '../domain/names.js';

/** The payload of the kinds that name one snapshot of one VM (revert, delete). */
export const snapshotRefPayload = z.object({ host: hostNameSchema, vm: vmNameSchema, name: snapshotNameSchema }).strict();
