/** The pan dialect's settings, read from the server's config file (`pan*` keys). */

export interface PanApp {
  clientID: string;
  clientSecret: string;
  /** The Tessera user the app acts as. */
  user: string;
  /** The user's drive bucket; default `pan-<user>` (made a valid bucket name). */
  bucket?: string;
}

export interface PanConfig {
  /** A second listener that serves only the pan dialect (`--pan-address`). */
  address?: { host: string; port: number };
  apps: PanApp[];
  /** Requests per second per app, by endpoint path without the leading slash. */
  rateLimits: Record<string, number>;
  /** A fixed slice size for every upload (tests, small deployments); default grows with the file. */
  sliceSize?: number;
  maxFileSize: number;
  /** `single/create` limit. */
  singleMaxSize: number;
  tokenTtlMs: number;
  /** How long presigned slice URLs and download URLs stay valid. */
  urlTtlMs: number;
  /** Reported as `spacePermanent` by user/info. */
  spaceBytes: number;
  /**
   * How long a node's hold on an upload's background work (hashing slices from disk, completion)
   * lasts unless renewed: a node that dies holding it is taken over after this.
   */
  leaseMs: number;
  /** How often each node looks for completions left unfinished (by a node that died). */
  recoveryIntervalMs: number;
}

const GiB = 1024 ** 3;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The documented QPS per clientID (2025); `panRateLimits` in the config overrides or adds. */
export const DEFAULT_RATE_LIMITS: Readonly<Record<string, number>> = {
  'api/v1/access_token': 8,
  'upload/v1/file/create': 5,
  'upload/v1/file/get_upload_url': 20,
  'upload/v1/file/list_upload_parts': 20,
  'upload/v1/file/upload_complete': 20,
  'upload/v1/file/upload_async_result': 5,
  'upload/v1/file/mkdir': 5,
  'api/v1/file/list': 1,
  'api/v2/file/list': 15,
  'api/v1/file/infos': 10,
  'api/v1/file/download_info': 5,
  'api/v1/file/delete': 1,
  'api/v1/file/trash': 5,
  'api/v1/file/move': 10,
  'api/v1/user/info': 10,
};

/** `file` is the parsed config file; `address` the already-parsed `--pan-address` (flag, env or file). */
export function parsePanConfig(file: Record<string, unknown>, address: { host: string; port: number } | undefined): PanConfig {
  const apps = file.panApps ?? [];
  if (!Array.isArray(apps)) throw new Error('config: panApps must be a list');
  const seen = new Set<string>();
  const parsedApps = apps.map((app: Record<string, unknown>, index) => {
    const field = (name: string, optional = false): string | undefined => {
      const value = app?.[name];
      if (value === undefined && optional) return undefined;
      if (typeof value !== 'string' || value === '') throw new Error(`config: panApps[${index}].${name} must be a non-empty string`);
      return value;
    };
    const parsed: PanApp = { clientID: field('clientID')!, clientSecret: field('clientSecret')!, user: field('user')!, bucket: field('bucket', true) };
    if (seen.has(parsed.clientID)) throw new Error(`config: panApps: duplicate clientID ${parsed.clientID}`);
    seen.add(parsed.clientID);
    return parsed;
  });
  const limits = file.panRateLimits ?? {};
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) throw new Error('config: panRateLimits must be an object');
  const rateLimits: Record<string, number> = { ...DEFAULT_RATE_LIMITS };
  for (const [path, qps] of Object.entries(limits)) {
    if (typeof qps !== 'number' || !(qps >= 0)) throw new Error(`config: panRateLimits["${path}"] must be a number (0 = unlimited)`);
    rateLimits[path.replace(/^\//, '')] = qps;
  }
  return {
    address,
    apps: parsedApps,
    rateLimits,
    sliceSize: positive(file.panSliceSize, 'panSliceSize'),
    maxFileSize: positive(file.panMaxFileSize, 'panMaxFileSize') ?? 10 * GiB,
    singleMaxSize: positive(file.panSingleMaxSize, 'panSingleMaxSize') ?? GiB,
    tokenTtlMs: (positive(file.panTokenTtlSeconds, 'panTokenTtlSeconds') ?? 30 * DAY_MS / 1000) * 1000,
    urlTtlMs: (positive(file.panUrlTtlSeconds, 'panUrlTtlSeconds') ?? DAY_MS / 1000) * 1000,
    spaceBytes: positive(file.panSpaceBytes, 'panSpaceBytes') ?? 2 * 1024 * GiB,
    leaseMs: (positive(file.panLeaseSeconds, 'panLeaseSeconds') ?? 30) * 1000,
    recoveryIntervalMs: (positive(file.panRecoverySeconds, 'panRecoverySeconds') ?? 30) * 1000,
  };
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0)) throw new Error(`config: ${name} must be a positive number`);
  return value;
}

const MiB = 1024 * 1024;

/**
 * The slice size for a file, growing with it as 123pan's does (16 MiB for ~50 MB, 64 MiB
 * for 3 GB were observed): 16 MiB up to 2 GiB, 64 MiB up to 16 GiB, 256 MiB beyond.
 */
export function sliceSizeFor(size: number, fixed?: number): number {
  if (fixed !== undefined) return fixed;
  if (size <= 2 * GiB) return 16 * MiB;
  if (size <= 16 * GiB) return 64 * MiB;
  return 256 * MiB;
}

export function sliceCount(size: number, sliceSize: number): number {
  return Math.max(1, Math.ceil(size / sliceSize));
}

/** A bucket name from a user id: lower-case letters, digits and dashes, 3 to 63 characters. */
export function defaultBucketFor(userId: string): string {
  const cleaned = userId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `pan-${cleaned || 'user'}`.slice(0, 63).replace(/-+$/, '');
}
