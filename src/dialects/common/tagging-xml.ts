import { errors } from '../../core/errors.js';
import type { Tag } from '../../core/types.js';
import { parseXml, type XmlNode, type XmlValue } from './xml.js';

/**
 * The Tagging document S3 and OSS share, for objects and buckets alike (and S3's POST form
 * `tagging` field): `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…</TagSet></Tagging>`.
 * A document that does not fit (no TagSet, a Tag without its Key or Value or with either twice,
 * an element neither service knows, text where elements belong) is MalformedXML; what the tags
 * say is judged afterwards (core/tagging.ts: findTagViolation). Keys and values are kept exactly,
 * spaces included.
 */
export function parseTaggingDocument(text: string): Tag[] {
  const document = parseXml(text, 'Tagging');
  if (Object.keys(document).some((name) => name !== 'TagSet')) throw errors.malformedXML();
  const tagSet = document.TagSet;
  if (tagSet === undefined || Array.isArray(tagSet)) throw errors.malformedXML();
  // `<TagSet/>` and `<TagSet> </TagSet>` parse as text: an empty set.
  if (typeof tagSet !== 'object' || tagSet === null) {
    if (typeof tagSet === 'string' && tagSet.trim() === '') return [];
    throw errors.malformedXML();
  }
  if (Object.keys(tagSet).some((name) => name !== 'Tag')) throw errors.malformedXML();
  const list = tagSet.Tag === undefined ? [] : Array.isArray(tagSet.Tag) ? tagSet.Tag : [tagSet.Tag];
  return list.map(tagOf);
}

function tagOf(value: XmlValue): Tag {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw errors.malformedXML();
  if (Object.keys(value).some((name) => name !== 'Key' && name !== 'Value')) throw errors.malformedXML();
  const key = value.Key;
  const tagValue = value.Value;
  if (typeof key !== 'string' || typeof tagValue !== 'string') throw errors.malformedXML();
  return { key, value: tagValue };
}

/** The TagSet element of an answer: one Tag per tag, in the set's order. */
export function tagSetElement(tags: readonly Tag[]): XmlNode {
  return { TagSet: { Tag: tags.map((tag) => ({ Key: tag.key, Value: tag.value })) } };
}
