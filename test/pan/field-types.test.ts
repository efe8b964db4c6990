import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestServer } from '../helpers/server.js';
import { APP, login, md5, ok, panCall, randomData, SLICE, startPanServer, type PanCallOptions } from './helpers.js';

/**
 * Every field of every pan endpoint has a type: a value of another type (a list for a number, an
 * object for a name, …) is refused with code 400 and a message naming the field, never read as
 * something else and answered code 0.
 */
describe('pan field types', () => {
  let server: TestServer;
  let token: string;
  let preuploadID: string;
  let fileID: number;
  const data = randomData(SLICE + 10);

  before(async () => {
    server = await startPanServer();
    token = await login(server.url);
    const created = await ok(server.url, 'POST', '/upload/v1/file/create', {
      token,
      json: { parentFileID: 0, filename: 'typed.bin', etag: md5(data), size: data.length },
    });
    preuploadID = created.preuploadID;
    const folder = await ok(server.url, 'POST', '/upload/v1/file/mkdir', { token, json: { name: 'typed-folder', parentID: 0 } });
    fileID = folder.dirID;
  });
  after(async () => {
    await server?.cleanup();
  });

  /** One call that must be refused with code 400 and a message naming `field`. */
  const refused = async (method: string, path: string, field: string, options: PanCallOptions) => {
    const { status, body } = await panCall(server.url, method, path, { token, ...options });
    const shown = `${method} ${path} ${JSON.stringify(options.json ?? options.query ?? options.form)}`;
    assert.equal(status, 200, shown);
    assert.equal(body.code, 400, `${shown}: ${JSON.stringify(body)}`);
    assert.equal(body.data, null, shown);
    assert.ok(body.message.includes(field), `${shown}: the message names ${field}: ${body.message}`);
  };

  it('create (V1 and V2), sha1_reuse: size as a list, filename as an object, and every other field of the wrong type', async () => {
    const valid = { parentFileID: 0, filename: 'fresh.bin', etag: md5(data), size: data.length };
    for (const path of ['/upload/v1/file/create', '/upload/v2/file/create']) {
      await refused('POST', path, 'size', { json: { ...valid, size: [data.length] } });
      await refused('POST', path, 'filename', { json: { ...valid, filename: { name: 'x.bin' } } });
      await refused('POST', path, 'filename', { json: { ...valid, filename: ['x.bin'] } });
      await refused('POST', path, 'filename', { json: { ...valid, filename: true } });
      await refused('POST', path, 'parentFileID', { json: { ...valid, parentFileID: [0] } });
      await refused('POST', path, 'parentFileID', { json: { ...valid, parentFileID: { id: 0 } } });
      await refused('POST', path, 'etag', { json: { ...valid, etag: [md5(data)] } });
      await refused('POST', path, 'duplicate', { json: { ...valid, duplicate: [1] } });
      await refused('POST', path, 'containDir', { json: { ...valid, containDir: { yes: true } } });
      await refused('POST', path, 'containDir', { json: { ...valid, containDir: 'maybe' } });
    }
    const sha1 = 'a'.repeat(40);
    await refused('POST', '/upload/v2/file/sha1_reuse', 'sha1', { json: { ...valid, sha1: [sha1] } });
    await refused('POST', '/upload/v2/file/sha1_reuse', 'size', { json: { ...valid, sha1, size: { bytes: 1 } } });
    // The same fields of the right types are accepted (numbers as strings too, booleans as booleans).
    await ok(server.url, 'POST', '/upload/v1/file/create', { token, json: { ...valid, size: String(data.length), containDir: false } });
  });

  it('the upload calls that take a preuploadID, a sliceNo', async () => {
    for (const path of [
      '/upload/v1/file/get_upload_url',
      '/upload/v1/file/list_upload_parts',
      '/upload/v1/file/upload_complete',
      '/upload/v1/file/upload_async_result',
      '/upload/v2/file/upload_complete',
    ]) {
      await refused('POST', path, 'preuploadID', { json: { preuploadID: [preuploadID], sliceNo: 1 } });
      await refused('POST', path, 'preuploadID', { json: { preuploadID: { id: preuploadID }, sliceNo: 1 } });
      await refused('POST', path, 'preuploadID', { json: { preuploadID: true, sliceNo: 1 } });
    }
    await refused('POST', '/upload/v1/file/get_upload_url', 'sliceNo', { json: { preuploadID, sliceNo: [1] } });
    await refused('POST', '/upload/v1/file/get_upload_url', 'sliceNo', { json: { preuploadID, sliceNo: { n: 1 } } });
  });

  it('the drive: mkdir, list, detail, infos, trash, recover, delete, move, name, rename, download_info', async () => {
    await refused('POST', '/upload/v1/file/mkdir', 'name', { json: { name: { n: 'x' }, parentID: 0 } });
    await refused('POST', '/upload/v1/file/mkdir', 'parentID', { json: { name: 'x', parentID: [0] } });
    // Query strings carry text only; a field given twice is a list where one value is wanted.
    await refused('GET', '/api/v2/file/list?parentFileId=0&parentFileId=1', 'parentFileId', {});
    await refused('GET', '/api/v2/file/list?limit=1&limit=2', 'limit', {});
    await refused('GET', '/api/v2/file/list?searchData=a&searchData=b', 'searchData', {});
    await refused('GET', `/api/v1/file/detail?fileID=${fileID}&fileID=${fileID}`, 'fileID', {});
    await refused('GET', `/api/v1/file/download_info?fileId=${fileID}&fileId=${fileID}`, 'fileId', {});
    await refused('POST', '/api/v1/file/infos', 'fileIds', { json: { fileIds: { id: fileID } } });
    await refused('POST', '/api/v1/file/infos', 'fileIds', { json: { fileIds: [[fileID]] } });
    for (const path of ['/api/v1/file/trash', '/api/v1/file/recover', '/api/v1/file/delete']) {
      await refused('POST', path, 'fileIDs', { json: { fileIDs: [{ id: fileID }] } });
      await refused('POST', path, 'fileIDs', { json: { fileIDs: true } });
    }
    await refused('POST', '/api/v1/file/move', 'fileIDs', { json: { fileIDs: [[fileID]], toParentFileID: 0 } });
    await refused('POST', '/api/v1/file/move', 'toParentFileID', { json: { fileIDs: [fileID], toParentFileID: [0] } });
    await refused('PUT', '/api/v1/file/name', 'fileId', { json: { fileId: [fileID], fileName: 'y' } });
    await refused('PUT', '/api/v1/file/name', 'fileName', { json: { fileId: fileID, fileName: { n: 'y' } } });
    await refused('POST', '/api/v1/file/rename', 'renameList', { json: { renameList: [{ id: fileID, name: 'y' }] } });
    await refused('POST', '/api/v1/file/rename', 'renameList', { json: { renameList: { [fileID]: 'y' } } });
    // Nothing was renamed or moved by any of them.
    const detail = await ok(server.url, 'GET', '/api/v1/file/detail', { token, query: { fileID } });
    assert.equal(detail.filename, 'typed-folder');
    assert.equal(detail.parentFileID, 0);
  });

  it('access_token: clientID and clientSecret', async () => {
    await refused('POST', '/api/v1/access_token', 'clientID', { token: undefined, json: { clientID: { id: APP.clientID }, clientSecret: APP.clientSecret } });
    await refused('POST', '/api/v1/access_token', 'clientSecret', { token: undefined, json: { clientID: APP.clientID, clientSecret: [APP.clientSecret] } });
  });
});
