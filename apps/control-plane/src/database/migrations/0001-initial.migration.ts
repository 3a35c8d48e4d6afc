import type { Migration } from './migration';

/** The first schema: everything the control plane must still know after a restart. */
export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  sql: `
    CREATE TABLE api_tokens (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      last_used_at INTEGER,
      revoked_at INTEGER
    );

    CREATE TABLE enrollment_tokens (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      max_uses INTEGER NOT NULL,
      uses INTEGER NOT NULL DEFAULT 0,
      expires_at INTEGER NOT NULL,
      tags_json TEXT NOT NULL DEFAULT '[]',
      groups_json TEXT NOT NULL DEFAULT '[]',
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    );

    CREATE TABLE devices (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      -- mosquitto's PBKDF2-SHA512 "$7$" format, so the same hash serves both brokers
      secret_hash TEXT,
      profile_id TEXT,
      profile_source TEXT CHECK (profile_source IN ('matched', 'user')),
      status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'online', 'offline')),
      -- the agent's connection counter: a state message with a lower epoch is stale
      connection_epoch INTEGER NOT NULL DEFAULT 0,
      state_sent_at INTEGER,
      agent_version TEXT,
      active_artifact_sha256 TEXT,
      active_variant_id TEXT,
      last_seen_at INTEGER,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    );

    CREATE TABLE device_tags (
      device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      tag TEXT NOT NULL,
      PRIMARY KEY (device_id, tag)
    );
    CREATE INDEX device_tags_by_tag ON device_tags(tag);

    CREATE TABLE device_groups (
      device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      group_name TEXT NOT NULL,
      PRIMARY KEY (device_id, group_name)
    );
    CREATE INDEX device_groups_by_group ON device_groups(group_name);

    CREATE TABLE device_facts (
      device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
      facts_json TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    );

    CREATE TABLE telemetry (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      received_at INTEGER NOT NULL,
      payload_json TEXT NOT NULL
    );
    CREATE INDEX telemetry_by_device ON telemetry(device_id, id);

    CREATE TABLE artifacts (
      sha256 TEXT PRIMARY KEY,
      bytes INTEGER NOT NULL,
      media_type TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      published_at INTEGER,
      chunk_bytes INTEGER,
      chunk_count INTEGER
    );

    CREATE TABLE models (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      format TEXT NOT NULL CHECK (format IN ('onnx', 'engine')),
      description TEXT,
      created_at INTEGER NOT NULL
    );

    CREATE TABLE variants (
      id TEXT PRIMARY KEY,
      model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
      parent_variant_id TEXT REFERENCES variants(id) ON DELETE SET NULL,
      name TEXT NOT NULL,
      method TEXT NOT NULL,
      options_json TEXT NOT NULL DEFAULT '{}',
      provenance_json TEXT NOT NULL DEFAULT '{}',
      format TEXT NOT NULL,
      params INTEGER,
      flops INTEGER,
      bytes INTEGER NOT NULL,
      accuracy REAL,
      artifact_sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
      created_at INTEGER NOT NULL
    );
    CREATE INDEX variants_by_model ON variants(model_id);
    CREATE INDEX variants_by_artifact ON variants(artifact_sha256);

    CREATE TABLE commands (
      id TEXT PRIMARY KEY,
      device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      kind TEXT NOT NULL,
      payload_json TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'acked', 'succeeded', 'failed', 'expired')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL,
      deadline_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      first_sent_at INTEGER,
      acked_at INTEGER,
      completed_at INTEGER,
      result_json TEXT,
      error TEXT
    );
    CREATE INDEX commands_due ON commands(status, next_attempt_at);
    CREATE INDEX commands_by_device ON commands(device_id, created_at);

    -- (device, command, seq) names one event, so a QoS 1 redelivery is recognised and ignored
    CREATE TABLE command_events (
      device_id TEXT NOT NULL,
      command_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      type TEXT NOT NULL,
      payload_json TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      PRIMARY KEY (device_id, command_id, seq)
    );

    CREATE TABLE measurements (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device_id TEXT NOT NULL,
      variant_id TEXT,
      artifact_sha256 TEXT,
      profile_id TEXT,
      command_id TEXT,
      source TEXT NOT NULL CHECK (source IN ('measured', 'predicted')),
      p50_ms REAL,
      p90_ms REAL,
      p99_ms REAL,
      mean_ms REAL,
      throughput REAL,
      peak_rss_bytes INTEGER,
      load_ms REAL,
      runs INTEGER,
      execution_provider TEXT,
      detail_json TEXT NOT NULL DEFAULT '{}',
      measured_at INTEGER NOT NULL
    );
    CREATE INDEX measurements_by_device ON measurements(device_id, measured_at);
    CREATE INDEX measurements_by_variant ON measurements(variant_id, measured_at);
    CREATE INDEX measurements_by_profile ON measurements(profile_id, measured_at);

    CREATE TABLE audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      subject TEXT,
      detail_json TEXT NOT NULL DEFAULT '{}'
    );
  `,
};
