import type { Policy } from './policy.js';
import type { Actor } from './types.js';

/** One user as seen through one of their access keys (or, from `byId`, through their first). */
export interface User {
  id: string;
  displayName: string;
  /** The access key this record was found by ('' for a user with no usable key, found by id). */
  accessKey: string;
  secretKey: string;
  root: boolean;
  /** May use the admin API (root always may). */
  admin?: boolean;
  /** The policies attached to the user (core/identities.ts); absent: none, the user's default access. */
  policies?: readonly Policy[];
}

/**
 * Every enabled user and their enabled keys, found by access key or id. Shared by every dialect's
 * signature check, which looks up synchronously: a change (core/identities.ts) builds the next
 * maps aside and swaps them in at once, so a lookup sees the old directory or the new, never half.
 */
export class UserDirectory {
  private byAccessKey = new Map<string, User>();
  private byUserId = new Map<string, User>();
  private disabledIds = new Set<string>();
  /** Set by core/identities.ts: learns a key this node has not heard of yet (see `find`). */
  private learner: ((accessKey: string) => Promise<void>) | undefined;

  constructor(users: User[]) {
    this.replace(users);
  }

  learnUnknownKeysWith(learner: (accessKey: string) => Promise<void>): void {
    this.learner = learner;
  }

  /**
   * `byKey`, for a request about to be verified: a key not in the directory may have been made on
   * another node a moment ago, before this node's notification arrived, so the learner is asked
   * first (it reads that one key; unknown keys cost one lookup, never a reload).
   */
  async find(accessKey: string): Promise<User | undefined> {
    const known = this.byAccessKey.get(accessKey);
    if (known !== undefined || this.learner === undefined || accessKey === '') return known;
    await this.learner(accessKey);
    return this.byAccessKey.get(accessKey);
  }

  /**
   * The directory from now on: one record per usable key, plus keyless users (accessKey '') so
   * their id still resolves; `disabled`: users that exist but are refused for now.
   */
  replace(users: User[], disabled: Iterable<string> = []): void {
    const byAccessKey = new Map<string, User>();
    const byUserId = new Map<string, User>();
    for (const user of users) {
      if (user.accessKey !== '') {
        if (byAccessKey.has(user.accessKey)) throw new Error(`duplicate access key ${user.accessKey}`);
        byAccessKey.set(user.accessKey, user);
      }
      const known = byUserId.get(user.id);
      if (!known || (known.accessKey === '' && user.accessKey !== '')) byUserId.set(user.id, user);
    }
    this.byAccessKey = byAccessKey;
    this.byUserId = byUserId;
    this.disabledIds = new Set(disabled);
  }

  /** Whether a user of this id exists, enabled or not (config checks: a disabled user is no typo). */
  exists(id: string): boolean {
    return this.byUserId.has(id) || this.disabledIds.has(id);
  }

  byKey(accessKey: string): User | undefined {
    return this.byAccessKey.get(accessKey);
  }

  byId(id: string): User | undefined {
    return this.byUserId.get(id);
  }

  /** Every user once, in the order they were given (root first). */
  all(): User[] {
    return [...this.byUserId.values()];
  }

  secretOf = (accessKey: string): string | undefined => this.byAccessKey.get(accessKey)?.secretKey;
}

export function actorOf(user: User): Actor {
  return user.policies === undefined ? { userId: user.id, root: user.root } : { userId: user.id, root: user.root, policies: user.policies };
}
