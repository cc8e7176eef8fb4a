/**
 * A host's state kept by kvmops (`/host drain host:X [off]`): drained hosts are skipped by
 * `/deploy host:auto` (placement); commands that name the host still run there. One row per
 * host that was ever drained or undrained through chat; no row = not drained by chat (the
 * KVMOPS_HOSTS `;drain` flag is the other way, read from the environment). Who and when are
 * kept for `/host info`. Self-contained DDL.
 */
export const hostState = `
CREATE TABLE host_state (
  host        TEXT    PRIMARY KEY,
  drained     INTEGER NOT NULL CHECK (drained IN (0, 1)),
  -- the chat user who last changed it (id and display name) and when (epoch ms)
  changed_by  TEXT    NOT NULL,
  changed_by_name TEXT NOT NULL,
  changed_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;
