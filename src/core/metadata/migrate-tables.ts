/**
 * What `tessera migrate` copies, table by table: the SQLite query that reads a table's rows in
 * primary-key order, and the PostgreSQL columns (with their types) they go into. Both schemas
 * have the same tables and columns (sqlite-schema.ts, postgres-schema.ts); the differences are
 * spelled out here. Leases and rate windows are not copied: they describe running nodes.
 */

export interface TargetColumn {
  name: string;
  /** The PostgreSQL type of the column, as the element type of the array the batch is sent in. */
  type: 'text' | 'int8' | 'int4' | 'bytea';
  /** How the inserted value is made from the sent one (`value` stands for it); the value itself by default. */
  expression?: (value: string) => string;
}

export interface TableCopy {
  /** The table's name in both databases. */
  name: string;
  /** Reads every row, one value per target column in the same order, in primary-key order. */
  select: string;
  columns: TargetColumn[];
  /** Counts the rows `select` reads. */
  count: string;
  /** The rows carry values for a GENERATED ALWAYS identity column (kept, not renumbered). */
  explicitIdentity?: boolean;
}

const text = (name: string): TargetColumn => ({ name, type: 'text' });
const int8 = (name: string): TargetColumn => ({ name, type: 'int8' });
const int4 = (name: string): TargetColumn => ({ name, type: 'int4' });
const bytea = (name: string): TargetColumn => ({ name, type: 'bytea' });
/** SQLite keeps a boolean as 0 or 1 (NULL stays NULL), PostgreSQL as BOOLEAN. */
const bool = (name: string): TargetColumn => ({ name, type: 'int4', expression: (value) => `(${value} <> 0)` });

/** The columns of an object row, current (objects) or noncurrent (object_versions). */
function objectColumns(): TargetColumn[] {
  return [
    int8('id'),
    text('bucket'),
    text('key'),
    int8('size'),
    text('etag'),
    int8('last_modified'),
    text('headers'),
    text('user_meta'),
    int4('parts_count'),
    text('crc64'),
    text('checksum_algorithm'),
    text('checksum_type'),
    bytea('checksum_value'),
    text('content_md5'),
    text('content_sha1'),
    text('upload_id'),
    text('tags'),
    text('version_id'),
    text('lock_mode'),
    int8('lock_until'),
    bool('legal_hold'),
    text('acl'),
    text('encryption'),
  ];
}

function table(name: string, columns: TargetColumn[], orderBy: string, sourceColumns?: string[], explicitIdentity = false): TableCopy {
  const read = (sourceColumns ?? columns.map((column) => column.name)).map((column) => `"${column}"`).join(', ');
  return { name, columns, select: `SELECT ${read} FROM ${name} ORDER BY ${orderBy}`, count: `SELECT count(*) AS n FROM ${name}`, explicitIdentity };
}

/** The settings row that holds the root credentials a node generated (see src/server/root-credentials.ts). */
export const ROOT_CREDENTIALS_SETTING = 'root-credentials';

/**
 * Every table copied, in an order that never needs a row before what it names (there are no
 * foreign keys, but the order reads naturally and keeps each index warm).
 */
export function tablesToCopy(options: { settingsExcept?: string } = {}): TableCopy[] {
  const settings = table('settings', [text('name'), text('value')], 'name');
  if (options.settingsExcept !== undefined) {
    // The root credentials come from the node's file instead (it is what a single node reads).
    const except = `'${options.settingsExcept.replace(/'/g, "''")}'`;
    settings.select = `SELECT "name", "value" FROM settings WHERE name <> ${except} ORDER BY name`;
    settings.count = `SELECT count(*) AS n FROM settings WHERE name <> ${except}`;
  }
  return [
    table('buckets', [text('name'), text('owner'), int8('created_at')], 'name'),
    table('bucket_configs', [text('bucket'), text('kind'), text('document')], 'bucket, kind'),
    table('objects', objectColumns(), 'id', undefined, true),
    // Noncurrent versions and delete markers (a marker has no id).
    table('object_versions', [...objectColumns(), int8('seq'), bool('delete_marker'), int8('noncurrent_since')], 'bucket, key, seq'),
    table('segments', [int8('object_id'), int4('seq'), text('blob_id'), int8('offset'), int8('size'), int4('part_number'), int8('blob_crc32c')], 'object_id, seq'),
    table(
      'uploads',
      [
        text('upload_id'),
        text('bucket'),
        text('key'),
        text('owner'),
        int8('initiated'),
        text('headers'),
        text('user_meta'),
        text('checksum_algorithm'),
        text('checksum_type'),
        int8('completed_at'),
        text('completed_fingerprint'),
        text('completed_etag'),
        text('tags'),
        text('lock_mode'),
        int8('lock_until'),
        bool('legal_hold'),
        text('acl'),
        text('encryption'),
      ],
      'upload_id',
    ),
    table(
      'parts',
      [
        text('upload_id'),
        int4('part_number'),
        text('blob_id'),
        int8('size'),
        text('etag'),
        int8('last_modified'),
        text('crc64'),
        text('checksum_algorithm'),
        bytea('checksum_value'),
        int8('blob_crc32c'),
      ],
      'upload_id, part_number',
    ),
    settings,
    // Sealed under the data directory's master.key, which the cluster's nodes share with it.
    table('users', [text('id'), text('display_name'), bool('enabled'), bool('admin'), int8('created')], 'id'),
    table('access_keys', [text('access_key_id'), text('sealed_secret'), text('user_id'), bool('enabled'), int8('created')], 'access_key_id'),
    table('user_policies', [text('user_id'), text('name'), text('document'), int8('created')], 'user_id, name'),
    // Before their attachments, which PostgreSQL's foreign key wants to find them.
    table('policies', [text('name'), text('document'), int8('created'), int8('updated')], 'name'),
    table('policy_attachments', [text('user_id'), text('policy_name'), int8('created')], 'user_id, policy_name'),
    table('kms_keys', [text('id'), text('alias'), text('description'), text('sealed_key'), bool('enabled'), int8('created')], 'id'),
    // PostgreSQL breaks ties between tokens issued in the same millisecond by `seq`, SQLite by
    // rowid: the rowid becomes the seq, so the same token is the oldest on both.
    table(
      'tokens',
      [text('hash'), int8('seq'), text('client_id'), int8('issued_at'), int8('expires_at'), int8('revoked_at')],
      'rowid',
      ['hash', 'rowid', 'client_id', 'issued_at', 'expires_at', 'revoked_at'],
      true,
    ),
    table(
      'upload_sessions',
      [
        text('id'),
        text('client_id'),
        text('bucket'),
        text('key'),
        text('requested_key'),
        text('upload_id'),
        text('etag'),
        int8('size'),
        int8('slice_size'),
        int4('duplicate'),
        text('status'),
        int8('file_id'),
        text('message'),
        int8('created_at'),
      ],
      'id',
    ),
    // SQLite keeps the slices' ETags as a JSON array, PostgreSQL as TEXT[].
    table(
      'hash_states',
      [
        text('session_id'),
        int4('next'),
        int8('size'),
        bytea('md5'),
        bytea('sha1'),
        {
          name: 'etags',
          type: 'text',
          expression: (value) =>
            `ARRAY(SELECT element FROM json_array_elements_text(${value}::json) WITH ORDINALITY AS e(element, n) ORDER BY n)`,
        },
      ],
      'session_id',
    ),
    table('trash', [int8('object_id'), text('bucket'), int8('trashed_at')], 'object_id'),
  ];
}

/**
 * The INSERT of one batch: each column's values as one array parameter, unnested into rows, so a
 * batch of any size is one statement with as many parameters as the table has columns.
 */
export function insertStatement(copy: TableCopy): string {
  const names = copy.columns.map((column) => `"${column.name}"`).join(', ');
  const arrays = copy.columns.map((column, index) => `$${index + 1}::${column.type}[]`).join(', ');
  const aliases = copy.columns.map((_, index) => `c${index}`);
  const values = copy.columns.map((column, index) => (column.expression ? column.expression(`batch.${aliases[index]}`) : `batch.${aliases[index]}`));
  const overriding = copy.explicitIdentity ? ' OVERRIDING SYSTEM VALUE' : '';
  return `INSERT INTO ${copy.name} (${names})${overriding} SELECT ${values.join(', ')} FROM unnest(${arrays}) AS batch(${aliases.join(', ')})`;
}

/** A batch of rows (each an array of column values) as one array per column. */
export function columnsOf(rows: unknown[][], width: number): unknown[][] {
  const columns = Array.from({ length: width }, () => new Array<unknown>(rows.length));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let c = 0; c < width; c++) columns[c]![r] = row[c] ?? null;
  }
  return columns;
}
