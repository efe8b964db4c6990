import { randomBytes, randomUUID } from 'node:crypto';
import { ServiceError } from './errors.js';
import type { Metadata, StoredKmsKey } from './metadata/types.js';
import { RecentlySeen } from './recently-seen.js';
import type { SecretBox } from './secret-box.js';

/**
 * The local KMS key store behind SSE-KMS: 256-bit keys made through the admin API (or, for a
 * request that names no key, the `aws/s3` key made on first use, as AWS makes its managed key),
 * their material sealed under the master key in the metadata. A key is named by its id (a UUID),
 * its ARN (`arn:aws:kms:<region>:<account>:key/<id>`), or `alias/aws/s3`. A disabled key seals
 * nothing new and opens nothing: its objects are unreadable until it is enabled again.
 */

export const DEFAULT_KEY_ALIAS = 'aws/s3';
const KEY_BYTES = 32;
const ARN_KEY = /^arn:aws:kms:[^:]*:[^:]*:key\/([^/]+)$/;
const ARN_ALIAS = /^arn:aws:kms:[^:]*:[^:]*:alias\/(.+)$/;
/** Key material and state, per node: enabling or disabling a key reaches every node within this. */
const CACHE_MS = 5_000;

export interface KmsKeyView {
  keyId: string;
  arn: string;
  alias?: string;
  description: string;
  enabled: boolean;
  created: string;
}

export const kmsErrors = {
  notFound: (name: string) => new ServiceError('KMS.NotFoundException', `Invalid keyId ${name}`, 400),
  disabled: (id: string) => new ServiceError('KMS.DisabledException', `${arnOf(id)} is disabled.`, 400),
  /** Reading an object whose key is disabled: S3 answers 403. */
  disabledForRead: (id: string) => new ServiceError('KMS.DisabledException', `${arnOf(id)} is disabled.`, 403),
};

export function arnOf(id: string): string {
  return `arn:aws:kms:us-east-1:tessera:key/${id}`;
}

export class KeyStore {
  private readonly seen = new RecentlySeen<{ key: StoredKmsKey; material: Buffer }>(CACHE_MS);

  constructor(
    private readonly meta: Metadata,
    private readonly master: SecretBox,
  ) {}

  async create(description: unknown = ''): Promise<KmsKeyView> {
    if (typeof description !== 'string' || description.length > 8192) {
      throw new ServiceError('InvalidArgument', 'description must be a string of at most 8192 characters', 400);
    }
    const key = this.newKey(randomUUID(), description);
    await this.meta.insertKmsKey(key);
    return view(key);
  }

  async list(): Promise<KmsKeyView[]> {
    return (await this.meta.listKmsKeys()).map(view);
  }

  async get(name: string): Promise<KmsKeyView> {
    return view(await this.find(name));
  }

  async setEnabled(name: string, enabled: boolean): Promise<KmsKeyView> {
    const key = await this.find(name);
    await this.meta.setKmsKeyEnabled(key.id, enabled);
    this.seen.forget(key.id);
    return view({ ...key, enabled });
  }

  /**
   * The key a write names (undefined: the `aws/s3` key, made on first use), with its material:
   * unknown or disabled keys are refused.
   */
  async forWrite(name: string | undefined): Promise<{ id: string; material: Buffer }> {
    const key = name === undefined ? await this.defaultKey() : await this.find(name);
    if (!key.enabled) throw kmsErrors.disabled(key.id);
    return { id: key.id, material: await this.material(key) };
  }

  /** The material of the key an object was sealed under (by id), unless the key is disabled. */
  async forRead(id: string): Promise<Buffer> {
    const cached = this.seen.get(id)?.value;
    const key = cached?.key ?? (await this.meta.getKmsKey(id));
    if (!key) throw kmsErrors.notFound(id);
    if (!key.enabled) throw kmsErrors.disabledForRead(id);
    return cached?.material ?? (await this.material(key));
  }

  private async material(key: StoredKmsKey): Promise<Buffer> {
    const cached = this.seen.get(key.id)?.value;
    if (cached) return cached.material;
    const material = Buffer.from(this.master.open(key.sealedKey, contextOf(key.id)), 'base64');
    this.seen.set(key.id, { key, material });
    return material;
  }

  private async find(name: string): Promise<StoredKmsKey> {
    const alias = name.startsWith('alias/') ? name.slice('alias/'.length) : ARN_ALIAS.exec(name)?.[1];
    const key = alias !== undefined ? await this.meta.kmsKeyByAlias(alias) : await this.meta.getKmsKey(ARN_KEY.exec(name)?.[1] ?? name);
    if (!key) throw kmsErrors.notFound(name);
    return key;
  }

  private async defaultKey(): Promise<StoredKmsKey> {
    const existing = await this.meta.kmsKeyByAlias(DEFAULT_KEY_ALIAS);
    if (existing) return existing;
    // Two nodes making it at once: the alias is unique, and the loser reads the winner's.
    await this.meta.insertKmsKey(this.newKey(randomUUID(), 'Default key for SSE-KMS requests that name none', DEFAULT_KEY_ALIAS));
    return (await this.meta.kmsKeyByAlias(DEFAULT_KEY_ALIAS))!;
  }

  private newKey(id: string, description: string, alias?: string): StoredKmsKey {
    const sealedKey = this.master.seal(randomBytes(KEY_BYTES).toString('base64'), contextOf(id));
    return { id, ...(alias ? { alias } : {}), description, sealedKey, enabled: true, created: new Date() };
  }
}

/** What a key's sealed material is bound to: a sealed value copied onto another key's row does not open. */
function contextOf(id: string): string {
  return `kms-key:${id}`;
}

function view(key: StoredKmsKey): KmsKeyView {
  return {
    keyId: key.id,
    arn: arnOf(key.id),
    ...(key.alias ? { alias: key.alias } : {}),
    description: key.description,
    enabled: key.enabled,
    created: key.created.toISOString(),
  };
}
