import { KvmopsError } from '../domain/errors.js';

/**
 * A small, strict XML reader/writer for libvirt's own XML (domain, snapshot, volume, pool):
 * elements, attributes, text, comments and the XML declaration. No DTDs, no CDATA, no
 * namespaces resolution (prefixes are kept as part of the name). Anything else is an
 * `unexpected-output` error: libvirt's XML is machine-written and regular, so a surprise means
 * we are reading the wrong thing, not that we should guess.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e.startsWith('#x')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(parseInt(e.slice(1), 10))
        : (ENTITIES[e] ?? ''),
  );
}
function encodeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
function encodeAttr(s: string): string {
  return encodeText(s).replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => {
    throw new KvmopsError('unexpected-output', `XML: ${what} at offset ${i}`);
  };
  const skipMisc = () => {
    for (;;) {
      while (i < xml.length && /\s/.test(xml[i]!)) i++;
      if (xml.startsWith('<?', i)) {
        const e = xml.indexOf('?>', i);
        if (e < 0) fail('unterminated declaration');
        i = e + 2;
      } else if (xml.startsWith('<!--', i)) {
        const e = xml.indexOf('-->', i);
        if (e < 0) fail('unterminated comment');
        i = e + 3;
      } else return;
    }
  };
  const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(xml);
    if (!m) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const element = (): XmlElement => {
    if (xml[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = { name: readName(), attrs: {}, children: [] };
    for (;;) {
      while (/\s/.test(xml[i] ?? '')) i++;
      if (xml.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      const an = readName();
      while (/\s/.test(xml[i] ?? '')) i++;
      if (xml[i] !== '=') fail('expected =');
      i++;
      while (/\s/.test(xml[i] ?? '')) i++;
      const q = xml[i];
      if (q !== '"' && q !== "'") return fail('expected a quoted attribute value');
      const end = xml.indexOf(q, i + 1);
      if (end < 0) fail('unterminated attribute');
      el.attrs[an] = decode(xml.slice(i + 1, end));
      i = end + 1;
    }
    for (;;) {
      if (i >= xml.length) fail(`unterminated <${el.name}>`);
      if (xml.startsWith('</', i)) {
        i += 2;
        const n = readName();
        if (n !== el.name) fail(`</${n}> closes <${el.name}>`);
        while (/\s/.test(xml[i] ?? '')) i++;
        if (xml[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      if (xml.startsWith('<!--', i)) {
        const e = xml.indexOf('-->', i);
        if (e < 0) fail('unterminated comment');
        i = e + 3;
        continue;
      }
      if (xml.startsWith('<!', i)) fail('CDATA/DTD not supported');
      if (xml[i] === '<') {
        el.children.push(element());
        continue;
      }
      const next = xml.indexOf('<', i);
      const text = xml.slice(i, next < 0 ? xml.length : next);
      el.children.push(decode(text));
      i += text.length;
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i < xml.length) fail('content after the root element');
  return root;
}

/** Serialises back; whitespace-only text nodes are kept, so libvirt's indentation survives. */
export function serializeXml(el: XmlElement): string {
  const attrs = Object.entries(el.attrs)
    .map(([k, v]) => ` ${k}='${encodeAttr(v)}'`)
    .join('');
  if (el.children.length === 0) return `<${el.name}${attrs}/>`;
  const inner = el.children.map((c) => (typeof c === 'string' ? encodeText(c) : serializeXml(c))).join('');
  return `<${el.name}${attrs}>${inner}</${el.name}>`;
}

export function elements(el: XmlElement, name?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name));
}

/** First element at a `/`-separated path below `el` (e.g. `devices/disk`), or undefined. */
export function find(el: XmlElement, path: string): XmlElement | undefined {
  return findAll(el, path)[0];
}

export function findAll(el: XmlElement, path: string): XmlElement[] {
  let cur: XmlElement[] = [el];
  for (const part of path.split('/').filter(Boolean)) cur = cur.flatMap((c) => elements(c, part));
  return cur;
}

/** Concatenated text content of an element (trimmed). */
export function textOf(el: XmlElement | undefined): string {
  if (!el) return '';
  return el.children
    .map((c) => (typeof c === 'string' ? c : textOf(c)))
    .join('')
    .trim();
}

export function removeChildren(el: XmlElement, pred: (c: XmlElement) => boolean): void {
  el.children = el.children.filter((c) => typeof c === 'string' || !pred(c));
}
