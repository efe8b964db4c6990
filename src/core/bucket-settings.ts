import { bucketPolicyOf, CONFIG_ACTIONS } from './authorization.js';
import { policyIsPublic, type Policy } from './policy.js';
import { aclDocument, checkBucketAcl, defaultAcl, type Acl } from './acl.js';
import { parsePublicAccessBlockDocument, publicAccessBlockDocument } from './public-access.js';
import { errors } from './errors.js';
import { newWormId } from './ids.js';
import * as objectLock from './object-lock.js';
import type { VersioningStatus } from './versioning.js';
import type { BucketConfigKind, Metadata } from './metadata/types.js';
import { requireBucket } from './engine-parts.js';
import type { Actor, ObjectLockConfiguration, PublicAccessBlock } from './types.js';

/**
 * A bucket's settings, protocol-free: its configuration documents (one per kind, kept for an
 * engine module: core/cors.ts's rules, core/lifecycle.ts's, …), its policy, ACL and Block Public
 * Access, Object Lock configuration, versioning and OSS's bucket WORM. Every call is authorised
 * (core/authorization.ts) with the action the setting needs, for every dialect.
 */
export class BucketSettings {
  constructor(
    private readonly meta: Metadata,
    /** Told of a bucket whose access settings changed, so nothing decided on the old ones is reused. */
    private readonly changed: (bucket: string) => void,
  ) {}

  /** Stores the bucket's `kind` document, replacing any. */
  async putConfig(actor: Actor, bucket: string, kind: BucketConfigKind, document: string): Promise<void> {
    await this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS[kind].put);
      await tx.putBucketConfig(bucket, kind, document);
    });
    this.changed(bucket);
  }

  /** The bucket's `kind` document, if it has one. */
  async getConfig(actor: Actor, bucket: string, kind: BucketConfigKind): Promise<string | undefined> {
    await requireBucket(this.meta, actor, bucket, CONFIG_ACTIONS[kind].get);
    return this.meta.getBucketConfig(bucket, kind);
  }

  /**
   * Rewrites the bucket's `kind` document in one transaction: `change` gets the current one (if
   * any) and answers the new one, or undefined to remove it. For edits of part of a document
   * (OSS's DeleteBucketTags of some keys), so two at once cannot undo each other.
   */
  async updateConfig(
    actor: Actor,
    bucket: string,
    kind: BucketConfigKind,
    change: (document: string | undefined) => string | undefined,
  ): Promise<void> {
    await this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS[kind].put);
      const next = change(await tx.getBucketConfig(bucket, kind));
      if (next === undefined) await tx.deleteBucketConfig(bucket, kind);
      else await tx.putBucketConfig(bucket, kind, next);
    });
    this.changed(bucket);
  }

  async deleteConfig(actor: Actor, bucket: string, kind: BucketConfigKind): Promise<void> {
    await this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS[kind].delete);
      await tx.deleteBucketConfig(bucket, kind);
    });
    this.changed(bucket);
  }

  // Who may use the bucket (core/authorization.ts decides with these)

  /**
   * Stores a bucket policy, a public one only where Block Public Access allows. `parse` checks the
   * document against the bucket (the caller knows the users its principals may name); it runs
   * once the bucket is found and the actor may put its policy, so those errors come first.
   */
  async putPolicy(actor: Actor, bucket: string, parse: () => Policy): Promise<void> {
    await this.meta.transaction(async (tx) => {
      const info = await requireBucket(tx, actor, bucket, 's3:PutBucketPolicy');
      const policy = parse();
      if (info.access?.publicAccessBlock?.blockPublicPolicy && policyIsPublic(policy)) throw errors.publicAccessBlocked('policy');
      await tx.putBucketConfig(bucket, 'policy', policy.text);
    });
    this.changed(bucket);
  }

  /** Whether the bucket policy is public; undefined when the bucket has none. */
  async policyStatus(actor: Actor, bucket: string): Promise<{ isPublic: boolean } | undefined> {
    const info = await requireBucket(this.meta, actor, bucket, 's3:GetBucketPolicyStatus');
    const text = info.access?.policy;
    return text === undefined ? undefined : { isPublic: policyIsPublic(bucketPolicyOf(bucket, text)) };
  }

  /** The bucket's ACL: the one set, else its owner's FULL_CONTROL. */
  async getAcl(actor: Actor, bucket: string): Promise<Acl> {
    const info = await requireBucket(this.meta, actor, bucket, 's3:GetBucketAcl');
    return info.access?.acl ?? defaultAcl(info.owner);
  }

  /**
   * Sets the bucket's ACL, where its Object Ownership and Block Public Access allow that one.
   * `aclFor` builds it for the bucket's owner, once the bucket is found and the actor may.
   */
  async putAcl(actor: Actor, bucket: string, aclFor: (owner: string) => Acl): Promise<void> {
    await this.meta.transaction(async (tx) => {
      const info = await requireBucket(tx, actor, bucket, 's3:PutBucketAcl');
      const acl = aclFor(info.owner);
      checkBucketAcl(acl, info.access, false);
      await tx.putBucketConfig(bucket, 'acl', aclDocument(acl));
    });
    this.changed(bucket);
  }

  async putPublicAccessBlock(actor: Actor, bucket: string, block: PublicAccessBlock): Promise<void> {
    await this.putConfig(actor, bucket, 'public-access-block', publicAccessBlockDocument(block));
  }

  async getPublicAccessBlock(actor: Actor, bucket: string): Promise<PublicAccessBlock | undefined> {
    const document = await this.getConfig(actor, bucket, 'public-access-block');
    return document === undefined ? undefined : parsePublicAccessBlockDocument(document);
  }

  /**
   * The bucket's `kind` document for an answer given before (or without) authentication, such as
   * a CORS decision: no owner check, one read. Undefined when there is none or no such bucket.
   */
  configOf(bucket: string, kind: BucketConfigKind): Promise<string | undefined> {
    return this.meta.getBucketConfig(bucket, kind);
  }

  async putObjectLockConfiguration(actor: Actor, bucket: string, config: ObjectLockConfiguration): Promise<void> {
    await this.meta.transaction(async (tx) => objectLock.putConfiguration(tx, await requireBucket(tx, actor, bucket, 's3:PutBucketObjectLockConfiguration'), config));
  }

  async getObjectLockConfiguration(actor: Actor, bucket: string): Promise<ObjectLockConfiguration> {
    return objectLock.configurationOf(await requireBucket(this.meta, actor, bucket, 's3:GetBucketObjectLockConfiguration'));
  }

  // OSS bucket WORM (a retention policy over the bucket), kept by core/object-lock.ts

  async initiateWorm(actor: Actor, bucket: string, days: number): Promise<objectLock.BucketWorm> {
    return this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS.worm.put);
      return objectLock.initiateWorm(tx, bucket, days, newWormId(), new Date());
    });
  }

  async abortWorm(actor: Actor, bucket: string): Promise<void> {
    await this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS.worm.put);
      await objectLock.abortWorm(tx, bucket, new Date());
    });
  }

  async completeWorm(actor: Actor, bucket: string, wormId: string): Promise<void> {
    await this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS.worm.put);
      await objectLock.completeWorm(tx, bucket, wormId, new Date());
    });
  }

  async extendWorm(actor: Actor, bucket: string, wormId: string, days: number): Promise<void> {
    await this.meta.transaction(async (tx) => {
      await requireBucket(tx, actor, bucket, CONFIG_ACTIONS.worm.put);
      await objectLock.extendWorm(tx, bucket, wormId, days, new Date());
    });
  }

  async getWorm(actor: Actor, bucket: string): Promise<objectLock.BucketWorm> {
    await requireBucket(this.meta, actor, bucket, CONFIG_ACTIONS.worm.get);
    return objectLock.requireWorm(this.meta, bucket, new Date());
  }

  // Versioning (core/versioning.ts keeps the versions)

  async getVersioning(actor: Actor, bucket: string): Promise<VersioningStatus | undefined> {
    return (await requireBucket(this.meta, actor, bucket, 's3:GetBucketVersioning')).versioning;
  }

  /** Enabled or Suspended; a bucket never goes back to unversioned. */
  async putVersioning(actor: Actor, bucket: string, status: VersioningStatus): Promise<void> {
    await this.meta.transaction(async (tx) => {
      objectLock.checkVersioningChange(await requireBucket(tx, actor, bucket, 's3:PutBucketVersioning'), status);
      await tx.putBucketConfig(bucket, 'versioning', status);
    });
  }
}
