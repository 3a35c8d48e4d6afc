#!/bin/sh
# Installs the agent from its unpacked tarball directory (run as root from inside it):
#   tar xzf edgec-agent-linux-arm64.tar.gz && cd edgec-agent && sudo ./deploy/install.sh
# Copies the binary and its onnxruntime files to /opt/edgec-agent, creates the service user,
# puts an example config in /etc/edgec-agent (never overwriting one) and enables the unit.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$here/edgec-agent" ] || { echo "run from the unpacked edgec-agent directory" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

id edgec-agent >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin edgec-agent
install -d -m 0755 /opt/edgec-agent
cp -R "$here/edgec-agent" "$here/node_modules" /opt/edgec-agent/
install -d -m 0750 -g edgec-agent /etc/edgec-agent
if [ ! -f /etc/edgec-agent/agent.json ]; then
  install -m 0640 -g edgec-agent "$here/deploy/agent.example.json" /etc/edgec-agent/agent.json
  echo "edit /etc/edgec-agent/agent.json (device id, password, broker, trusted key), or enroll"
  echo "with a fleet token instead (see $here/deploy/agent.enroll.example.json), then:"
  echo "  systemctl start edgec-agent"
fi
install -m 0644 "$here/deploy/edgec-agent.service" /etc/systemd/system/edgec-agent.service
systemctl daemon-reload
systemctl enable edgec-agent
