#!/usr/bin/env bash
# Make sure the real components the tests use are here, on a fresh machine that has none of them:
#   - RabbitMQ on 127.0.0.1:5672 (guest/guest): installed from Debian's packages when missing, started
#     when it does not answer;
#   - Apache Jena Fuseki Main (the version ops/fuseki/pom.xml names), resolved from Maven Central by
#     scripts/ensure-fuseki.sh into a cache folder (the tests start their own Fuseki servers from it);
#   - the Debian tools the tests call (promtool and the prometheus server).
# Fails loudly when it cannot. Needs root or sudo for the Debian packages (as on the CI/dev machine).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  # RUNLEVEL=1: the packages' maintainer scripts do not start their services (this script does, below)
  $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- RabbitMQ ------------------------------------------------------------------------------------
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "ensure-services: RabbitMQ is not installed, installing the Debian package rabbitmq-server" >&2
  apt_install rabbitmq-server
  command -v rabbitmq-server >/dev/null 2>&1 || { echo "ensure-services: rabbitmq-server not installed" >&2; exit 1; }
fi

rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
# AMQP, not only TCP: after the protocol header the broker sends Connection.Start (a method frame, first
# byte 1) within 10 s. A node that is stopped or frozen still has its socket accept connections (the
# kernel does), so a TCP check alone passes and every client then times out in the handshake.
amqp_answers() {
  timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\x00\x00\x09\x01" >&3 && head -c 1 <&3' \
    2>/dev/null | od -An -tx1 | grep -q 01
}
PIDFILE=/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid

if rabbit_up && ! amqp_answers; then
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  echo "ensure-services: RabbitMQ on 127.0.0.1:5672 accepts TCP but does not answer AMQP within 10 s" \
       "(pid ${pid:-unknown}: $(grep -s '^State:' "/proc/$pid/status" | tr -s '\t ' ' ')); killing it and starting it again" >&2
  if [ -n "$pid" ]; then $SUDO kill -9 "$pid" 2>/dev/null || true; fi
  for _ in $(seq 1 30); do rabbit_up || break; sleep 1; done
  rabbit_up && { echo "ensure-services: 127.0.0.1:5672 still taken after killing the broker" >&2; exit 1; }
fi

if ! rabbit_up; then
  echo "ensure-services: RabbitMQ not answering on 127.0.0.1:5672, starting it" >&2
  rabbitmq-server -detached || true
  for _ in $(seq 1 90); do rabbit_up && break; sleep 1; done
  rabbit_up || { echo "ensure-services: RabbitMQ did not come up" >&2; exit 1; }
fi
# the port answers before the broker is ready for clients: wait for the application itself
rabbitmqctl -q await_startup --timeout 120 >/dev/null || { echo "ensure-services: RabbitMQ did not start" >&2; exit 1; }
amqp_answers || { echo "ensure-services: RabbitMQ started but does not answer AMQP on 127.0.0.1:5672" >&2; exit 1; }
echo "ensure-services: RabbitMQ is up ($(rabbitmqctl -q version 2>/dev/null || echo '?'))" >&2

# --- Apache Jena Fuseki --------------------------------------------------------------------------
bash scripts/ensure-fuseki.sh >/dev/null

# --- promtool and the prometheus server (Debian package "prometheus") ------------------------------
# They check the metrics exposition, the shipped Prometheus configuration and the dashboard's queries
# in tests/ops.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "ensure-services: promtool missing, installing the Debian package prometheus" >&2
  apt_install prometheus
  command -v promtool >/dev/null 2>&1 || { echo "ensure-services: promtool not installed" >&2; exit 1; }
fi
echo "ensure-services: promtool is here ($(promtool --version 2>&1 | head -1))" >&2
