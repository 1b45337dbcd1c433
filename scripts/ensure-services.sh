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
