import { ServiceError } from './errors.js';
import type { Metadata, StoredPolicy, StoredPolicyAttachment, StoredUserPolicy } from './metadata/types.js';
import { parsePolicy, type Policy } from './policy.js';

/**
 * What confines a user (core/authorization.ts, step 4): identity policies in the AWS policy
 * language without a Principal, of two kinds, as IAM has them:
 *
 * - inline policies, a document kept with one user under a name (core/identities.ts,
 *   `/-/admin/users/ID/policies/NAME`);
 * - managed policies (this module): a named document of its own, attached to any number of users
 *   (`/-/admin/policies/NAME`, `/-/admin/users/ID/attached-policies/NAME`). Replacing its document
 *   changes what every attached user may do at once; it cannot be deleted while attached
 *   (DeleteConflict, as IAM answers DeletePolicy).
 *
 * A user's policies are all of both kinds together; a user with none has their default access.
 * Every change is followed by the identities' reload (and NOTIFY), so it is in force on every node.
 */

/** IAM's policy names. */
export const POLICY_NAME = /^[A-Za-z0-9+=,.@_-]{1,128}$/;

export interface PolicyView {
  name: string;
  created: string;
  updated: string;
  /** The users it is attached to. */
  users: string[];
}

export interface AttachedPolicyView {
  name: string;
  /** When it was attached to the user. */
  attached: string;
}

export const policyErrors = {
  invalidName: () => new ServiceError('InvalidArgument', 'A policy name is 1 to 128 letters, digits and "+=,.@_-".', 400),
  noSuchPolicy: (name: string) => new ServiceError('NoSuchEntity', `The policy ${JSON.stringify(name)} does not exist.`, 404),
  notAttached: (userId: string, name: string) =>
    new ServiceError('NoSuchEntity', `The policy ${JSON.stringify(name)} is not attached to the user ${JSON.stringify(userId)}.`, 404),
  deleteConflict: (name: string, users: string[]) =>
    new ServiceError(
      'DeleteConflict',
      `The policy ${JSON.stringify(name)} is attached to ${users.length === 0 ? 'a user' : users.map((id) => JSON.stringify(id)).join(', ')}: detach it first.`,
      409,
    ),
};

/** What the managed policies need of core/identities.ts. */
export interface PolicyHost {
  /** The user, or NoSuchUser. */
  requireUser(userId: string): Promise<{ root: boolean }>;
  /** ReadOnlyUser: root, who is never confined. */
  readOnly(userId: string): Error;
  /** Whether a user id exists (for the policy language's checks). */
  exists(id: string): boolean;
  /** After a change: reloads this node and tells the others. */
  changed(): Promise<void>;
}

export class ManagedPolicies {
  constructor(
    private readonly metadata: Metadata,
    private readonly host: PolicyHost,
  ) {}

  async list(): Promise<PolicyView[]> {
    const [policies, attachments] = await Promise.all([this.metadata.listPolicies(), this.metadata.listPolicyAttachments()]);
    return policies.map((policy) => policyView(policy, attachments));
  }

  /** The document as it was put. */
  async get(name: string): Promise<string> {
    return (await this.find(name)).document;
  }

  /** Creates the policy or replaces its document: in force for every attached user from the answer on. */
  async put(name: string, document: string): Promise<PolicyView> {
    if (!POLICY_NAME.test(name)) throw policyErrors.invalidName();
    parseUserPolicy(document, this.host);
    const now = new Date();
    await this.metadata.putPolicy({ name, document, created: now, updated: now });
    await this.host.changed();
    const [policy, attachments] = await Promise.all([this.find(name), this.metadata.listPolicyAttachments()]);
    return policyView(policy, attachments);
  }

  /** Refused (DeleteConflict) while the policy is attached to a user. */
  async remove(name: string): Promise<void> {
    const outcome = await this.metadata.deletePolicy(name);
    if (outcome === 'missing') throw policyErrors.noSuchPolicy(name);
    if (outcome === 'attached') {
      const users = (await this.metadata.listPolicyAttachments()).filter((a) => a.policyName === name).map((a) => a.userId);
      throw policyErrors.deleteConflict(name, users);
    }
    await this.host.changed();
  }

  /** The managed policies attached to a user. */
  async attachedTo(userId: string): Promise<AttachedPolicyView[]> {
    await this.host.requireUser(userId);
    return (await this.metadata.listPolicyAttachments())
      .filter((attachment) => attachment.userId === userId)
      .map((attachment) => ({ name: attachment.policyName, attached: attachment.created.toISOString() }));
  }

  /** Attaching an attached policy again changes nothing (as IAM's AttachUserPolicy). */
  async attach(userId: string, name: string): Promise<{ userId: string; name: string }> {
    if ((await this.host.requireUser(userId)).root) throw this.host.readOnly(userId);
    if (!(await this.metadata.attachPolicy({ userId, policyName: name, created: new Date() }))) throw policyErrors.noSuchPolicy(name);
    await this.host.changed();
    return { userId, name };
  }

  async detach(userId: string, name: string): Promise<void> {
    await this.host.requireUser(userId);
    if (!(await this.metadata.detachPolicy(userId, name))) throw policyErrors.notAttached(userId, name);
    await this.host.changed();
  }

  private async find(name: string): Promise<StoredPolicy> {
    const found = (await this.metadata.listPolicies()).find((policy) => policy.name === name);
    if (!found) throw policyErrors.noSuchPolicy(name);
    return found;
  }
}

/**
 * Every confined user's policies, parsed: their inline ones and the managed ones attached to them
 * (each managed document parsed once, however many users it is attached to). A stored document
 * that no longer parses (a Tessera that reads policies more strictly) still confines its users,
 * to what their other policies allow, and is told to `onError`.
 */
export function policiesByUser(
  stored: { inline: StoredUserPolicy[]; managed: StoredPolicy[]; attachments: StoredPolicyAttachment[] },
  users: { exists(id: string): boolean },
  onError: (err: Error) => void,
): Map<string, Policy[]> {
  const byUser = new Map<string, Policy[]>();
  const add = (userId: string, policy: Policy | undefined) => {
    const list = byUser.get(userId) ?? [];
    byUser.set(userId, list);
    if (policy) list.push(policy);
  };
  const parse = (document: string, what: string): Policy | undefined => {
    try {
      return parseUserPolicy(document, users);
    } catch (err) {
      onError(new Error(`${what} does not parse; its users are allowed nothing by it: ${(err as Error).message}`));
      return undefined;
    }
  };
  for (const entry of stored.inline) add(entry.userId, parse(entry.document, `policy ${entry.name} of ${entry.userId}`));
  const managed = new Map(stored.managed.map((policy) => [policy.name, parse(policy.document, `managed policy ${policy.name}`)]));
  for (const attachment of stored.attachments) add(attachment.userId, managed.get(attachment.policyName));
  return byUser;
}

/**
 * A user policy: the AWS policy language as core/policy.ts reads it, without a Principal (it
 * speaks for the user it is attached to); refusals in IAM's words (MalformedPolicyDocument).
 */
export function parseUserPolicy(document: string, users: { exists(id: string): boolean }): Policy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw malformedDocument('This policy contains invalid Json');
  }
  const statements = (parsed as { Statement?: unknown } | null)?.Statement;
  for (const statement of Array.isArray(statements) ? statements : [statements]) {
    if (statement && typeof statement === 'object' && ('Principal' in statement || 'NotPrincipal' in statement)) {
      throw malformedDocument('Policy document should not specify a principal.');
    }
  }
  try {
    return parsePolicy(document, { userExists: (id) => users.exists(id) });
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'MalformedPolicy') throw malformedDocument(err.message);
    throw err;
  }
}

function malformedDocument(message: string): ServiceError {
  return new ServiceError('MalformedPolicyDocument', message, 400);
}

function policyView(policy: StoredPolicy, attachments: StoredPolicyAttachment[]): PolicyView {
  return {
    name: policy.name,
    created: policy.created.toISOString(),
    updated: policy.updated.toISOString(),
    users: attachments.filter((attachment) => attachment.policyName === policy.name).map((attachment) => attachment.userId),
  };
}
