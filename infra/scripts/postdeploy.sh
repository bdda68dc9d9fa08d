#!/bin/sh
# Subscribe the blob trigger to BlobCreated events of the uploads container.
#
# azd runs this after `azd deploy` / `azd up` (azure.yaml, hook postdeploy). The
# subscription is made here, not in Bicep, because its webhook URL carries the
# host's `blobs_extension` system key, which exists only once the deployed blob
# trigger has started. Re-running it is safe: `create` updates the subscription.
#
# Reads the azd outputs of infra/main.bicep (azd passes them to hooks as
# environment variables; by hand, `azd env get-value` is used). Needs az, logged in.
# Optional: BLOB_TRIGGER_FUNCTION (default process_upload), POSTDEPLOY_TRIES (30),
# POSTDEPLOY_WAIT_SECONDS (10). The key is never printed.
set -eu

BLOB_TRIGGER_FUNCTION=${BLOB_TRIGGER_FUNCTION:-process_upload}
SUBSCRIPTION_NAME=uploads-blob-trigger
TRIES=${POSTDEPLOY_TRIES:-30}
WAIT_SECONDS=${POSTDEPLOY_WAIT_SECONDS:-10}

fail() {
  echo "postdeploy: $*" >&2
  exit 1
}

command -v az >/dev/null 2>&1 || fail "the Azure CLI (az) is required; see docs/deploy.md"

# value NAME: an azd output, from the environment or from `azd env get-value`.
value() {
  eval "found=\${$1:-}"
  if [ -z "$found" ] && command -v azd >/dev/null 2>&1; then
    found=$(azd env get-value "$1" 2>/dev/null || true)
  fi
  [ -n "$found" ] || fail "$1 is not set; run 'azd provision' first"
  printf '%s' "$found"
}

RESOURCE_GROUP=$(value AZURE_RESOURCE_GROUP)
FUNCTION_APP=$(value AZURE_FUNCTION_APP_NAME)
APP_HOST=$(value AZURE_FUNCTION_APP_HOSTNAME)
SYSTEM_TOPIC=$(value AZURE_EVENTGRID_SYSTEM_TOPIC_NAME)
CONTAINER=$(value UPLOADS_CONTAINER_NAME)

echo "postdeploy: waiting for the blobs_extension key of $FUNCTION_APP"
key=""
attempt=0
while [ -z "$key" ]; do
  attempt=$((attempt + 1))
  # Wake the app (it scales to zero) so the host starts the blob extension and makes its key.
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 30 "https://$APP_HOST/api/health" >/dev/null 2>&1 || true
  fi
  key=$(az functionapp keys list --resource-group "$RESOURCE_GROUP" --name "$FUNCTION_APP" \
    --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)
  if [ -z "$key" ]; then
    [ "$attempt" -lt "$TRIES" ] || fail "no blobs_extension key after $TRIES tries; is the blob trigger deployed?"
    sleep "$WAIT_SECONDS"
  fi
done

endpoint="https://$APP_HOST/runtime/webhooks/blobs?functionName=Host.Functions.$BLOB_TRIGGER_FUNCTION&code=$key"
echo "postdeploy: subscribing $BLOB_TRIGGER_FUNCTION to BlobCreated in container '$CONTAINER'"
az eventgrid system-topic event-subscription create \
  --name "$SUBSCRIPTION_NAME" \
  --resource-group "$RESOURCE_GROUP" \
  --system-topic-name "$SYSTEM_TOPIC" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/$CONTAINER/" \
  --output none
echo "postdeploy: Event Grid subscription '$SUBSCRIPTION_NAME' is ready"
