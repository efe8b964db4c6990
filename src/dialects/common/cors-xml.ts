import type { CorsConfiguration, CorsRule } from '../../core/cors.js';
import { errors } from '../../core/errors.js';
import { asTrimmedText, parseXml, type XmlValue } from './xml.js';
import { nodeOf, occurrences, once } from './xml-shape.js';

/**
 * The CORSConfiguration document S3 and OSS share, read into the engine's rules. The two differ
 * only in what a document may hold beyond the rules: S3 names a rule (`ID`), OSS says whether to
 * answer `Vary: Origin` (`ResponseVary`). A document that does not fit (an element neither
 * knows, a rule element repeated that may appear once, a MaxAgeSeconds that is no integer, text
 * where elements belong) is MalformedXML, as a schema check would find it; what the values say
 * is judged afterwards (core/cors.ts: findCorsViolation).
 */
export interface CorsDocumentShape {
  /** Rules may carry an `ID` (S3). */
  ruleIds: boolean;
  /** The document may end with `ResponseVary` (OSS). */
  responseVary: boolean;
}

const RULE_LISTS = ['AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader'] as const;

/** The trimmed text of each occurrence; an occurrence holding elements is malformed. */
function texts(value: XmlValue): string[] {
  return occurrences(value).map((item) => {
    const text = asTrimmedText(item);
    if (text === undefined) throw errors.malformedXML();
    return text;
  });
}

function ruleOf(value: XmlValue, shape: CorsDocumentShape): CorsRule {
  // `<CORSRule/>` and `<CORSRule> </CORSRule>` are a rule with nothing in it.
  const node = nodeOf(value);
  const known = new Set<string>([...RULE_LISTS, 'MaxAgeSeconds', ...(shape.ruleIds ? ['ID'] : [])]);
  if (Object.keys(node).some((name) => !known.has(name))) throw errors.malformedXML();
  const maxAge = once(node.MaxAgeSeconds);
  if (maxAge !== undefined && !/^-?\d{1,12}$/.test(maxAge)) throw errors.malformedXML();
  return {
    id: shape.ruleIds ? once(node.ID) : undefined,
    allowedOrigins: texts(node.AllowedOrigin),
    allowedMethods: texts(node.AllowedMethod),
    allowedHeaders: texts(node.AllowedHeader),
    exposeHeaders: texts(node.ExposeHeader),
    maxAgeSeconds: maxAge === undefined ? undefined : Number(maxAge),
  };
}

/** Reads a CORSConfiguration document into rules (in document order); MalformedXML when it does not fit `shape`. */
export function parseCorsDocument(text: string, shape: CorsDocumentShape): CorsConfiguration {
  const document = parseXml(text, 'CORSConfiguration');
  const known = new Set(['CORSRule', ...(shape.responseVary ? ['ResponseVary'] : [])]);
  if (Object.keys(document).some((name) => !known.has(name))) throw errors.malformedXML();
  const vary = once(document.ResponseVary)?.toLowerCase();
  if (vary !== undefined && vary !== 'true' && vary !== 'false') throw errors.malformedXML();
  return { rules: occurrences(document.CORSRule).map((rule) => ruleOf(rule, shape)), responseVary: vary === 'true' };
}
