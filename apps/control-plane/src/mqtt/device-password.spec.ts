import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashDevicePassword, verifyDevicePassword } from './device-password';

describe('device password ($7$ PBKDF2-SHA512)', () => {
  it('verifies the secret it hashed and nothing else', async () => {
    const hash = await hashDevicePassword('s3cret', 101);
    assert.match(hash, /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    assert.equal(await verifyDevicePassword('s3cret', hash), true);
    assert.equal(await verifyDevicePassword('s3cret ', hash), false);
  });

  it('verifies an entry written by mosquitto_passwd 2.0', async () => {
    const fromMosquitto =
      '$7$101$rxoEtoaKYGbyleXZ$V4z+LdXXPFH73rNu09AvDsBtAX5UKdWlbKJSEPTT3UwckQG04acE+f3mGpRIzHYZcEe7YLhbedRCyJyOwBVSVg==';
    assert.equal(await verifyDevicePassword('secret', fromMosquitto), true);
  });

  it('rejects malformed hashes without throwing', async () => {
    for (const bad of ['', 'plain', '$6$1$abc$def', '$7$0$AAAA$AAAA', '$7$101$!!$AAAA']) {
      assert.equal(await verifyDevicePassword('secret', bad), false, bad);
    }
  });
});
