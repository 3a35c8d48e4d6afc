import assert from 'node:assert/strict';
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  verify as cryptoVerify,
} from 'node:crypto';
import { describe, it } from 'node:test';
import {
  buildManifest,
  canonicalJson,
  ChunkAssembler,
  decodeMessage,
  encodeMessage,
  generateSigningKeyPair,
  manifestSigningBytes,
  sha256Hex,
  signingKeyId,
  signManifest,
  splitIntoChunks,
  topics,
  verifyChunk,
  verifyManifest,
  type ManifestMessage,
} from '@edgecompress/protocol';

const signer = generateSigningKeyPair();
const data = randomBytes(150_000);
const manifest = signManifest(
  buildManifest(data, {
    contentType: 'application/onnx',
    createdAt: 1_767_225_600_000,
    chunkSize: 65_536,
    name: 'model.onnx',
  }),
  signer.privateKeyPem,
);

describe('canonicalJson', () => {
  it('sorts keys at every level and drops whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }),
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });
  it('is independent of key insertion order', () => {
    assert.equal(
      canonicalJson({ x: 1, y: [true, null] }),
      canonicalJson({ y: [true, null], x: 1 }),
    );
  });
  it('refuses values JSON cannot carry exactly', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), /non-finite/);
    assert.throws(() => canonicalJson({ a: 1n }), /bigint/);
  });
});

describe('manifest signing', () => {
  it('describes the artifact: size, chunk layout and hashes', () => {
    assert.equal(manifest.size, 150_000);
    assert.equal(manifest.chunkCount, 3);
    assert.equal(manifest.sha256, sha256Hex(data));
    assert.equal(manifest.chunks[2], sha256Hex(data.subarray(131_072)));
    assert.equal(manifest.signature.keyId, signer.keyId);
  });

  it('verifies with the signer public key, also after a JSON round trip with reordered keys', () => {
    assert.ok(verifyManifest(manifest, signer.publicKeyPem).ok);
    const reordered = Object.fromEntries(
      Object.entries(JSON.parse(JSON.stringify(manifest))).reverse(),
    );
    assert.ok(
      verifyManifest(reordered, [generateSigningKeyPair().publicKeyPem, signer.publicKeyPem]).ok,
    );
  });

  it('fails on any single-byte change of the payload as transmitted', () => {
    const publicKey = createPublicKey(signer.publicKeyPem);
    const payload = encodeMessage('manifest', manifest);
    const topic = topics.artifactManifest(manifest.sha256);
    for (let i = 0; i < payload.length; i++) {
      const tampered = Buffer.from(payload);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      const decoded = decodeMessage(topic, tampered);
      const accepted =
        decoded.ok &&
        verifyManifest(decoded.value.kind === 'manifest' ? decoded.value.message : null, publicKey)
          .ok;
      assert.equal(
        accepted,
        false,
        `byte ${i} (${String.fromCharCode(payload[i] as number)}) changed and still verified`,
      );
    }
  });

  it('signs exactly the canonical bytes of every field but the signature', () => {
    const { signature: _s, ...unsigned } = manifest;
    assert.deepEqual(manifestSigningBytes(manifest), Buffer.from(canonicalJson(unsigned)));
    assert.ok(
      cryptoVerify(
        null,
        manifestSigningBytes(manifest),
        signer.publicKeyPem,
        Buffer.from(manifest.signature.value, 'base64'),
      ),
    );
  });

  it('fails on a changed signature byte, a foreign key and a missing signature', () => {
    const sig = Buffer.from(manifest.signature.value, 'base64');
    for (let i = 0; i < sig.length; i += 7) {
      const bad = Buffer.from(sig);
      bad[i] = (bad[i] as number) ^ 0x01;
      const tampered = {
        ...manifest,
        signature: { ...manifest.signature, value: bad.toString('base64') },
      };
      const result = verifyManifest(tampered, signer.publicKeyPem);
      assert.ok(!result.ok && result.code === 'SIGNATURE_INVALID');
    }
    const foreign = verifyManifest(manifest, generateSigningKeyPair().publicKeyPem);
    assert.ok(!foreign.ok && foreign.code === 'SIGNATURE_INVALID');
    const { signature: _s, ...unsigned } = manifest;
    const missing = verifyManifest(unsigned, signer.publicKeyPem);
    assert.ok(!missing.ok && missing.code === 'SCHEMA_INVALID');
  });

  it('names a key the same from PEM, key object or private key, on every call (parsed keys kept)', () => {
    const der = createPublicKey(signer.publicKeyPem).export({ type: 'spki', format: 'der' });
    const expected = sha256Hex(der).slice(0, 16);
    assert.equal(signer.keyId, expected);
    const privateKey = createPrivateKey(signer.privateKeyPem);
    for (let round = 0; round < 3; round++) {
      assert.equal(signingKeyId(signer.publicKeyPem), expected);
      assert.equal(signingKeyId(createPublicKey(signer.publicKeyPem)), expected);
      assert.equal(signingKeyId(privateKey), expected);
      assert.equal(signingKeyId(signer.privateKeyPem), expected);
    }
    assert.throws(() => signingKeyId('not a key'));
  });

  it('still tells trusted from foreign keys once many keys have been seen', () => {
    const strangers = Array.from({ length: 70 }, () => generateSigningKeyPair());
    for (const stranger of strangers) {
      const foreign = verifyManifest(manifest, stranger.publicKeyPem);
      assert.ok(!foreign.ok && /no trusted key/.test(foreign.message));
    }
    const pems = [...strangers.map((k) => k.publicKeyPem), signer.publicKeyPem];
    assert.ok(verifyManifest(manifest, pems).ok);
    const bad = Buffer.from(manifest.signature.value, 'base64');
    bad[0] = (bad[0] as number) ^ 0x01;
    const tampered = {
      ...manifest,
      signature: { ...manifest.signature, value: bad.toString('base64') },
    };
    const refused = verifyManifest(tampered, pems);
    assert.ok(!refused.ok && refused.code === 'SIGNATURE_INVALID');
    const otherSigner = strangers[0]!;
    const theirs = signManifest(manifest, otherSigner.privateKeyPem);
    assert.equal(theirs.signature.keyId, otherSigner.keyId);
    assert.ok(!verifyManifest(theirs, signer.publicKeyPem).ok);
    assert.ok(verifyManifest(theirs, pems).ok);
  });

  it('rejects an extra field even if the rest is intact (strict schema)', () => {
    const result = verifyManifest({ ...manifest, extra: 1 }, signer.publicKeyPem);
    assert.ok(!result.ok && result.code === 'SCHEMA_INVALID');
  });

  it('rejects a chunk layout that does not add up', () => {
    const result = verifyManifest({ ...manifest, chunkCount: 4 }, signer.publicKeyPem);
    assert.ok(!result.ok && result.code === 'SCHEMA_INVALID');
  });

  it('travels on its topic and decodes back to the same manifest', () => {
    const result = decodeMessage(
      topics.artifactManifest(manifest.sha256),
      encodeMessage('manifest', manifest),
    );
    assert.ok(result.ok && result.value.kind === 'manifest');
    assert.deepEqual(result.value.message, manifest);
    const wrongTopic = decodeMessage(
      topics.artifactManifest('00'.repeat(32)),
      encodeMessage('manifest', manifest),
    );
    assert.ok(!wrongTopic.ok && wrongTopic.error.code === 'TOPIC_MISMATCH');
  });
});

describe('chunking and reassembly', () => {
  it('splits into chunkSize pieces with a short tail', () => {
    const chunks = splitIntoChunks(data, 65_536);
    assert.deepEqual(
      chunks.map((c) => c.length),
      [65_536, 65_536, 18_928],
    );
    assert.deepEqual(Buffer.concat(chunks), data);
  });

  it('reassembles from out-of-order, duplicated chunks and reports what is missing', () => {
    const chunks = splitIntoChunks(data, manifest.chunkSize);
    const assembler = new ChunkAssembler(manifest);
    assert.ok(assembler.accept(2, chunks[2] as Buffer).ok);
    assert.ok(assembler.accept(2, chunks[2] as Buffer).ok);
    assert.deepEqual(assembler.missing(), [0, 1]);
    const early = assembler.assemble();
    assert.ok(!early.ok && early.code === 'INCOMPLETE');
    assert.ok(assembler.accept(0, chunks[0] as Buffer).ok);
    assert.ok(assembler.accept(1, chunks[1] as Buffer).ok);
    const done = assembler.assemble();
    assert.ok(done.ok);
    assert.deepEqual(done.data, data);
  });

  it('refuses corrupted, truncated and out-of-range chunks and never stores them', () => {
    const chunks = splitIntoChunks(data, manifest.chunkSize);
    const assembler = new ChunkAssembler(manifest);
    const corrupted = Buffer.from(chunks[1] as Buffer);
    corrupted[100] = (corrupted[100] as number) ^ 0xff;
    assert.equal(verifyChunk(manifest, 1, corrupted).ok, false);
    const r1 = assembler.accept(1, corrupted);
    assert.ok(!r1.ok && r1.code === 'CHECKSUM_MISMATCH');
    const r2 = assembler.accept(1, (chunks[1] as Buffer).subarray(1));
    assert.ok(!r2.ok && r2.code === 'CHUNK_SIZE_MISMATCH');
    const r3 = assembler.accept(3, chunks[0] as Buffer);
    assert.ok(!r3.ok && r3.code === 'CHUNK_OUT_OF_RANGE');
    assert.equal(assembler.receivedCount, 0);
  });

  it('catches a manifest whose chunk hashes are consistent but whose whole hash is not', () => {
    const forged: ManifestMessage = { ...manifest, sha256: '00'.repeat(32) };
    const assembler = new ChunkAssembler(forged);
    splitIntoChunks(data, manifest.chunkSize).forEach((chunk, i) => assembler.accept(i, chunk));
    const result = assembler.assemble();
    assert.ok(!result.ok && result.code === 'CHECKSUM_MISMATCH');
  });
});
