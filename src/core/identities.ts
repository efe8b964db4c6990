import { randomBytes, randomInt } from 'node:crypto';
import { ServiceError } from './errors.js';
import type { Metadata, StoredAccessKey, StoredUser } from './metadata/types.js';
import type { SecretBox } from './secret-box.js';
import { TEMPORARY_KEY_PREFIX } from './temporary-credentials.js';
import { ManagedPolicies, parseUserPolicy, policiesByUser, POLICY_NAME } from './user-policies.js';
import { UserDirectory, type User } from './users.js';

/**
 * Users and access keys, live: the fixed ones (root and the config file's, read-only) and those
 * made through the admin API (kept in the metadata, secrets sealed under the master key). Every
 * change is written, then the directory the signature checks read is rebuilt at once on this
 * node; other nodes sharing a PostgreSQL store are told by NOTIFY and rebuild theirs, and every
 * node also rebuilds on a timer, in case a notification was lost.
 */

export interface UserView {
  id: string;
  displayName: string;
  enabled: boolean;
  admin: boolean;
  root: boolean;
  /** Root and config-file users: changed only in the config (or the environment), never through the API. */
  readOnly: boolean;
  created?: string;
  /** The names of the user's inline policies. */
  policies: string[];
  /** The names of the managed policies attached to the user. */
  attachedPolicies: string[];
}

export interface KeyView {
  accessKeyId: string;
  userId: string;
  enabled: boolean;
  readOnly: boolean;
  created?: string;
}

export const DEFAULT_RELOAD_INTERVAL_MS = 5_000;
/** Unknown access keys looked up in the metadata at once, at most (Identities.learn). */
export const KEY_LOOKUPS_AT_ONCE = 4;
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ACCESS_KEY_PREFIX = 'TK';
const ACCESS_KEY_LENGTH = 20;

export const identityErrors = {
  invalid: (message: string) => new ServiceError('InvalidArgument', message, 400),
  noSuchUser: (id: string) => new ServiceError('NoSuchUser', `The user ${JSON.stringify(id)} does not exist.`, 404),
  noSuchKey: (accessKeyId: string) =>
    new ServiceError('NoSuchAccessKey', `The user has no access key ${JSON.stringify(accessKeyId)}.`, 404),
  userExists: (id: string) => new ServiceError('UserAlreadyExists', `A user ${JSON.stringify(id)} already exists.`, 409),
  noSuchPolicy: (userId: string, name: string) =>
    new ServiceError('NoSuchEntity', `The user ${JSON.stringify(userId)} has no policy ${JSON.stringify(name)}.`, 404),
  readOnly: (id: string) =>
    new ServiceError(
      'ReadOnlyUser',
      `The user ${JSON.stringify(id)} comes from the server's configuration (root or the config file) and cannot be changed through the admin API.`,
      409,
    ),
};

export class Identities {
  readonly directory: UserDirectory;
  /** Managed policies: named documents attached to any number of users (core/user-policies.ts). */
  readonly policies: ManagedPolicies;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watcher: { close(): Promise<void> } | undefined;
  private closed = false;
  /** Keys whose sealed secret did not open (another master key, damage): logged once each. */
  private readonly unusable = new Set<string>();
  /** Stored keys a reload did not make usable (their user is disabled, …): not reloaded for again until this time. */
  private readonly notLearnable = new Map<string, number>();
  /** Lookups of unknown keys in flight (see learn). */
  private keyLookups = 0;

  private constructor(
    private readonly metadata: Metadata,
    private readonly box: SecretBox,
    /** Root first, then the config file's users, each with their one key. */
    private readonly fixed: User[],
    /** Told when a reload fails or a sealed secret does not open (never with the secret). */
    private readonly onError: (err: Error) => void,
  ) {
    this.directory = new UserDirectory(fixed);
    this.directory.learnUnknownKeysWith((accessKey) => this.learn(accessKey));
    this.policies = new ManagedPolicies(metadata, {
      requireUser: (userId) => this.getUser(userId),
      readOnly: (userId) => identityErrors.readOnly(userId),
      exists: (id) => this.directory.exists(id),
      changed: () => this.changed(),
    });
  }

  static async open(metadata: Metadata, box: SecretBox, fixed: User[], onError: (err: Error) => void = () => {}): Promise<Identities> {
    const identities = new Identities(metadata, box, fixed, onError);
    await identities.reload();
    return identities;
  }

  /** Listens for other nodes' changes and reloads every `intervalMs` as a safety net. */
  start(intervalMs = DEFAULT_RELOAD_INTERVAL_MS): void {
    if (this.timer) return;
    // A database that stays away is said once, not every interval, until a reload succeeds again.
    let failing = false;
    const reload = () =>
      void this.reload().then(
        () => (failing = false),
        (err: unknown) => {
          if (!failing) this.onError(new Error(`cannot read users and access keys (the last ones read stay in force): ${(err as Error).message}`));
          failing = true;
        },
      );
    this.watcher = this.metadata.watchIdentityChanges(reload);
    this.timer = setInterval(reload, intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.watcher?.close();
    await (this.queued ?? this.running)?.catch(() => undefined);
  }

  /**
   * Rebuilds the directory from the metadata. A call made while a reload runs gets the next one,
   * which starts after it: what was written before the call is always seen.
   */
  reload(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.runLoad();
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.runLoad();
      });
    return this.queued;
  }

  private runLoad(): Promise<void> {
    const running = this.load().finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }

  private async load(): Promise<void> {
    // Stopping: the metadata store is about to close under it.
    if (this.closed) return;
    const [users, keys, inline, managed, attachments] = await Promise.all([
      this.metadata.listUsers(),
      this.metadata.listAccessKeys(),
      this.metadata.listUserPolicies(),
      this.metadata.listPolicies(),
      this.metadata.listPolicyAttachments(),
    ]);
    const policiesOf = policiesByUser({ inline, managed, attachments }, this.directory, this.onError);
    const withPolicies = <T extends User>(user: T): T => {
      const policies = user.root ? undefined : policiesOf.get(user.id);
      return policies === undefined ? user : { ...user, policies };
    };
    const fixedKeys = new Set(this.fixed.map((user) => user.accessKey));
    const fixedIds = new Set(this.fixed.map((user) => user.id));
    const records: User[] = this.fixed.map(withPolicies);
    const disabled: string[] = [];
    const keysOf = new Map<string, StoredAccessKey[]>();
    for (const key of keys) {
      if (!key.enabled || fixedKeys.has(key.accessKeyId)) continue;
      const list = keysOf.get(key.userId);
      if (list) list.push(key);
      else keysOf.set(key.userId, [key]);
    }
    for (const user of users) {
      if (fixedIds.has(user.id)) continue;
      if (!user.enabled) {
        disabled.push(user.id);
        continue;
      }
      const base = withPolicies({ id: user.id, displayName: user.displayName, root: false, admin: user.admin, accessKey: '', secretKey: '' });
      let usable = 0;
      for (const key of keysOf.get(user.id) ?? []) {
        let secretKey: string;
        try {
          secretKey = this.box.open(key.sealedSecret, key.accessKeyId);
        } catch (err) {
          // Said once per key, not at every reload.
          if (!this.unusable.has(key.accessKeyId)) {
            this.unusable.add(key.accessKeyId);
            this.onError(new Error(`access key ${key.accessKeyId} of ${user.id} is unusable: ${(err as Error).message}`));
          }
          continue;
        }
        records.push({ ...base, accessKey: key.accessKeyId, secretKey });
        usable++;
      }
      // Found by id (bucket owners, pan apps) even without a key.
      if (usable === 0) records.push({ ...base, accessKey: '', secretKey: '' });
    }
    this.directory.replace(records, disabled);
  }

  /**
   * A key another node made a moment ago, before its notification reached this node: a reload
   * brings it in. Only a stored, enabled key triggers one, and one that stays unusable after it
   * does not trigger another until the next timed reload would have come anyway.
   */
  private async learn(accessKey: string): Promise<void> {
    const now = Date.now();
    if ((this.notLearnable.get(accessKey) ?? 0) > now) return;
    // Anyone can send made-up key ids: past a few lookups at once the rest are refused unlooked-up
    // (a real new key still arrives by notification), so a flood costs the store no more than that.
    if (this.keyLookups >= KEY_LOOKUPS_AT_ONCE) return;
    this.keyLookups++;
    let stored: StoredAccessKey | undefined;
    try {
      // A store that cannot answer leaves the key unknown: the request is refused, as it would fail anyway.
      stored = await this.metadata.getAccessKey(accessKey).catch(() => undefined);
    } finally {
      this.keyLookups--;
    }
    if (!stored?.enabled) return;
    await this.reload();
    if (this.directory.byKey(accessKey) !== undefined) {
      this.notLearnable.delete(accessKey);
      return;
    }
    for (const [key, until] of this.notLearnable) if (until <= now) this.notLearnable.delete(key);
    this.notLearnable.set(accessKey, now + DEFAULT_RELOAD_INTERVAL_MS);
  }

  /** After a change: this node's directory at once, the other nodes' by notification. */
  private async changed(): Promise<void> {
    await this.metadata.announceIdentityChange().catch((err: unknown) => this.onError(err as Error));
    await this.reload();
  }

  // Users

  async listUsers(): Promise<UserView[]> {
    const stored = await this.metadata.listUsers();
    const fixedIds = new Set(this.fixed.map((user) => user.id));
    const named = await this.policyNames();
    return [...this.fixed.filter(firstOfId).map(fixedView), ...stored.filter((user) => !fixedIds.has(user.id)).map(storedView)].map(named);
  }

  async getUser(id: string): Promise<UserView> {
    const fixed = this.fixed.find((user) => user.id === id);
    const stored = fixed ? undefined : (await this.metadata.listUsers()).find((user) => user.id === id);
    if (!fixed && !stored) throw identityErrors.noSuchUser(id);
    return (await this.policyNames())(fixed ? fixedView(fixed) : storedView(stored!));
  }

  /** Fills in a view's policy names (its inline policies, the managed ones attached to it). */
  private async policyNames(): Promise<(view: UserView) => UserView> {
    const [inline, attachments] = await Promise.all([this.metadata.listUserPolicies(), this.metadata.listPolicyAttachments()]);
    return (view) => ({
      ...view,
      policies: inline.filter((policy) => policy.userId === view.id).map((policy) => policy.name),
      attachedPolicies: attachments.filter((attachment) => attachment.userId === view.id).map((attachment) => attachment.policyName),
    });
  }

  async createUser(request: { id: unknown; displayName?: unknown; admin?: unknown }): Promise<UserView> {
    const { id, displayName = request.id, admin = false } = request;
    if (typeof id !== 'string' || !USER_ID.test(id)) {
      throw identityErrors.invalid('id must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.');
    }
    if (typeof displayName !== 'string' || displayName.length < 1 || displayName.length > 128 || /[\u0000-\u001f\u007f]/.test(displayName)) {
      throw identityErrors.invalid('displayName must be 1 to 128 characters, without control characters.');
    }
    if (typeof admin !== 'boolean') throw identityErrors.invalid('admin must be true or false.');
    if (this.fixed.some((user) => user.id === id)) throw identityErrors.userExists(id);
    const user: StoredUser = { id, displayName, enabled: true, admin, created: new Date() };
    if (!(await this.metadata.insertUser(user))) throw identityErrors.userExists(id);
    await this.changed();
    return storedView(user);
  }

  async setUserEnabled(id: string, enabled: boolean): Promise<UserView> {
    this.refuseFixed(id);
    if (!(await this.metadata.setUserEnabled(id, enabled))) throw identityErrors.noSuchUser(id);
    await this.changed();
    return this.getUser(id);
  }

  /** Removes the user and their keys. Their buckets stay, owned by the id (a user made again with it owns them again). */
  async removeUser(id: string): Promise<void> {
    this.refuseFixed(id);
    if (!(await this.metadata.deleteUser(id))) throw identityErrors.noSuchUser(id);
    await this.changed();
  }

  // Access keys

  async listKeys(userId: string): Promise<KeyView[]> {
    const fixed = this.fixed.filter((user) => user.id === userId);
    if (fixed.length > 0) return fixed.map((user) => ({ accessKeyId: user.accessKey, userId, enabled: true, readOnly: true }));
    await this.getUser(userId);
    return (await this.metadata.listAccessKeys()).filter((key) => key.userId === userId).map(keyView);
  }

  /** A new key; the only answer that ever carries its secret. */
  async createKey(userId: string): Promise<KeyView & { secretAccessKey: string }> {
    this.refuseFixed(userId);
    const taken = new Set(this.fixed.map((user) => user.accessKey));
    let accessKeyId: string;
    do accessKeyId = newAccessKeyId();
    while (taken.has(accessKeyId));
    // 30 random bytes: 40 base64 characters, the shape of an AWS secret access key.
    const secretAccessKey = randomBytes(30).toString('base64');
    const key: StoredAccessKey = {
      accessKeyId,
      sealedSecret: this.box.seal(secretAccessKey, accessKeyId),
      userId,
      enabled: true,
      created: new Date(),
    };
    if (!(await this.metadata.insertAccessKey(key))) throw identityErrors.noSuchUser(userId);
    await this.changed();
    return { ...keyView(key), secretAccessKey };
  }

  async setKeyEnabled(userId: string, accessKeyId: string, enabled: boolean): Promise<KeyView> {
    this.refuseFixed(userId);
    await this.getUser(userId);
    if (!(await this.metadata.setAccessKeyEnabled(userId, accessKeyId, enabled))) throw identityErrors.noSuchKey(accessKeyId);
    await this.changed();
    const key = (await this.metadata.listAccessKeys()).find((candidate) => candidate.accessKeyId === accessKeyId && candidate.userId === userId);
    if (!key) throw identityErrors.noSuchKey(accessKeyId);
    return keyView(key);
  }

  async removeKey(userId: string, accessKeyId: string): Promise<void> {
    this.refuseFixed(userId);
    await this.getUser(userId);
    if (!(await this.metadata.deleteAccessKey(userId, accessKeyId))) throw identityErrors.noSuchKey(accessKeyId);
    await this.changed();
  }

  // Policies attached to users

  async listUserPolicies(userId: string): Promise<Array<{ name: string; created: string }>> {
    await this.requireUser(userId);
    return (await this.metadata.listUserPolicies()).filter((p) => p.userId === userId).map((p) => ({ name: p.name, created: p.created.toISOString() }));
  }

  /** The document as it was put. */
  async getUserPolicy(userId: string, name: string): Promise<string> {
    await this.requireUser(userId);
    const found = (await this.metadata.listUserPolicies()).find((p) => p.userId === userId && p.name === name);
    if (!found) throw identityErrors.noSuchPolicy(userId, name);
    return found.document;
  }

  /** Attaches (or replaces) a policy: in force on every node from the answer on. Root is never confined. */
  async putUserPolicy(userId: string, name: string, document: string): Promise<{ userId: string; name: string }> {
    if (!POLICY_NAME.test(name)) throw identityErrors.invalid('A policy name is 1 to 128 letters, digits and "+=,.@_-".');
    const user = await this.requireUser(userId);
    if (user.root) throw identityErrors.readOnly(userId);
    parseUserPolicy(document, this.directory);
    await this.metadata.putUserPolicy({ userId, name, document, created: new Date() });
    await this.changed();
    return { userId, name };
  }

  async removeUserPolicy(userId: string, name: string): Promise<void> {
    await this.requireUser(userId);
    if (!(await this.metadata.deleteUserPolicy(userId, name))) throw identityErrors.noSuchPolicy(userId, name);
    await this.changed();
  }

  private async requireUser(id: string): Promise<UserView> {
    return this.getUser(id);
  }

  private refuseFixed(id: string): void {
    if (this.fixed.some((user) => user.id === id)) throw identityErrors.readOnly(id);
  }
}

function newAccessKeyId(): string {
  let id = ACCESS_KEY_PREFIX;
  while (id.length < ACCESS_KEY_LENGTH) id += ACCESS_KEY_ALPHABET[randomInt(ACCESS_KEY_ALPHABET.length)];
  // Never the temporary credentials' prefix (the prefix above already rules it out; kept explicit).
  return id.startsWith(TEMPORARY_KEY_PREFIX) ? newAccessKeyId() : id;
}

function firstOfId(user: User, index: number, all: User[]): boolean {
  return all.findIndex((other) => other.id === user.id) === index;
}

function fixedView(user: User): UserView {
  const admin = user.root || user.admin === true;
  return { id: user.id, displayName: user.displayName, enabled: true, admin, root: user.root, readOnly: true, policies: [], attachedPolicies: [] };
}

function storedView(user: StoredUser): UserView {
  const { id, displayName, enabled, admin } = user;
  return { id, displayName, enabled, admin, root: false, readOnly: false, created: user.created.toISOString(), policies: [], attachedPolicies: [] };
}

function keyView(key: StoredAccessKey): KeyView {
  return { accessKeyId: key.accessKeyId, userId: key.userId, enabled: key.enabled, readOnly: false, created: key.created.toISOString() };
}
