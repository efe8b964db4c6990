import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client, CompleteMultipartUploadCommand, type CompletedPart as SdkPart } from '@aws-sdk/client-s3';
import OSS from 'ali-oss';

import { ServiceError } from '../../src/core/errors.js';
import type { CompletedPart } from '../../src/core/types.js';
import { parseCompleteBody, parseCompleteBodyXml, scanCompleteBody, type ListedPart } from '../../src/dialects/common/complete-body.js';

/** What a reading ends in: the parts, or the error's code, status and message. */
type Outcome = { parts: CompletedPart[] } | { error: { code: string; status: number; message: string } };

function outcome(read: (text: string) => CompletedPart[], text: string): Outcome {
  try {
    return { parts: read(text) };
  } catch (err) {
    assert.ok(err instanceof ServiceError, `not a ServiceError: ${String(err)} for ${JSON.stringify(text)}`);
    return { error: { code: err.code, status: err.status, message: err.message } };
  }
}

/**
 * The property every document must have: the scanner either declines or reads exactly what
 * the XML parser reads, and parseCompleteBody ends as the parser does (same parts, or the
 * same error). Returns whether the scanner read it.
 */
function checkAgainstParser(text: string): boolean {
  const reference = outcome(parseCompleteBodyXml, text);
  const scanned = scanCompleteBody(text);
  if (scanned !== undefined) {
    assert.ok('parts' in reference, `scanner accepted what the parser rejects: ${JSON.stringify(text)}`);
    assert.deepEqual(scanned, reference.parts, `scanner and parser differ on ${JSON.stringify(text)}`);
  }
  assert.deepEqual(outcome(parseCompleteBody, text), reference, `parseCompleteBody differs from the parser on ${JSON.stringify(text)}`);
  if ('error' in reference) assert.equal(reference.error.code, 'MalformedXML');
  return scanned !== undefined;
}

/** mulberry32: a small seeded generator, so every run checks the same documents. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const md5s = ['9b2cf535f27731c974343645a3985328', '7ac66c0f148de9519b8bd264312c4d64', 'e4d909c290d0fb1ca068ffaddf22cbd0'];
const sdkParts: SdkPart[] = md5s.map((md5, i) => ({ PartNumber: i + 1, ETag: `"${md5}"` }));
const expected: CompletedPart[] = md5s.map((md5, i) => ({ partNumber: i + 1, etag: `"${md5}"` }));

/** The body @aws-sdk/client-s3 builds for CompleteMultipartUpload, taken from its request handler (nothing is sent). */
async function sdkBody(parts: SdkPart[]): Promise<string> {
  let body: unknown;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { body: unknown }) => {
        body = request.body;
        throw new Error('captured');
      },
    },
  });
  await assert.rejects(
    client.send(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', MultipartUpload: { Parts: parts } })),
    /captured/,
  );
  client.destroy();
  assert.equal(typeof body, 'string');
  return body as string;
}

/** The body ali-oss builds for completeMultipartUpload, taken from its request method (nothing is sent). */
async function aliOssBody(parts: Array<{ number: number; etag: string }>): Promise<string> {
  const client = new OSS({ accessKeyId: 'id', accessKeySecret: 'secret', bucket: 'bucket', region: 'oss-cn-hangzhou' }) as unknown as {
    request: (params: { content: string }) => Promise<never>;
    completeMultipartUpload: (name: string, uploadId: string, parts: Array<{ number: number; etag: string }>) => Promise<unknown>;
  };
  let body: string | undefined;
  client.request = async (params) => {
    body = params.content;
    throw new Error('captured');
  };
  await assert.rejects(client.completeMultipartUpload('k', 'u', parts), /captured/);
  assert.equal(typeof body, 'string');
  return body!;
}

const xmlns = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

describe('CompleteMultipartUpload body', () => {
  it('the scanner reads what real clients send, exactly as the XML parser does', async () => {
    const withChecksums: SdkPart[] = sdkParts.map((part, i) => ({
      ...part,
      ChecksumCRC32: 'AAAAAA==',
      ChecksumSHA256: i === 1 ? 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' : undefined,
    }));
    const bodies: Record<string, string> = {
      // @aws-sdk/client-s3: declaration, xmlns, ETag (as &quot;…&quot;) then Checksum* then PartNumber.
      'aws-sdk-js v3': await sdkBody(sdkParts),
      'aws-sdk-js v3 with checksums': await sdkBody(withChecksums),
      // ali-oss: declaration, no xmlns, a newline after each element, raw quotes.
      'ali-oss': await aliOssBody(md5s.map((md5, i) => ({ number: i + 1, etag: `"${md5}"` }))),
      // aws-sdk-go v1 (xmlutil) and v2 (smithy-go): xmlns, no declaration, fields in struct order, " as &#34;.
      'aws-sdk-go': `<CompleteMultipartUpload${xmlns}>${md5s.map((md5, i) => `<Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>&#34;${md5}&#34;</ETag><PartNumber>${i + 1}</PartNumber></Part>`).join('')}</CompleteMultipartUpload>`,
      // botocore (ElementTree): xmlns, no declaration, quotes left as they are.
      boto3: `<CompleteMultipartUpload${xmlns}>${md5s.map((md5, i) => `<Part><ETag>"${md5}"</ETag><PartNumber>${i + 1}</PartNumber></Part>`).join('')}</CompleteMultipartUpload>`,
      // s3cmd: no declaration, no xmlns, PartNumber first, the ETag as the server sent it (1.x) or bare (2.x).
      s3cmd: `<CompleteMultipartUpload>${md5s.map((md5, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>"${md5}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
    };
    const bareS3cmd = `<CompleteMultipartUpload>${md5s.map((md5, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${md5}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    assert.match(bodies['aws-sdk-js v3']!, /^<\?xml version="1\.0" encoding="UTF-8"\?><CompleteMultipartUpload xmlns="[^"]+"><Part><ETag>&quot;/);
    assert.match(bodies['aws-sdk-js v3 with checksums']!, /<ChecksumCRC32>AAAAAA==<\/ChecksumCRC32><ChecksumSHA256>/);
    assert.match(bodies['ali-oss']!, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<CompleteMultipartUpload>\n<Part>\n<PartNumber>1<\/PartNumber>\n/);
    // Checksum elements are read too, in document order.
    const crc32 = { name: 'CRC32', value: 'AAAAAA==' };
    const withListed: Record<string, ListedPart[]> = {
      'aws-sdk-js v3 with checksums': expected.map((part, i) => ({
        ...part,
        checksums: i === 1 ? [crc32, { name: 'SHA256', value: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' }] : [crc32],
      })),
      'aws-sdk-go': expected.map((part) => ({ ...part, checksums: [crc32] })),
    };
    for (const [client, body] of Object.entries(bodies)) {
      const parts = withListed[client] ?? expected;
      assert.deepEqual(scanCompleteBody(body), parts, client);
      assert.deepEqual(parseCompleteBodyXml(body), parts, client);
      assert.deepEqual(parseCompleteBody(body), parts, client);
    }
    const bare = md5s.map((md5, i) => ({ partNumber: i + 1, etag: md5 }));
    assert.deepEqual(scanCompleteBody(bareS3cmd), bare);
    assert.deepEqual(parseCompleteBodyXml(bareS3cmd), bare);
  });

  it('reads a 10,000-part body from the SDK as the parser does', async () => {
    const parts: SdkPart[] = Array.from({ length: 10_000 }, (_, i) => ({ PartNumber: i + 1, ETag: `"${md5s[i % 3]!}"` }));
    const body = await sdkBody(parts);
    const scanned = scanCompleteBody(body);
    assert.ok(scanned, 'the scanner declined the SDK body');
    assert.equal(scanned.length, 10_000);
    assert.deepEqual(scanned, parseCompleteBodyXml(body));
  });

  it('declines what clients do not send, and the parser decides it', () => {
    const part = '<Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part>';
    const wrap = (inner: string, root = '<CompleteMultipartUpload>') => `${root}${inner}</CompleteMultipartUpload>`;
    const declined = {
      'a comment': wrap(`<!-- c -->${part}`),
      'CDATA': wrap('<Part><PartNumber>1</PartNumber><ETag><![CDATA["x"]]></ETag></Part>'),
      'another entity': wrap('<Part><PartNumber>1</PartNumber><ETag>&#x22;x&#x22;</ETag></Part>'),
      'a carriage return': wrap(`\r\n${part}`),
      'an unknown element': wrap('<Part><PartNumber>1</PartNumber><ETag>"x"</ETag><Size>5</Size></Part>'),
      'an unknown element at the top': wrap(`<Quiet>true</Quiet>${part}`),
      'a repeated ETag': wrap('<Part><PartNumber>1</PartNumber><ETag>"x"</ETag><ETag>"y"</ETag></Part>'),
      'a repeated checksum': wrap('<Part><PartNumber>1</PartNumber><ETag>"x"</ETag><ChecksumCRC32>a</ChecksumCRC32><ChecksumCRC32>a</ChecksumCRC32></Part>'),
      'a namespace prefix': `<s3:CompleteMultipartUpload xmlns:s3="x"><s3:Part><s3:PartNumber>1</s3:PartNumber><s3:ETag>x</s3:ETag></s3:Part></s3:CompleteMultipartUpload>`,
      'another attribute': wrap(part, '<CompleteMultipartUpload foo="bar">'),
      'an empty part list': wrap(''),
      'a self-closed ETag': wrap('<Part><PartNumber>1</PartNumber><ETag/></Part>'),
      'non-ASCII text': wrap('<Part><PartNumber>1</PartNumber><ETag>"é"</ETag></Part>'),
      'a declaration in single quotes': `<?xml version='1.0' encoding='UTF-8'?>${wrap(part)}`,
      'a byte order mark': `\uFEFF${wrap(part)}`,
      'text between parts': wrap(`${part}x${part}`),
    };
    for (const [label, body] of Object.entries(declined)) {
      assert.equal(scanCompleteBody(body), undefined, label);
      checkAgainstParser(body);
    }
    // These the parser accepts: declining them must not lose them.
    assert.deepEqual(parseCompleteBody(declined['a comment']), [{ partNumber: 1, etag: '"x"' }]);
    assert.deepEqual(parseCompleteBody(declined['CDATA']), [{ partNumber: 1, etag: '"x"' }]);
    assert.deepEqual(parseCompleteBody(declined['another entity']), [{ partNumber: 1, etag: '"x"' }]);
    assert.deepEqual(parseCompleteBody(declined['a repeated checksum']), [
      { partNumber: 1, etag: '"x"', checksums: [{ name: 'CRC32', value: 'a' }, { name: 'CRC32', value: 'a' }] },
    ]);
  });

  it('every MalformedXML case still errors as the parser does', () => {
    const cases = [
      '',
      '   ',
      'not xml',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part>',
      '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>123456</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"&bogus;</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x" & "y"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a]]>b</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</Etag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload><CompleteMultipartUpload/>',
      '<CompleteMultipartUploads><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUploads>',
      ' <?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<?xml version=&quot;1.0&quot;?><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload xmlns=&quot;x&quot;><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload xmlns="a" xmlns="a"><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
    ];
    for (const body of cases) {
      assert.equal(scanCompleteBody(body), undefined, body);
      assert.throws(() => parseCompleteBody(body), { code: 'MalformedXML', status: 400 }, body);
      checkAgainstParser(body);
    }
  });

  it('valid variants and thousands of mutations of them: the scanner reads as the parser does, or declines', () => {
    const next = random(20261121);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    // Mostly what clients send, sometimes what they do not: the scanner must see both.
    const rarely = <T>(usual: T, unusual: readonly T[]): T => (next() < 0.96 ? usual : pick(unusual));
    const spaces = () => rarely(pick(['', '', '\n', ' ', '\t', '\n  ']), ['\r\n', '\r', ' \n\t ']);
    const etagText = (md5: string) =>
      rarely(pick([`&quot;${md5}&quot;`, `"${md5}"`, `&#34;${md5}&#34;`, md5]), [` ${md5} `, `W/"${md5}"`, `&apos;${md5.toUpperCase()}&apos;`, 'a&amp;b&lt;c&gt;d', '', '&#x22;x&#x22;']);
    const numberText = (n: number) => rarely(String(n), [`0${n}`, ` ${n} `, `${n}\n`, '99999', '100000', '0', 'x', '']);
    const checksumNames = ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256', 'ChecksumMD5'];

    function variant(): string {
      const declaration = rarely(pick(['', '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="utf-8"?>\n']), ['<?xml version="1.0"?>', ' ']);
      const root = rarely(pick(['<CompleteMultipartUpload>', `<CompleteMultipartUpload${xmlns}>`]), [`<CompleteMultipartUpload\n${xmlns.trim()} >`, "<CompleteMultipartUpload xmlns='x'>"]);
      const count = 1 + Math.floor(next() * 4);
      let body = declaration + spaces() + root;
      let number = 0;
      for (let i = 0; i < count; i++) {
        number += 1 + Math.floor(next() * 3);
        const children = [`<PartNumber>${numberText(number)}</PartNumber>`, `<ETag>${etagText(md5s[i % 3]!)}</ETag>`];
        for (const name of checksumNames) if (next() < 0.1) children.push(`<${name}>${pick(['AAAAAA==', 'q1w2e3/+=', ''])}</${name}>`);
        children.sort(() => next() - 0.5);
        body += spaces() + '<Part>' + children.map((child) => spaces() + child).join('') + spaces() + '</Part>';
      }
      return body + spaces() + '</CompleteMultipartUpload>' + rarely('', ['\n', ' ', 'x']);
    }

    const tokens = [
      '<', '>', '&', ';', '"', "'", '/', ' ', '\t', '\n', '\r', ']', ']]>', '=', '?', '!', 'é', '\u0000', '\uFFFE', '1', 'a', 'Z',
      '&quot;', '&#34;', '&#39;', '&apos;', '&amp;', '&lt;', '&gt;', '&#x22;', '&nbsp;', '&quot', '<!-- c -->', '<![CDATA[x]]>',
      '<?pi x?>', '<Part>', '</Part>', '<ETag>', '</ETag>', '<PartNumber>', '</PartNumber>', '<ChecksumSHA1>', '</ChecksumSHA1>',
      '<Part/>', '<ETag/>', 's3:', 'xmlns="a"', ' x="y"', '<?xml version="1.0" encoding="UTF-8"?>', '</CompleteMultipartUpload>',
    ];
    function mutate(text: string): string {
      let at = Math.floor(next() * (text.length + 1));
      switch (Math.floor(next() * 7)) {
        case 5: {
          // insert a token at the start or end of an element's text, or between tags
          const tag = text.indexOf(pick(['>', '<']), at);
          at = tag < 0 ? at : text[tag] === '>' ? tag + 1 : tag;
          return text.slice(0, at) + pick(tokens) + text.slice(at);
        }
        case 6: {
          // swap two children or parts: cut from one `<` to the next, paste it before another `<`
          const from = text.indexOf('<', at);
          const to = from < 0 ? -1 : text.indexOf('<', from + 1);
          if (to < 0) return text.slice(0, at) + pick(tokens) + text.slice(at);
          const piece = text.slice(from, to);
          const rest = text.slice(0, from) + text.slice(to);
          const target = rest.indexOf('<', Math.floor(next() * rest.length));
          return target < 0 ? rest + piece : rest.slice(0, target) + piece + rest.slice(target);
        }
        case 0: // delete a few characters
          return text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 3));
        case 1: // insert a token
          return text.slice(0, at) + pick(tokens) + text.slice(at);
        case 2: {
          // replace a character with a token
          return text.slice(0, at) + pick(tokens) + text.slice(at + 1);
        }
        case 3: {
          // repeat a stretch (duplicates elements, tags, references)
          const length = 1 + Math.floor(next() * 40);
          return text.slice(0, at + length) + text.slice(at, at + length) + text.slice(at + length);
        }
        default: {
          // move a stretch elsewhere
          const length = 1 + Math.floor(next() * 30);
          const piece = text.slice(at, at + length);
          const rest = text.slice(0, at) + text.slice(at + length);
          const to = Math.floor(next() * (rest.length + 1));
          return rest.slice(0, to) + piece + rest.slice(to);
        }
      }
    }

    let variants = 0;
    let variantsScanned = 0;
    let mutants = 0;
    let mutantsScanned = 0;
    let mutantsRejected = 0;
    for (let i = 0; i < 1500; i++) {
      const base = variant();
      variants++;
      if (checkAgainstParser(base)) variantsScanned++;
      for (let round = 0; round < 4; round++) {
        // One mutation, sometimes two: most documents stay close to valid, where a scanner slips.
        let text = mutate(base);
        if (next() < 0.25) text = mutate(text);
        mutants++;
        if (checkAgainstParser(text)) mutantsScanned++;
        if ('error' in outcome(parseCompleteBodyXml, text)) mutantsRejected++;
      }
    }
    // The corpus must exercise both paths, or the comparison proves nothing.
    assert.equal(variants, 1500);
    assert.equal(mutants, 6000);
    assert.ok(variantsScanned > 300, `only ${variantsScanned} of ${variants} variants were scanned`);
    assert.ok(variantsScanned < variants, 'no variant was declined');
    assert.ok(mutantsScanned > 300, `only ${mutantsScanned} of ${mutants} mutants were scanned`);
    assert.ok(mutantsRejected > 1000, `only ${mutantsRejected} of ${mutants} mutants were malformed`);
  });
});
