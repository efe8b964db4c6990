import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { errors } from '../../core/errors.js';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: false, processEntities: true });

/** Names that must parse as lists even when a document holds one of them. */
const LIST_ELEMENTS = new Set(['Part', 'Object', 'Tag']);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => LIST_ELEMENTS.has(name),
});

export type XmlValue = string | number | boolean | undefined | null | XmlNode | XmlValue[];
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Serialises `{Root: {...}}` with an XML declaration; undefined fields are left out, arrays repeat the element. */
export function toXml(document: XmlNode): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + builder.build(document);
}

/** Parses a request document, or throws MalformedXML when it is not well-formed or lacks `root`. */
export function parseXml(text: string, root: string): XmlNode {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw errors.malformedXML();
  const parsed = parser.parse(text) as XmlNode;
  const node = parsed[root];
  if (node === undefined) throw errors.malformedXML();
  return typeof node === 'object' && node !== null && !Array.isArray(node) ? node : {};
}

export function asList(value: XmlValue): XmlNode[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((item): item is XmlNode => typeof item === 'object' && item !== null && !Array.isArray(item));
}

export function asText(value: XmlValue): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0) return '';
  return undefined;
}
