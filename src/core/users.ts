import type { Actor } from './types.js';

export interface User {
  id: string;
  displayName: string;
  accessKey: string;
  secretKey: string;
  root: boolean;
}

/** Every user, found by access key. Shared by every dialect's signature check. */
export class UserDirectory {
  private readonly byAccessKey = new Map<string, User>();

  constructor(users: User[]) {
    for (const user of users) {
      if (this.byAccessKey.has(user.accessKey)) throw new Error(`duplicate access key ${user.accessKey}`);
      this.byAccessKey.set(user.accessKey, user);
    }
  }

  byKey(accessKey: string): User | undefined {
    return this.byAccessKey.get(accessKey);
  }

  byId(id: string): User | undefined {
    for (const user of this.byAccessKey.values()) if (user.id === id) return user;
    return undefined;
  }

  /** Every user, in the order they were given (root first). */
  all(): User[] {
    return [...this.byAccessKey.values()];
  }

  secretOf = (accessKey: string): string | undefined => this.byAccessKey.get(accessKey)?.secretKey;
}

export function actorOf(user: User): Actor {
  return { userId: user.id, root: user.root };
}
