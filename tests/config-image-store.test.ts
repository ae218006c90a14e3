/** IMAGE_STORE and the S3_* settings: fs by default, and startup errors that name the variable to set. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { createImageBlobStore } from '../src/providers/from-config';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('IMAGE_STORE configuration', () => {
  it('defaults to files under DATA_DIR/images, as before', async () => {
    const c = loadConfig({ DATA_DIR: '/srv/tl' });
    expect(c.IMAGE_STORE).toBe('fs');
    expect((await createImageBlobStore(c)).describe()).toBe(`files under ${c.imagesDir}`);
  });

  it('s3 needs S3_BUCKET', () => {
    expect(problems({ IMAGE_STORE: 's3' })).toEqual(['S3_BUCKET: required when IMAGE_STORE=s3 (the bucket images are stored in)']);
  });

  it('names the missing half of an AWS key pair, never echoing the other', () => {
    const p = problems({ IMAGE_STORE: 's3', S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY123456' });
    expect(p).toEqual(['AWS_SECRET_ACCESS_KEY: required with IMAGE_STORE=s3 when the other half of the AWS key pair is set']);
    expect(problems({ IMAGE_STORE: 's3', S3_BUCKET: 'b', AWS_SECRET_ACCESS_KEY: 'x' })[0]).toMatch(/^AWS_ACCESS_KEY_ID: required/);
  });

  it('rejects an unknown store and a malformed endpoint, naming each variable', () => {
    const p = problems({ IMAGE_STORE: 'gcs', S3_ENDPOINT: '127.0.0.1 9000' }).join('\n');
    expect(p).toMatch(/^IMAGE_STORE:/m);
    expect(p).toMatch(/^S3_ENDPOINT: expected an absolute URL/m);
  });

  it('reads the S3 settings (region default us-east-1, path style off) and describes the bucket without secrets', async () => {
    const c = loadConfig({ IMAGE_STORE: 's3', S3_BUCKET: 'tl-images', S3_ENDPOINT: 'http://user:pw@127.0.0.1:9000' });
    expect(c.S3_REGION).toBe('us-east-1');
    expect(c.S3_FORCE_PATH_STYLE).toBe(false);
    const text = (await createImageBlobStore({ ...c, S3_FORCE_PATH_STYLE: true })).describe();
    expect(text).toMatch(/^S3 bucket tl-images at http:\/\/.*127\.0\.0\.1:9000.*\(path-style\)$/);
    expect(text).not.toContain('pw');
    expect(loadConfig({ IMAGE_STORE: 's3', S3_BUCKET: 'b' }).S3_FORCE_PATH_STYLE).toBe(false);
    expect(loadConfig({ IMAGE_STORE: 's3', S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'on' }).S3_FORCE_PATH_STYLE).toBe(true);
  });
});
