/** Talking to the user: confirmation prompts, and lines rewritten in place as ossutil does. */
import { createInterface } from 'node:readline';

let pendingLines: string[] | undefined;
let waiting: Array<(line: string | undefined) => void> = [];
let ended = false;

function startReading(): void {
  if (pendingLines !== undefined) return;
  pendingLines = [];
  const reader = createInterface({ input: process.stdin, terminal: false });
  reader.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else pendingLines!.push(line);
  });
  reader.on('close', () => {
    ended = true;
    for (const next of waiting) next(undefined);
    waiting = [];
  });
}

/** One line from stdin; undefined at end of input. */
export function readLine(): Promise<string | undefined> {
  startReading();
  if (pendingLines!.length > 0) return Promise.resolve(pendingLines!.shift());
  if (ended) return Promise.resolve(undefined);
  return new Promise((resolve) => waiting.push(resolve));
}

/** Prints `question` and reads the answer: true for `y` or `yes` (any case), as ossutil's Scanln check. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(question);
  const answer = (await readLine())?.trim().toLowerCase();
  process.stdin.pause();
  return answer === 'y' || answer === 'yes';
}

/**
 * ossutil's getClearStr: a status line starts with `\r`; when it is shorter than the longest one
 * so far, that width is blanked first so no tail of an older line is left on screen.
 */
export class StatusLine {
  private width = 0;

  format(text: string): string {
    if (this.width <= text.length) {
      this.width = text.length;
      return `\r${text}`;
    }
    return `\r${' '.repeat(this.width)}\r${text}`;
  }
}
