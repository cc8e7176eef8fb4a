/**
 * The request checks Discord makes that a bot can trip over in practice, with Discord's error
 * codes: empty messages (50006), over-long content and embeds, unpaired surrogates, conflicting
 * allowed_mentions, over-long nonces, autocomplete choices, and slash-command definitions Discord
 * refuses at registration — all but 50006 as 50035 "Invalid Form Body" with an `errors` tree
 * naming the field, as Discord answers:
 *
 *   { "code": 50035, "message": "Invalid Form Body",
 *     "errors": { "data": { "choices": { "0": { "name": { "_errors": [
 *       { "code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length." } ] } } } } } }
 *
 * Lengths are counted in code points, as Discord counts them (its API is Python 3:
 * discord/discord-api-docs#1315), so an emoji counts once.
 */
import { DiscordError, isRecord } from './state.js';

type ErrorTree = Record<string, unknown>;

function fieldError(path: Array<string | number>, code: string, message: string): DiscordError {
  let tree: ErrorTree = { _errors: [{ code, message }] };
  for (const key of [...path].reverse()) tree = { [String(key)]: tree };
  return new DiscordError(400, 50035, 'Invalid Form Body', tree);
}

/** Length as Discord counts it: code points. */
export function codePoints(s: string): number {
  return Array.from(s).length;
}

function maxLength(value: unknown, max: number, path: Array<string | number>): number {
  if (typeof value !== 'string') return 0;
  const n = codePoints(value);
  if (n > max) throw fieldError(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
  return n;
}

function requiredText(value: unknown, max: number, path: Array<string | number>): number {
  if (typeof value !== 'string' || value.trim() === '') throw fieldError(path, 'BASE_TYPE_REQUIRED', 'This field is required');
  return maxLength(value, max, path);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Discord stores text as UTF-8, where an unpaired surrogate (`"\ud83d"` in the JSON) cannot
 * exist: such a body is refused (for some fields Discord even answers 500:
 * discord/discord-api-docs#6561). The emulator answers 50035 naming the first such string; the
 * error code inside is the emulator's own name for it.
 */
export function validateUnicode(value: unknown, path: Array<string | number> = []): void {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw fieldError(path, 'STRING_INVALID_UNICODE', 'Must be valid Unicode (no unpaired surrogates).');
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => validateUnicode(v, [...path, i]));
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) validateUnicode(v, [...path, k]);
  }
}

const MENTION_TYPES = ['users', 'roles', 'everyone'];

/** `allowed_mentions`: `parse` of known types; `parse:["users"]` excludes `users:[…]` (and roles alike). */
function validateAllowedMentions(value: unknown): void {
  if (value === undefined || value === null) return;
  if (!isRecord(value)) throw fieldError(['allowed_mentions'], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
  const parse = value.parse ?? [];
  if (!Array.isArray(parse)) throw fieldError(['allowed_mentions', 'parse'], 'BASE_TYPE_ARRAY', 'Must be an array.');
  parse.forEach((p: unknown, i: number) => {
    if (typeof p !== 'string' || !MENTION_TYPES.includes(p)) {
      throw fieldError(['allowed_mentions', 'parse', i], 'BASE_TYPE_CHOICES', `Value must be one of ${JSON.stringify(MENTION_TYPES)}.`);
    }
  });
  for (const kind of ['users', 'roles'] as const) {
    const ids = value[kind];
    if (ids === undefined || ids === null) continue;
    if (!Array.isArray(ids)) throw fieldError(['allowed_mentions', kind], 'BASE_TYPE_ARRAY', 'Must be an array.');
    if (ids.length > 100) throw fieldError(['allowed_mentions', kind], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
    // An empty list next to parse:[kind] is accepted (Discord's docs say so).
    if (ids.length > 0 && parse.includes(kind)) {
      throw fieldError(['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', `parse:["${kind}"] and ${kind}: [ids...] are mutually exclusive.`);
    }
  }
}

/** `nonce`: an integer or a string of at most 25 characters. */
function validateNonce(value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'number' && Number.isInteger(value)) return;
  if (typeof value !== 'string') throw fieldError(['nonce'], 'BASE_TYPE_STRING', 'Must be a string or an integer.');
  maxLength(value, 25, ['nonce']);
}

const ACTION_ROW = 1;
const BUTTON = 2;
/** String, user, role, mentionable and channel selects: each fills a row alone. */
const SELECTS = [3, 5, 6, 7, 8];
const LINK = 5;
const PREMIUM = 6;

/**
 * Message components (the classic layout, not the IS_COMPONENTS_V2 one, which is not emulated):
 * at most 5 action rows (type 1), each with 1–5 buttons (type 2) or one select; a button has a
 * style 1–6, a label of at most 80 and a label or an emoji (premium buttons neither); styles 1–4
 * need a custom_id of 1–100 characters and take no url, a link (5) needs a url and takes no
 * custom_id, a premium button (6) a sku_id; custom ids are unique within the message.
 * Discord's answer names the field: `errors.components.0.components.1.custom_id._errors`.
 * The codes are Discord's where the docs or its answers show them (BASE_TYPE_*,
 * COMPONENT_CUSTOM_ID_DUPLICATED); the others are the emulator's own names.
 */
export function validateComponents(value: unknown, flags: unknown): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) throw fieldError(['components'], 'BASE_TYPE_ARRAY', 'Must be an array.');
  if (typeof flags === 'number' && (flags & (1 << 15)) !== 0) return; // IS_COMPONENTS_V2: not emulated
  if (value.length > 5) throw fieldError(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
  const ids = new Set<string>();
  value.forEach((row: unknown, i: number) => {
    const here = ['components', i];
    if (!isRecord(row)) throw fieldError(here, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    if (row.type !== ACTION_ROW) throw fieldError([...here, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).');
    const children = row.components;
    if (!Array.isArray(children)) throw fieldError([...here, 'components'], 'BASE_TYPE_REQUIRED', 'This field is required');
    if (children.length < 1 || children.length > 5) throw fieldError([...here, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
    children.forEach((child: unknown, j: number) => {
      const at = [...here, 'components', j];
      if (!isRecord(child)) throw fieldError(at, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
      if (SELECTS.includes(child.type as number)) {
        if (children.length > 1) throw fieldError([...here, 'components'], 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'The specified component exceeds the maximum width');
      } else if (child.type !== BUTTON) {
        throw fieldError([...at, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (2, 3, 5, 6, 7, 8).');
      } else {
        validateButton(child, at);
      }
      if (typeof child.custom_id === 'string') {
        if (ids.has(child.custom_id)) throw fieldError([...at, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
        ids.add(child.custom_id);
      }
      if (SELECTS.includes(child.type as number)) customId(child.custom_id, at);
    });
  });
}

function customId(value: unknown, at: Array<string | number>): void {
  if (typeof value !== 'string' || value.length === 0) throw fieldError([...at, 'custom_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
  if (codePoints(value) > 100) throw fieldError([...at, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
}

function validateButton(button: Record<string, unknown>, at: Array<string | number>): void {
  const style = button.style;
  if (typeof style !== 'number' || !Number.isInteger(style) || style < 1 || style > 6) {
    throw fieldError([...at, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.');
  }
  if (button.disabled !== undefined && typeof button.disabled !== 'boolean') throw fieldError([...at, 'disabled'], 'BASE_TYPE_BOOLEAN', 'Must be either true or false.');
  maxLength(button.label, 80, [...at, 'label']);
  const hasLabel = typeof button.label === 'string' && button.label !== '';
  if (style === PREMIUM) {
    if (typeof button.sku_id !== 'string') throw fieldError([...at, 'sku_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
    for (const key of ['custom_id', 'url', 'label', 'emoji'] as const) {
      if (button[key] !== undefined) throw fieldError([...at, key], 'BUTTON_COMPONENT_PREMIUM_FIELD_FORBIDDEN', `A premium button cannot have a ${key}.`);
    }
    return;
  }
  if (!hasLabel && !isRecord(button.emoji)) throw fieldError([...at, 'label'], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A button needs a label or an emoji.');
  if (style === LINK) {
    if (typeof button.url !== 'string' || button.url === '') throw fieldError([...at, 'url'], 'BASE_TYPE_REQUIRED', 'This field is required');
    maxLength(button.url, 512, [...at, 'url']);
    if (button.custom_id !== undefined) throw fieldError([...at, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_FORBIDDEN', 'A link button cannot have a custom_id.');
    return;
  }
  if (button.url !== undefined) throw fieldError([...at, 'url'], 'BUTTON_COMPONENT_URL_FORBIDDEN', 'Only link buttons can have a url.');
  customId(button.custom_id, at);
}

/** Content, embeds and components of a message create/edit, as Discord limits them. */
export function validateMessageBody(body: Record<string, unknown>, opts: { create: boolean; hasFiles?: boolean }): void {
  validateUnicode(body);
  validateAllowedMentions(body.allowed_mentions);
  validateNonce(body.nonce);
  validateComponents(body.components, body.flags);
  maxLength(body.content, 2000, ['content']);
  if (body.embeds !== undefined && body.embeds !== null) {
    if (!Array.isArray(body.embeds)) throw fieldError(['embeds'], 'BASE_TYPE_ARRAY', 'Must be an array.');
    if (body.embeds.length > 10) throw fieldError(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    let total = 0;
    body.embeds.forEach((embed: unknown, i: number) => {
      if (!isRecord(embed)) return;
      total += maxLength(embed.title, 256, ['embeds', i, 'title']);
      total += maxLength(embed.description, 4096, ['embeds', i, 'description']);
      if (isRecord(embed.footer)) total += maxLength(embed.footer.text, 2048, ['embeds', i, 'footer', 'text']);
      if (isRecord(embed.author)) total += maxLength(embed.author.name, 256, ['embeds', i, 'author', 'name']);
      if (Array.isArray(embed.fields)) {
        if (embed.fields.length > 25) throw fieldError(['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        embed.fields.forEach((field: unknown, j: number) => {
          if (!isRecord(field)) return;
          total += requiredText(field.name, 256, ['embeds', i, 'fields', j, 'name']);
          total += requiredText(field.value, 1024, ['embeds', i, 'fields', j, 'value']);
        });
      }
    });
    if (total > 6000) throw fieldError(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  }
  if (opts.create) {
    const hasContent = typeof body.content === 'string' && body.content.trim() !== '';
    const hasEmbeds = Array.isArray(body.embeds) && body.embeds.length > 0;
    const hasComponents = Array.isArray(body.components) && body.components.length > 0;
    const hasStickers = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
    if (!hasContent && !hasEmbeds && !hasComponents && !hasStickers && opts.hasFiles !== true && body.poll === undefined) {
      throw new DiscordError(400, 50006, 'Cannot send an empty message');
    }
  }
}

/**
 * An autocomplete answer (interaction callback type 8): at most 25 choices, each with a name of
 * 1–100 characters and a string value of at most 100. One bad choice refuses the whole answer.
 */
export function validateAutocompleteData(data: Record<string, unknown> | null): void {
  validateUnicode(data, ['data']);
  const choices = data?.choices;
  if (!Array.isArray(choices)) throw fieldError(['data', 'choices'], 'BASE_TYPE_REQUIRED', 'This field is required');
  if (choices.length > 25) throw fieldError(['data', 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  choices.forEach((choice: unknown, i: number) => {
    const here = ['data', 'choices', i];
    if (!isRecord(choice)) throw fieldError(here, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    const name = typeof choice.name === 'string' ? codePoints(choice.name) : 0;
    if (name < 1 || name > 100) throw fieldError([...here, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    if (typeof choice.value === 'string') maxLength(choice.value, 100, [...here, 'value']);
    else if (typeof choice.value !== 'number') throw fieldError([...here, 'value'], 'BASE_TYPE_REQUIRED', 'This field is required');
  });
}

const NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const SUBCOMMAND = 1;
const SUBCOMMAND_GROUP = 2;

function validateOptions(options: unknown, path: Array<string | number>, depth: number): void {
  if (options === undefined || options === null) return;
  if (!Array.isArray(options)) throw fieldError(path, 'BASE_TYPE_ARRAY', 'Must be an array.');
  if (options.length > 25) throw fieldError(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  let sawOptional = false;
  const names = new Set<string>();
  options.forEach((option: unknown, i: number) => {
    const here = [...path, i];
    if (!isRecord(option)) throw fieldError(here, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    const { name, type, description } = option;
    if (typeof name !== 'string' || !NAME.test(name) || name !== name.toLowerCase()) {
      throw fieldError([...here, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    if (names.has(name)) throw fieldError([...here, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option name already exists');
    names.add(name);
    if (typeof description !== 'string' || description.length < 1 || description.length > 100) {
      throw fieldError([...here, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    if (typeof type !== 'number' || type < 1 || type > 11) throw fieldError([...here, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1..11}.');
    if (type === SUBCOMMAND || type === SUBCOMMAND_GROUP) {
      if (depth >= (type === SUBCOMMAND_GROUP ? 1 : 2)) {
        throw fieldError([...here, 'type'], 'APPLICATION_COMMAND_SUBCOMMAND_NESTING', 'Sub-command nesting is too deep');
      }
      validateOptions(option.options, [...here, 'options'], depth + 1);
      return;
    }
    // Discord refuses a required option listed after an optional one.
    if (option.required === true && sawOptional) {
      throw fieldError(here, 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
    }
    if (option.required !== true) sawOptional = true;
    if (Array.isArray(option.choices)) {
      if (option.choices.length > 25) throw fieldError([...here, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      if (option.autocomplete === true) {
        throw fieldError([...here, 'autocomplete'], 'APPLICATION_COMMAND_AUTOCOMPLETE_INVALID', 'Autocomplete cannot be enabled on options with choices');
      }
    }
  });
}

/** A slash command definition (PUT/POST …/commands). */
export function validateCommand(command: unknown, index: number | null): void {
  const path = index === null ? [] : [index];
  if (!isRecord(command)) throw fieldError(path, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
  const type = command.type ?? 1;
  const { name, description } = command;
  if (typeof name !== 'string' || !NAME.test(name) || (type === 1 && name !== name.toLowerCase())) {
    throw fieldError([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
  if (type === 1 && (typeof description !== 'string' || description.length < 1 || description.length > 100)) {
    throw fieldError([...path, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  validateOptions(command.options, [...path, 'options'], 0);
}

/** Discord answers 10014 for a reaction emoji it does not know. */
export function isPlausibleUnicodeEmoji(segment: string): boolean {
  return /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u.test(segment) && !/[\s:<>]/.test(segment);
}
