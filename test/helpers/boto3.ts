import { spawn, spawnSync } from 'node:child_process';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from './server.js';

/** Whether `python3` with boto3 is on PATH; cases that need it skip where it is not. */
export const BOTO3_AVAILABLE = spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' }).status === 0;

/**
 * Puts `s3` (a path-style boto3 client for the server that presigns with SigV4 too, one attempt
 * per call) and `args` (the JSON given) in scope, plus `out(value)` to hand a result back as JSON.
 */
const PRELUDE = `
import json, sys
import boto3
from botocore.config import Config

endpoint, access_key, secret_key, raw_args = sys.argv[1:5]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
)
args = json.loads(raw_args)

def out(value):
    print(json.dumps(value))
`;

/**
 * Runs a boto3 script against `server` as root and returns what it passed to `out`.
 * The environment carries no AWS or boto settings, so nothing of the user's applies.
 */
export function runBoto3(server: TestServer, script: string, args: unknown = {}): Promise<unknown> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(AWS_|BOTO_|BOTO3_)/i.test(name)) env[name] = value;
  }
  env.AWS_CONFIG_FILE = '/dev/null';
  env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';
  env.AWS_EC2_METADATA_DISABLED = 'true';
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PRELUDE + script, server.url, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, JSON.stringify(args)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`boto3 script exited ${code}:\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`boto3 script printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}
