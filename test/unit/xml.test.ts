/** The XML writer's runs of differently named siblings kept in order (S3's interleaved ListObjectVersions). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inOrder, listOf, toXml } from '../../src/dialects/common/xml.js';

const body = (xml: string) => xml.slice(xml.indexOf('\n') + 1);

describe('toXml with inOrder runs', () => {
  it('writes the run where it stands, in the order given, between the fields around it', () => {
    const xml = toXml({
      Root: {
        First: 1,
        ...inOrder([
          ['B', { K: 'b1' }],
          ['A', { K: 'a' }],
          ['B', { K: 'b2' }],
        ]),
        Last: 'z',
      },
    });
    assert.equal(body(xml), '<Root><First>1</First><B><K>b1</K></B><A><K>a</K></A><B><K>b2</K></B><Last>z</Last></Root>');
  });

  it('escapes the run’s text as any text; a CR becomes a character reference; text like a placeholder stays text', () => {
    const xml = toXml({ Root: { ...inOrder([['A', { K: 'a&b<c>\r' }], ['B', { K: '<TesseraInOrder0></TesseraInOrder0>' }]]) } });
    assert.equal(body(xml), '<Root><A><K>a&amp;b&lt;c&gt;&#xD;</K></A><B><K>&lt;TesseraInOrder0&gt;&lt;/TesseraInOrder0&gt;</K></B></Root>');
  });

  it('an empty run writes nothing; runs nest', () => {
    assert.equal(body(toXml({ Root: { ...inOrder([]), X: 1 } })), '<Root><X>1</X></Root>');
    const nested = toXml({ Root: { ...inOrder([['Outer', { ...inOrder([['Y', { V: 1 }], ['X', { V: 2 }]]) }]]) } });
    assert.equal(body(nested), '<Root><Outer><Y><V>1</V></Y><X><V>2</V></X></Outer></Root>');
  });
});

describe('toXml with listOf lists', () => {
  // Characters the builder escapes, control characters, and non-ASCII: keys may hold any of them.
  const ALPHABET = ['a', 'Z', '0', '/', ' ', '&', '<', '>', '"', "'", '\r', '\n', '\t', '\u0001', 'é', '日', '😀'];
  let seed = 7;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % below;
  };
  const text = () => Array.from({ length: 1 + random(12) }, () => ALPHABET[random(ALPHABET.length)]).join('');

  it('writes the same bytes as the builder does for the same elements', () => {
    for (let run = 0; run < 300; run++) {
      const entries = Array.from({ length: random(6) }, () => ({
        Key: text(),
        LastModified: '2026-12-05T10:00:00.000Z',
        ETag: `"${text()}"`,
        Size: random(1 << 20),
        Owner: random(2) ? { ID: text(), DisplayName: text() } : undefined,
        ChecksumAlgorithm: random(2) ? ['CRC32', text()] : undefined,
        StorageClass: random(3) ? 'STANDARD' : null,
      }));
      const prefixes = Array.from({ length: random(3) }, () => ({ Prefix: text() }));
      const viaBuilder = toXml({ ListBucketResult: { Name: 'b', Contents: entries, CommonPrefixes: prefixes, IsTruncated: false } });
      const viaList = toXml({ ListBucketResult: { Name: 'b', ...listOf('Contents', entries), ...listOf('CommonPrefixes', prefixes), IsTruncated: false } });
      assert.equal(viaList, viaBuilder, JSON.stringify(entries));
    }
  });
});
