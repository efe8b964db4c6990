import { fieldMap, isFormPost, readFormHead } from '../dialects/common/form-upload.js';
import type { Dialect, RequestContext } from './dialect.js';

/**
 * A browser form upload says which dialect it speaks only in its body: S3's fields
 * (`x-amz-credential`) or OSS's (`OSSAccessKeyId`, `x-oss-credential`). An unsigned form post that
 * no dialect claimed by its headers has its fields before the file read here (`ctx.form`), and
 * goes to the dialect whose fields they are; the last dialect takes what none claims.
 */
export async function dialectForForm(ctx: RequestContext, dialects: readonly Dialect[], chosen: Dialect): Promise<Dialect> {
  const takers = dialects.filter((dialect) => dialect.formUploads !== undefined);
  const fallback = dialects[dialects.length - 1];
  if (takers.length === 0 || chosen !== fallback || !isFormPost(ctx.req) || ctx.req.headers.authorization !== undefined) return chosen;
  ctx.form = await readFormHead(ctx.req, Math.max(...takers.map((dialect) => dialect.formUploads!.maxPreDataBytes)));
  const fields = fieldMap(ctx.form.fields);
  return takers.find((dialect) => dialect !== fallback && dialect.formUploads!.claims(fields)) ?? chosen;
}
