/**
 * Reading the XML documents S3 and OSS answer with. Values stay strings (no number guessing:
 * an ETag of digits or a key like "0012" must survive); read repeatable elements with `list()`.
 */
import { parseXml, toXml, type XmlNode as ServerXmlNode } from '../dialects/common/xml.js';

export type XmlValue = string | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [name: string]: XmlValue;
}

/**
 * The root element's content, or undefined when the text is not XML with that root. Parsed by
 * the server's own parser (dialects/common/xml.ts), which yields only strings, nodes and arrays
 * (hence the narrower type here); repeated elements become arrays, `list()` takes either.
 */
export function parseDocument(text: string, root: string): XmlNode | undefined {
  try {
    return parseXml(text, root) as XmlNode;
  } catch {
    return undefined;
  }
}

export function buildXml(document: XmlNode): string {
  return toXml(document as ServerXmlNode);
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

// Numbers, flags and dates trim: whitespace around them is layout.
export function int(value: XmlValue, fallback = 0): number {
  const raw = text(value)?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

export function bool(value: XmlValue): boolean {
  return text(value)?.trim().toLowerCase() === 'true';
}

export function date(value: XmlValue): Date {
  return new Date(text(value)?.trim() ?? 0);
}
