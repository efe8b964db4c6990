import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/**
 * Bytes per read of a plaintext blob: 1 MiB. Against 256 KiB (what node's createReadStream was
 * given before), row 5 of the benchmark spends a quarter of the reads, promise hops and socket
 * writes; a larger read also keeps a cold disk's queue fuller. docs/benchmarks.md has the figures.
 */
export const READ_CHUNK_BYTES = 1 << 20;

/** Chunks read before the consumer asks for them (the stream's highWaterMark): a read is in flight while the socket drains the last one. */
const READ_AHEAD_CHUNKS = 2;

/** Buffers a stream keeps for reuse (what the read-ahead and a socket's writes in flight hold at once). */
const SPARE_BUFFERS = 6;

/** Bytes [from, to] (inclusive) of one blob file. */
export interface FilePiece {
  path: string;
  from: number;
  to: number;
}

/** What a reader of pieces is told (core/verified-read.ts checks the bytes with it). */
export interface PieceHooks {
  /**
   * Every chunk of piece `index`, before it is pushed; `complete` when it is the piece's last. A
   * throw fails the stream instead of pushing the chunk.
   */
  chunk(index: number, chunk: Buffer, complete: boolean): void;
  /** The file of piece `index` ended after `read` bytes, short of the piece: a throw fails the stream (else it goes on). */
  short(index: number, read: number): void;
}

/**
 * One Readable over `pieces`, one file after another, each opened only when its turn comes: reads
 * of READ_CHUNK_BYTES into buffers handed on as they are (no copy), READ_AHEAD_CHUNKS ahead of
 * the consumer. The same stream serves a full GET and a range (the pieces say which bytes).
 *
 * A consumer that knows when it is done with a chunk (the socket has taken it: the write's
 * callback) gives it back with `recycle`, and the next read goes into it: a fresh 1 MiB buffer is
 * fresh memory the kernel must fault in page by page, about 0.25 CPU s per GiB on the benchmark
 * machine (docs/benchmarks.md). A chunk not given back is simply collected.
 */
export class PieceStream extends Readable {
  private index = 0;
  private file?: FileHandle;
  private position = 0;
  private readInPiece = 0;
  private reading = false;
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly pieces: readonly FilePiece[],
    private readonly hooks?: PieceHooks,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES * READ_AHEAD_CHUNKS });
  }

  override _read(): void {
    if (!this.reading) void this.pump();
  }

  /** Reads and pushes until the stream's buffer is full (Readable calls _read again) or the pieces end. */
  private async pump(): Promise<void> {
    this.reading = true;
    try {
      for (;;) {
        const piece = this.pieces[this.index];
        if (!piece) {
          await this.closeFile();
          this.push(null);
          return;
        }
        if (!this.file) {
          const file = await open(piece.path, constants.O_RDONLY);
          if (this.destroyed) {
            await file.close();
            return;
          }
          this.file = file;
          this.position = piece.from;
          this.readInPiece = 0;
        }
        const want = Math.min(READ_CHUNK_BYTES, piece.to - this.position + 1);
        const buffer = this.bufferFor(want);
        const { bytesRead } = await this.file.read(buffer, 0, want, this.position);
        if (this.destroyed) return;
        if (bytesRead === 0) {
          this.hooks?.short(this.index, this.readInPiece);
          await this.nextPiece();
          continue;
        }
        this.position += bytesRead;
        this.readInPiece += bytesRead;
        const complete = this.position > piece.to;
        const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        this.hooks?.chunk(this.index, chunk, complete);
        if (complete) await this.nextPiece();
        if (!this.push(chunk)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.reading = false;
    }
  }

  /** Gives back a chunk this stream pushed, once nothing reads it any more: the next read may overwrite it. */
  recycle(chunk: Buffer): void {
    if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== READ_CHUNK_BYTES || this.spare.length >= SPARE_BUFFERS) return;
    this.spare.push(Buffer.from(chunk.buffer, 0, READ_CHUNK_BYTES));
  }

  /** A buffer for a read of `length` bytes: a spare one, else a whole chunk's for a whole chunk, else just what the read needs (a small object, a range). */
  private bufferFor(length: number): Buffer {
    const spare = this.spare.pop();
    if (spare) return length === READ_CHUNK_BYTES ? spare : spare.subarray(0, length);
    return length === READ_CHUNK_BYTES ? Buffer.allocUnsafeSlow(READ_CHUNK_BYTES) : Buffer.allocUnsafe(length);
  }

  private async nextPiece(): Promise<void> {
    await this.closeFile();
    this.index++;
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const file = this.file;
    this.file = undefined;
    if (!file) return callback(err);
    // A read in flight holds the handle; closing waits for it.
    file.close().then(
      () => callback(err),
      () => callback(err),
    );
  }
}
