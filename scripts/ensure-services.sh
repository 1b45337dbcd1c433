#!/usr/bin/env bash
# Make sure the real components the tests use are here: RabbitMQ on 127.0.0.1:5672 (started if it
# does not answer) and the Debian tools the tests call (promtool). Fails loudly when it cannot.
set -euo pipefail

rabbit_up() { rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1 || \
  (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if ! rabbit_up; then
  echo "ensure-services: RabbitMQ not answering on 127.0.0.1:5672, starting it" >&2
  rabbitmq-server -detached || true
  for _ in $(seq 1 60); do rabbit_up && break; sleep 1; done
  rabbit_up || { echo "ensure-services: RabbitMQ did not come up" >&2; exit 1; }
  rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
echo "ensure-services: RabbitMQ is up" >&2

# promtool and the prometheus server (Debian package "prometheus") check the metrics exposition, the
# shipped Prometheus configuration and the dashboard's queries in tests/ops; install them when missing
# (needs root or sudo, as on the CI/dev machine).
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "ensure-services: promtool missing, installing the Debian package prometheus" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  command -v promtool >/dev/null 2>&1 || { echo "ensure-services: promtool not installed" >&2; exit 1; }
fi
echo "ensure-services: promtool is here ($(promtool --version 2>&1 | head -1))" >&2
