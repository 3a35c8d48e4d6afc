import { TOPIC_ROOT } from '@edgecompress/protocol';

/**
 * Who may publish and subscribe where, as pure functions. The embedded broker calls these from
 * its authorize hooks; `renderMosquittoAcl` states the same rules in mosquitto's pattern syntax,
 * and the ACL matrix test runs the same cases against both brokers.
 *
 * A device publishes only its own state, hello, events and telemetry, and reads only its own
 * cmd topic and the artifacts tree. The control plane's own client may do everything.
 */
const DEVICE_PUBLISH_CHANNELS = ['state', 'hello', 'events', 'telemetry'] as const;

export function canDevicePublish(deviceId: string, topic: string): boolean {
  return DEVICE_PUBLISH_CHANNELS.some(
    (channel) => topic === `${TOPIC_ROOT}/devices/${deviceId}/${channel}`,
  );
}

export function canDeviceSubscribe(deviceId: string, filter: string): boolean {
  if (filter === `${TOPIC_ROOT}/devices/${deviceId}/cmd`) return true;
  const artifacts = `${TOPIC_ROOT}/artifacts/`;
  if (!filter.startsWith(artifacts)) return false;
  // Anything below artifacts/ is readable; wildcards are fine there as long as the filter
  // itself is well-formed ('#' only as a whole last level, '+' only as a whole level).
  const levels = filter.slice(artifacts.length).split('/');
  return levels.every((level, i) =>
    level === '#' ? i === levels.length - 1 : level === '+' || !/[+#]/.test(level),
  );
}

/** The ACL file mosquitto loads (`acl_file`), equivalent to the functions above. */
export function renderMosquittoAcl(controlPlaneUser: string): string {
  return [
    '# Written by the edgecompress control plane; edits are overwritten.',
    '# Patterns apply to every authenticated user; %u is the MQTT username (the device id).',
    ...DEVICE_PUBLISH_CHANNELS.map((c) => `pattern write ${TOPIC_ROOT}/devices/%u/${c}`),
    `pattern read ${TOPIC_ROOT}/devices/%u/cmd`,
    `pattern read ${TOPIC_ROOT}/artifacts/#`,
    '',
    `user ${controlPlaneUser}`,
    `topic readwrite ${TOPIC_ROOT}/#`,
    '',
  ].join('\n');
}
