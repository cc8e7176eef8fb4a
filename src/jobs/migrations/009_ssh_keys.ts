/**
 * People's SSH public keys (`/key add|list|remove`): what a deploy puts into the VMs they ask
 * for. One row per key of a chat user (the adapter's user id). `line` is the key in canonical
 * form (src/domain/ssh-keys.ts), the one line that reaches a guest; `fingerprint` is
 * `SHA256:…` of its blob, so the same key pasted twice (another comment, other spaces) is the
 * same row. Names are per person. `(user_id, name)` serves `/key list` in name order and
 * `/key remove`; `(user_id, fingerprint)` refuses a duplicate atomically. Self-contained DDL.
 */
export const sshKeys = `
CREATE TABLE ssh_keys (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id     TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  bits        INTEGER NOT NULL CHECK (bits > 0),
  fingerprint TEXT    NOT NULL,
  line        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX ssh_keys_user_name ON ssh_keys (user_id, name);
CREATE UNIQUE INDEX ssh_keys_user_fingerprint ON ssh_keys (user_id, fingerprint);
`;
