/**
 * Reading the XML documents S3 and OSS answer with. Values stay strings (no number guessing:
 * an ETag of digits or a key like "0012" must survive), list elements are always arrays.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

export type XmlValue = string | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Elements that repeat in listing answers (by path): parsed as arrays even when there is one. */
const LIST_PATHS = new Set([
  'ListPartsResult.Part',
  'ListMultipartUploadsResult.Upload',
  'ListMultipartUploadsResult.CommonPrefixes',
  'ListBucketResult.Contents',
  'ListBucketResult.CommonPrefixes',
  'ListAllMyBucketsResult.Buckets.Bucket',
  'DeleteResult.Deleted',
  'DeleteResult.Error',
]);

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: true,
  isArray: (_name, jpath) => LIST_PATHS.has(String(jpath)),
});

const builder = new XMLBuilder({ processEntities: true, suppressEmptyNode: false });

/** The root element's content, or undefined when the text is not XML with that root. */
export function parseDocument(text: string, root: string): XmlNode | undefined {
  if (text.trim() === '') return undefined;
  let parsed: XmlNode;
  try {
    parsed = parser.parse(text) as XmlNode;
  } catch {
    return undefined;
  }
  const node = parsed[root];
  if (node === undefined) return undefined;
  return typeof node === 'object' && !Array.isArray(node) ? node : {};
}

export function buildXml(document: XmlNode): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + (builder.build(document) as string);
}

export function text(value: XmlValue): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0) return '';
  return undefined;
}

export function textOr(value: XmlValue, fallback: string): string {
  return text(value) ?? fallback;
}

export function list(value: XmlValue): XmlNode[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item): item is XmlNode => typeof item === 'object' && item !== null && !Array.isArray(item));
}

export function int(value: XmlValue, fallback = 0): number {
  const raw = text(value);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

export function bool(value: XmlValue): boolean {
  return text(value)?.toLowerCase() === 'true';
}

export function date(value: XmlValue): Date {
  return new Date(text(value) ?? 0);
}
