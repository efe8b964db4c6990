/**
 * Numeric options, parsed the same way by every command: a value that is not a whole number in
 * range is refused by commander (through InvalidArgumentError), which names the option —
 * `error: option '--part-size <bytes>' argument '0' is invalid. must be a positive integer.` —
 * and the program exits 2 (main.ts's exitOverride). Never `Number(x)` on an option's text
 * elsewhere: `Number('')` is 0, `Number('1e3')` is 1000 and `parseInt('12abc')` is 12.
 */
import { InvalidArgumentError } from 'commander';

const DIGITS = /^\d+$/;

function whole(value: string, what: string): number {
  const text = value.trim();
  if (!DIGITS.test(text)) throw new InvalidArgumentError(`must be ${what}.`);
  const number = Number(text);
  if (!Number.isSafeInteger(number)) throw new InvalidArgumentError(`must be ${what} (at most ${Number.MAX_SAFE_INTEGER}).`);
  return number;
}

/** 1, 2, 3, … */
export function positiveInt(value: string): number {
  const number = whole(value, 'a positive integer');
  if (number < 1) throw new InvalidArgumentError('must be a positive integer.');
  return number;
}

/** 0, 1, 2, … */
export function nonNegativeInt(value: string): number {
  return whole(value, 'a non-negative integer');
}

/** A whole number from `min` to `max`. */
export function intInRange(min: number, max: number) {
  const what = `an integer from ${min} to ${max}`;
  return (value: string): number => {
    const number = whole(value, what);
    if (number < min || number > max) throw new InvalidArgumentError(`must be ${what}.`);
    return number;
  };
}

/** One of the listed whole numbers (`1 or 2`). */
export function oneOfInts<T extends number>(...allowed: T[]) {
  const what = allowed.join(' or ');
  return (value: string): T => {
    const number = whole(value, what);
    if (!allowed.includes(number as T)) throw new InvalidArgumentError(`must be ${what}.`);
    return number as T;
  };
}

/** A decimal number above 0 (`20`, `0.5`), for rates; no exponent, sign or empty text. */
export function positiveDecimal(value: string): number {
  const text = value.trim();
  const number = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(number > 0) || !Number.isFinite(number)) throw new InvalidArgumentError('must be a number above 0.');
  return number;
}
