#!/usr/bin/env bash
# LocalStack ready hook (runs inside the LocalStack container once it is ready):
# the AWS side of the pipeline, as scripts/aws-bootstrap.ts makes it against moto.
#   - the Powertools idempotency table (key `id`, TTL `expiration`, on demand)
#   - a KMS key (alias) and the AmazonMSK_ SCRAM secret encrypted with it, holding
#     the credentials of the broker's SCRAM user (see ../kafka-init.sh)
# Idempotent: what exists is kept.
set -euo pipefail

SERVICE=msk-order-pipeline
STAGE="${PIPELINE_STAGE:-local}"
TABLE="${IDEMPOTENCY_TABLE:-$SERVICE-$STAGE-idempotency}"
SECRET="${KAFKA_SCRAM_SECRET_NAME:-AmazonMSK_$SERVICE-$STAGE}"
KEY_ALIAS="alias/$SERVICE-$STAGE-scram"
log() { echo "[pipeline-init] $*"; }

# ---- idempotency table
if awslocal dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
  log "table $TABLE: already there"
else
  awslocal dynamodb create-table --table-name "$TABLE" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=id,AttributeType=S \
    --key-schema AttributeName=id,KeyType=HASH >/dev/null
  awslocal dynamodb wait table-exists --table-name "$TABLE"
  log "table $TABLE: created"
fi
ttl=$(awslocal dynamodb describe-time-to-live --table-name "$TABLE" \
  --query 'TimeToLiveDescription.TimeToLiveStatus' --output text)
if [ "$ttl" != "ENABLED" ] && [ "$ttl" != "ENABLING" ]; then
  awslocal dynamodb update-time-to-live --table-name "$TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=expiration >/dev/null
  log "table $TABLE: TTL on expiration"
fi

# ---- KMS key for the secret (MSK accepts SCRAM secrets under a customer-managed key only)
if key_arn=$(awslocal kms describe-key --key-id "$KEY_ALIAS" --query KeyMetadata.Arn --output text 2>/dev/null); then
  log "kms key $KEY_ALIAS: already there"
else
  key_arn=$(awslocal kms create-key --description "$SERVICE $STAGE SCRAM secret" \
    --query KeyMetadata.Arn --output text)
  awslocal kms create-alias --alias-name "$KEY_ALIAS" --target-key-id "$key_arn"
  log "kms key $KEY_ALIAS: created"
fi

# ---- SCRAM secret
if awslocal secretsmanager describe-secret --secret-id "$SECRET" >/dev/null 2>&1; then
  log "secret $SECRET: already there, value left unchanged"
else
  # JSON-encode the credentials without echoing them
  value=$(python3 -c 'import json, os; print(json.dumps({"username": os.environ.get("KAFKA_SCRAM_USERNAME", "orders"), "password": os.environ["KAFKA_SCRAM_PASSWORD"]}))')
  awslocal secretsmanager create-secret --name "$SECRET" --kms-key-id "$key_arn" \
    --description "SASL/SCRAM-SHA-512 credentials of $SERVICE" --secret-string "$value" >/dev/null
  log "secret $SECRET: created (kms $KEY_ALIAS)"
fi
