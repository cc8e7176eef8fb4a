/**
 * What a job holds while it waits and runs (its resources), and how:
 *  - `exclusive`: nobody else may hold it; `shared`: others may share it, no one may hold it
 *    exclusively meanwhile (a deploy reads its template; a template delete writes it).
 *  - `creates`: the job brings the object into being (a deploy's VM names, a new template's
 *    name). At most one live job may create a given name: the store refuses a second one at
 *    enqueue with `name-taken` naming the first.
 * The claim starts a job only when no running job, and no older queued job, holds one of its
 * resources in a conflicting mode: per resource, jobs run in the order they were accepted.
 *
 * Keys are `<host>/vm/<name>` and `<host>/template/<name>`: names never contain `/` (names.ts),
 * so two keys are equal only for the same object.
 */
export type ResourceMode = 'shared' | 'exclusive';
export interface JobResource {
  key: string;
  mode: ResourceMode;
  creates: boolean;
}

export const vmResource = (host: string, vm: string): string => `${host}/vm/${vm}`;
export const templateResource = (host: string, name: string): string => `${host}/template/${name}`;

export const holds = (key: string, mode: ResourceMode, creates = false): JobResource => ({ key, mode, creates });

/** The one VM a job changes, exclusively: snapshot and VM kinds. */
export const onlyVm = (p: { host: string; vm: string }): JobResource[] => [holds(vmResource(p.host, p.vm), 'exclusive')];
