#!/usr/bin/env bash
# One-shot (the kafka-init service): the pipeline's topics and the local SCRAM user,
# created with the broker's own tools. Idempotent: existing topics are kept, the
# user's password is set again.
set -euo pipefail

BS="${BOOTSTRAP_SERVERS:-kafka:29092}"
BIN=/opt/kafka/bin
PARTITIONS="${KAFKA_PARTITIONS:-3}"
log() { echo "[kafka-init] $*"; }

topic() {
  local name="$1"
  shift
  "$BIN/kafka-topics.sh" --bootstrap-server "$BS" --create --if-not-exists \
    --topic "$name" --partitions "$PARTITIONS" --replication-factor 1 "$@" >/dev/null
  log "topic $name: present ($PARTITIONS partitions)"
}

# Names as in serverless.yml's params (TOPIC_* defaults).
topic orders
topic orders.processed
topic orders.dlq
topic orders.parking-lot
# checkpoints: one record per <group>/<topic>/<partition>, the latest wins
topic orders.checkpoints --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1 \
  --config segment.ms=600000

# SCRAM-SHA-512 user for the SCRAM listener (localhost:9096); the same credentials
# are in the AmazonMSK_ secret that LocalStack's ready hook creates.
"$BIN/kafka-configs.sh" --bootstrap-server "$BS" --alter --entity-type users \
  --entity-name "${KAFKA_SCRAM_USERNAME:-orders}" \
  --add-config "SCRAM-SHA-512=[iterations=8192,password=${KAFKA_SCRAM_PASSWORD:?KAFKA_SCRAM_PASSWORD is not set}]" \
  >/dev/null
log "SCRAM-SHA-512 user ${KAFKA_SCRAM_USERNAME:-orders}: set"
