/**
 * Browser form uploads (S3 POST Object, OSS PostObject): the policy document a form carries,
 * parsed, and its conditions checked against the form's fields and the file's size. Protocol-free:
 * a dialect says which operators its policies may use, whether every field needs a condition and
 * which fields a comma-separated value lists; the signature over the policy is the dialect's.
 * Errors use the S3 vocabulary, whose POST codes and messages OSS uses too.
 */
import { ServiceError } from './errors.js';

/** Matching operators besides `content-length-range`. */
export type PolicyOperator = 'eq' | 'starts-with' | 'in' | 'not-in';

export interface PolicyRules {
  /** The operators the dialect's policies may use (S3: eq and starts-with; OSS adds in and not-in). */
  operators: readonly PolicyOperator[];
  /** S3: every form field but these needs a condition naming it ("Extra input fields"). OSS asks none. */
  coverageExempt?: (field: string) => boolean;
  /** Fields whose comma-separated value is a list, each item held to a `starts-with` (S3's Content-Type). */
  listFields?: readonly string[];
}

/** A condition on one field. `field` is lower-case (form field names are compared without case). */
export interface FieldCondition {
  operator: PolicyOperator;
  field: string;
  /** A string for eq and starts-with, a list for in and not-in. */
  value: string | readonly string[];
  /** The condition as the error quotes it: `["starts-with", "$key", "user/"]`. */
  text: string;
}

export interface SizeRange {
  min: number;
  max: number;
}

export interface PostPolicy {
  expiration: Date;
  conditions: FieldCondition[];
  /** The `content-length-range` (all of them, intersected); undefined without one. */
  size?: SizeRange;
}

/** The form's fields by lower-case name; a name sent twice holds both values, comma-separated (as AWS matches them). */
export type FormFields = ReadonlyMap<string, string>;

function invalidPolicy(message: string): ServiceError {
  return new ServiceError('InvalidPolicyDocument', `Invalid Policy: ${message}`, 400);
}

function deniedByPolicy(message: string): ServiceError {
  return new ServiceError('AccessDenied', `Invalid according to Policy: ${message}`, 403);
}

/** ISO 8601 in UTC, with or without fractional seconds: `2013-08-01T12:00:00.000Z`. */
const EXPIRATION = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Decodes and validates the base64 `policy` field (InvalidPolicyDocument when it is not a policy). */
export function parsePolicy(base64: string, rules: PolicyRules): PostPolicy {
  let document: unknown;
  try {
    const text = Buffer.from(base64.trim(), 'base64').toString('utf8');
    document = JSON.parse(text);
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = document as Record<string, unknown>;
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expires = typeof expiration === 'string' && EXPIRATION.test(expiration) ? new Date(expiration) : undefined;
  if (!expires || Number.isNaN(expires.getTime())) throw invalidPolicy(`Invalid 'expiration' value: '${String(expiration)}'`);
  if (conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw invalidPolicy("Invalid 'conditions' value: must be a list.");

  const policy: PostPolicy = { expiration: expires, conditions: [] };
  for (const condition of conditions as unknown[]) {
    if (Array.isArray(condition)) {
      const parsed = parseListCondition(condition, rules);
      if ('min' in parsed) {
        policy.size = policy.size ? { min: Math.max(policy.size.min, parsed.min), max: Math.min(policy.size.max, parsed.max) } : parsed;
      } else {
        policy.conditions.push(parsed);
      }
    } else if (typeof condition === 'object' && condition !== null) {
      policy.conditions.push(parseSimpleCondition(condition as Record<string, unknown>));
    } else {
      throw invalidPolicy('Invalid Condition: a condition must be an object or a list.');
    }
  }
  return policy;
}

/** `{"acl": "private"}`: an exact match, quoted as its `eq` form. */
function parseSimpleCondition(condition: Record<string, unknown>): FieldCondition {
  const entries = Object.entries(condition);
  if (entries.length !== 1) throw invalidPolicy('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
  const [name, value] = entries[0]!;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw invalidPolicy(`Invalid Simple-Condition: the value of '${name}' must be a string.`);
  }
  return fieldCondition('eq', name, String(value), `$${name}`);
}

function parseListCondition(condition: unknown[], rules: PolicyRules): FieldCondition | SizeRange {
  const operator = typeof condition[0] === 'string' ? condition[0].toLowerCase() : '';
  if (operator === 'content-length-range') {
    const [, min, max] = condition;
    const bound = (value: unknown) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
    const low = bound(min);
    const high = bound(max);
    if (condition.length !== 3 || !Number.isSafeInteger(low) || !Number.isSafeInteger(high) || (low as number) < 0 || (high as number) < 0) {
      throw invalidPolicy("Invalid 'content-length-range' condition: it takes a minimum and a maximum size in bytes.");
    }
    return { min: low as number, max: high as number };
  }
  if (!(rules.operators as readonly string[]).includes(operator)) {
    throw invalidPolicy(`Invalid Condition: unknown condition operator '${String(condition[0])}'.`);
  }
  const [, reference, value] = condition;
  if (condition.length !== 3 || typeof reference !== 'string' || !reference.startsWith('$') || reference.length < 2) {
    throw invalidPolicy(`Invalid Condition: '${operator}' takes a field reference such as "$key" and a value.`);
  }
  const listValued = operator === 'in' || operator === 'not-in';
  if (listValued ? !Array.isArray(value) || value.some((item) => typeof item !== 'string') : typeof value !== 'string') {
    throw invalidPolicy(`Invalid Condition: the value of a '${operator}' condition must be ${listValued ? 'a list of strings' : 'a string'}.`);
  }
  return fieldCondition(operator as PolicyOperator, reference.slice(1), value as string | string[], reference);
}

function fieldCondition(operator: PolicyOperator, name: string, value: string | readonly string[], reference: string): FieldCondition {
  return { operator, field: name.toLowerCase(), value, text: `[${[operator, reference, value].map((part) => JSON.stringify(part)).join(', ')}]` };
}

/** AccessDenied once the policy's expiration has passed. */
export function checkExpiration(policy: PostPolicy, now: Date): void {
  if (now.getTime() >= policy.expiration.getTime()) throw deniedByPolicy('Policy expired.');
}

/**
 * Checks every field condition against the form (`context` supplies what is not a form field,
 * such as `bucket`), then, where the dialect asks it, that every field is named by a condition.
 * A field the form lacks is the empty string: `["starts-with", "$x", ""]` allows its absence.
 */
export function checkConditions(policy: PostPolicy, fields: FormFields, context: FormFields, rules: PolicyRules): void {
  for (const condition of policy.conditions) {
    const actual = context.get(condition.field) ?? fields.get(condition.field) ?? '';
    if (!satisfies(condition, actual, rules)) throw deniedByPolicy(`Policy Condition failed: ${condition.text}`);
  }
  if (!rules.coverageExempt) return;
  const named = new Set(policy.conditions.map((condition) => condition.field));
  const extra = [...fields.keys()].filter((name) => !named.has(name) && !rules.coverageExempt!(name));
  if (extra.length > 0) throw deniedByPolicy(`Extra input fields: ${extra.join(', ')}`);
}

function satisfies(condition: FieldCondition, actual: string, rules: PolicyRules): boolean {
  const { operator, value } = condition;
  switch (operator) {
    case 'eq':
      return actual === value;
    case 'starts-with': {
      const prefix = value as string;
      if (prefix === '') return true;
      // AWS: `image/jpg,image/png` meets ["starts-with", "$Content-Type", "image/"] when each type does.
      if (rules.listFields?.includes(condition.field) && actual.includes(',')) {
        return actual.split(',').every((item) => item.trim().startsWith(prefix));
      }
      return actual.startsWith(prefix);
    }
    case 'in':
      return (value as readonly string[]).includes(actual);
    case 'not-in':
      return !(value as readonly string[]).includes(actual);
  }
}

export function entityTooLarge(proposed: number, max: number): ServiceError {
  return new ServiceError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400, {
    ProposedSize: String(proposed),
    MaxSizeAllowed: String(max),
  });
}

export function entityTooSmall(proposed: number, min: number): ServiceError {
  return new ServiceError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', 400, {
    ProposedSize: String(proposed),
    MinSizeAllowed: String(min),
  });
}

/**
 * The file's bytes, refused as they arrive once they pass the policy's maximum: reading stops at
 * the first byte too many (the engine then removes what it staged), so an oversized file is never
 * read whole. Its minimum can only be checked at the end: `checkMinimum`.
 */
export async function* withinMaximum(body: AsyncIterable<Buffer>, size: SizeRange | undefined): AsyncGenerator<Buffer> {
  let received = 0;
  for await (const chunk of body) {
    received += chunk.length;
    if (size && received > size.max) throw entityTooLarge(received, size.max);
    yield chunk;
  }
}

/** EntityTooSmall for a file under the policy's minimum (run before the object is committed). */
export function checkMinimum(received: number, size: SizeRange | undefined): void {
  if (size && received < size.min) throw entityTooSmall(received, size.min);
}

/** `${filename}` in a field's value, replaced by the file's name (past its last slash), as AWS and OSS do. */
export function expandFilename(value: string, filename: string): string {
  return value.split('${filename}').join(filename);
}
