import { ServiceError, errors } from '../../core/errors.js';
import { asTrimmedText, type XmlNode, type XmlValue } from './xml.js';

/**
 * Reading a configuration document as its schema would: an element that may appear once appears
 * once, only known elements appear, text stands where text belongs. Anything else is MalformedXML
 * (S3 and OSS agree on the code); what the values say is judged afterwards by the engine module
 * that owns the configuration.
 */

/** Every occurrence of an element, whatever the parser made of one or many. */
export function occurrences(value: XmlValue): XmlValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** An element's children (an empty element has none); text or a repeated element is malformed. */
export function nodeOf(value: XmlValue): XmlNode {
  if (typeof value === 'string' && value.trim() === '') return {};
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  throw errors.malformedXML();
}

/** The trimmed text of an element that may appear at most once. */
export function once(value: XmlValue): string | undefined {
  const all = occurrences(value);
  if (all.length > 1) throw errors.malformedXML();
  if (all.length === 0) return undefined;
  const text = asTrimmedText(all[0]);
  if (text === undefined) throw errors.malformedXML();
  return text;
}

/** Text as written (tag values keep their spaces); undefined when absent; elements inside are malformed. */
export function textAsWritten(value: XmlValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw errors.malformedXML();
}

/**
 * The node, holding only `known` elements, each at most once unless in `repeated`. An element in
 * `unsupported` is a feature Tessera does not have: 501 NotImplemented with `why`, never ignored.
 */
export function checked(node: XmlNode, known: readonly string[], options: { repeated?: readonly string[]; unsupported?: Record<string, string> } = {}): XmlNode {
  for (const [name, value] of Object.entries(node)) {
    const why = options.unsupported?.[name];
    if (why !== undefined) throw new ServiceError('NotImplemented', `${name}: ${why}`, 501);
    if (!known.includes(name)) throw errors.malformedXML();
    if (Array.isArray(value) && !(options.repeated ?? []).includes(name)) throw errors.malformedXML();
  }
  return node;
}

/** A `<Tag><Key>…</Key><Value>…</Value></Tag>` element. */
export function tagOf(value: XmlValue): { key: string; value: string } {
  const node = checked(nodeOf(value), ['Key', 'Value']);
  const key = textAsWritten(node.Key);
  const tagValue = textAsWritten(node.Value);
  if (key === undefined || tagValue === undefined) throw errors.malformedXML();
  return { key, value: tagValue };
}
