import { consoleApi } from './console-api';

/** A bucket as the console API lists it: what ListBuckets says, plus what S3 cannot (objects and bytes). */
export interface BucketSummary {
  name: string;
  owner: string;
  created: string;
  objects: number;
  bytes: number;
}

export async function listBuckets(): Promise<BucketSummary[]> {
  return (await consoleApi<{ buckets: BucketSummary[] }>('GET', 'buckets')).buckets;
}
