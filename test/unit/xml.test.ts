/** The XML writer's runs of differently named siblings kept in order (S3's interleaved ListObjectVersions). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inOrder, toXml } from '../../src/dialects/common/xml.js';

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
