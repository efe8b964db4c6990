import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The server master key and the secrets sealed under it (access keys' secrets in the metadata).
 *
 * Sealed format, text: `v1.<key id>.<base64url(nonce 12 | ciphertext | tag 16)>`, AES-256-GCM.
 * The key id is the first 8 hex digits of SHA-256 over the key: a secret sealed under another key
 * (a different TESSERA_MASTER_KEY, a replaced master.key) is named as such instead of failing as
 * "tampered", and a later rotation can keep old keys by id. The additional data binds a sealed
 * secret to what it is the secret of, so a sealed value copied onto another row does not open.
 */

export const MASTER_KEY_FILE = 'master.key';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

export class SecretBox {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`the master key must be ${KEY_BYTES} bytes`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  /** A key derived from the master key for one purpose (HKDF-SHA256): purposes never share key bytes. */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `tessera:${purpose}`, KEY_BYTES));
  }

  /** `secret` sealed for `context` (e.g. the access key id it belongs to). */
  seal(secret: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${FORMAT}.${this.keyId}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** The secret `sealed` holds; throws when it was sealed under another key, for another context, or altered. */
  open(sealed: string, context: string): string {
    const [format, keyId, payload, extra] = sealed.split('.');
    if (format !== FORMAT || keyId === undefined || payload === undefined || extra !== undefined) throw new Error('not a sealed secret');
    if (keyId !== this.keyId) throw new Error(`sealed under master key ${keyId}, not this server's (${this.keyId})`);
    const bytes = Buffer.from(payload, 'base64url');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed secret too short');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('sealed secret failed its integrity check (altered, or sealed for another key)');
    }
  }
}

/**
 * The master key: TESSERA_MASTER_KEY (32 bytes as 64 hex digits or base64), else `master.key` in the
 * data directory, made on first start. Every node of a cluster must have the same one: nodes on one
 * shared data directory read the same file (created with O_EXCL, so two starting at once agree);
 * nodes with their own directories need TESSERA_MASTER_KEY.
 */
export async function loadMasterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<SecretBox> {
  const fromEnv = env.TESSERA_MASTER_KEY;
  if (fromEnv !== undefined) return new SecretBox(parseMasterKey(fromEnv));
  const path = join(dataDir, MASTER_KEY_FILE);
  // Asked for before anything else is stored: the data directory may not exist yet.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const created = await createKeyFile(path);
  if (created) return new SecretBox(created);
  return new SecretBox(await readKeyFile(path));
}

/** 32 bytes from 64 hex digits or their base64 (padded or not, standard or URL alphabet); anything else is refused. */
export function parseMasterKey(text: string): Buffer {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const key = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new Error('TESSERA_MASTER_KEY must be 32 bytes, as 64 hex digits or 44 base64 characters (e.g. `openssl rand -base64 32`)');
}

/** The new key, or undefined when the file exists already (another start, or another node, made it). */
async function createKeyFile(path: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  const key = randomBytes(KEY_BYTES);
  try {
    // Hex and a newline: readable by an operator copying it into TESSERA_MASTER_KEY or a backup.
    await handle.writeFile(key.toString('hex') + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return key;
}

/** A node racing the creator may find the file still empty for a moment: it waits for the key rather than failing. */
async function readKeyFile(path: string): Promise<Buffer> {
  const mode = (await stat(path)).mode;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by others (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${path}`);
  }
  for (let attempt = 0; ; attempt++) {
    const text = await readFile(path, 'utf8');
    if (text.trim() !== '' || attempt >= 50) {
      try {
        return parseMasterKey(text);
      } catch {
        throw new Error(`${path} does not hold a master key (64 hex digits); restore it from your backup`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
