import { DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, type CORSRule } from '@aws-sdk/client-s3';
import { codeOf } from './errors';
import { crc32Base64 } from './crc32';
import { s3 } from './s3';

/** The bucket's CORS rules, or undefined when it has no CORS configuration. */
export async function getBucketCors(bucket: string): Promise<CORSRule[] | undefined> {
  try {
    const answer = await s3((client) => client.send(new GetBucketCorsCommand({ Bucket: bucket })));
    return answer.CORSRules ?? [];
  } catch (err) {
    if (codeOf(err) === 'NoSuchCORSConfiguration') return undefined;
    throw err;
  }
}

/**
 * PutBucketCors with the document exactly as the user wrote it, so the server judges it and
 * its error is what the user sees. The SDK serializes structured rules only: the body it made is
 * replaced after serialization (before signing, which covers the new body), with its length and
 * the CRC-32 S3 requires of this call (the SDK's own checksums are off in the browser).
 */
export async function putBucketCorsDocument(bucket: string, xml: string): Promise<void> {
  const bytes = new TextEncoder().encode(xml);
  const checksum = await crc32Base64(new Blob([bytes]));
  const command = new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [] } });
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown; headers: Record<string, string> };
      for (const name of Object.keys(request.headers)) {
        if (/^(content-md5|content-length|x-amz-checksum-|x-amz-sdk-checksum-)/i.test(name)) delete request.headers[name];
      }
      request.body = bytes;
      request.headers['content-length'] = String(bytes.length);
      request.headers['x-amz-checksum-crc32'] = checksum;
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'tesseraCorsDocumentAsWritten' },
  );
  await s3((client) => client.send(command));
}

export async function deleteBucketCors(bucket: string): Promise<void> {
  await s3((client) => client.send(new DeleteBucketCorsCommand({ Bucket: bucket })));
}

const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/** The rules as a CORSConfiguration document, one element a line, for editing. */
export function corsDocument(rules: CORSRule[]): string {
  const lines = ['<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'];
  for (const rule of rules) {
    lines.push('  <CORSRule>');
    if (rule.ID !== undefined) lines.push(`    <ID>${escapeXml(rule.ID)}</ID>`);
    for (const origin of rule.AllowedOrigins ?? []) lines.push(`    <AllowedOrigin>${escapeXml(origin)}</AllowedOrigin>`);
    for (const method of rule.AllowedMethods ?? []) lines.push(`    <AllowedMethod>${escapeXml(method)}</AllowedMethod>`);
    for (const header of rule.AllowedHeaders ?? []) lines.push(`    <AllowedHeader>${escapeXml(header)}</AllowedHeader>`);
    for (const header of rule.ExposeHeaders ?? []) lines.push(`    <ExposeHeader>${escapeXml(header)}</ExposeHeader>`);
    if (rule.MaxAgeSeconds !== undefined) lines.push(`    <MaxAgeSeconds>${rule.MaxAgeSeconds}</MaxAgeSeconds>`);
    lines.push('  </CORSRule>');
  }
  lines.push('</CORSConfiguration>');
  return lines.join('\n');
}

/** What the editor offers for a bucket with no rules yet: one rule to adapt. */
export const EXAMPLE_CORS_DOCUMENT = corsDocument([
  { AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET', 'PUT', 'POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 3000 },
]);
