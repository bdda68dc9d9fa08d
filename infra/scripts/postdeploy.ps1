# Subscribe the blob trigger to BlobCreated events of the uploads container.
#
# azd runs this after `azd deploy` / `azd up` on Windows (azure.yaml, hook postdeploy);
# postdeploy.sh is the same for Linux and macOS. The subscription is made here, not in
# Bicep, because its webhook URL carries the host's `blobs_extension` system key, which
# exists only once the deployed blob trigger has started. Re-running it is safe.
#
# Reads the azd outputs of infra/main.bicep from the environment (azd sets them for
# hooks) or from `azd env get-value`. Optional: BLOB_TRIGGER_FUNCTION (default
# process_upload), POSTDEPLOY_TRIES (30), POSTDEPLOY_WAIT_SECONDS (10). The key is
# never printed.
$ErrorActionPreference = 'Stop'

function Get-AzdValue([string] $Name) {
    $found = [Environment]::GetEnvironmentVariable($Name)
    if (-not $found -and (Get-Command azd -ErrorAction SilentlyContinue)) {
        $found = (& azd env get-value $Name 2>$null)
    }
    if (-not $found) { throw "postdeploy: $Name is not set; run 'azd provision' first" }
    return "$found".Trim()
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    throw 'postdeploy: the Azure CLI (az) is required; see docs/deploy.md'
}

$function = if ($env:BLOB_TRIGGER_FUNCTION) { $env:BLOB_TRIGGER_FUNCTION } else { 'process_upload' }
$tries = if ($env:POSTDEPLOY_TRIES) { [int] $env:POSTDEPLOY_TRIES } else { 30 }
$waitSeconds = if ($env:POSTDEPLOY_WAIT_SECONDS) { [int] $env:POSTDEPLOY_WAIT_SECONDS } else { 10 }
$subscriptionName = 'uploads-blob-trigger'

$resourceGroup = Get-AzdValue 'AZURE_RESOURCE_GROUP'
$functionApp = Get-AzdValue 'AZURE_FUNCTION_APP_NAME'
$hostName = Get-AzdValue 'AZURE_FUNCTION_APP_HOSTNAME'
$systemTopic = Get-AzdValue 'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME'
$container = Get-AzdValue 'UPLOADS_CONTAINER_NAME'

Write-Host "postdeploy: waiting for the blobs_extension key of $functionApp"
$key = ''
for ($attempt = 1; -not $key; $attempt++) {
    # Wake the app (it scales to zero) so the host starts the blob extension and makes its key.
    try { Invoke-WebRequest -Uri "https://$hostName/api/health" -TimeoutSec 30 -UseBasicParsing | Out-Null } catch { }
    $key = (& az functionapp keys list --resource-group $resourceGroup --name $functionApp `
            --query 'systemKeys.blobs_extension' --output tsv 2>$null)
    if (-not $key) {
        if ($attempt -ge $tries) {
            throw "postdeploy: no blobs_extension key after $tries tries; is the blob trigger deployed?"
        }
        Start-Sleep -Seconds $waitSeconds
    }
}

# The URL holds '&': wrapped in literal quotes so that az.cmd does not split the command there.
$endpoint = '"https://' + $hostName + '/runtime/webhooks/blobs?functionName=Host.Functions.' +
    $function + '&code=' + "$key".Trim() + '"'
Write-Host "postdeploy: subscribing $function to BlobCreated in container '$container'"
& az eventgrid system-topic event-subscription create `
    --name $subscriptionName `
    --resource-group $resourceGroup `
    --system-topic-name $systemTopic `
    --endpoint-type webhook `
    --endpoint $endpoint `
    --included-event-types Microsoft.Storage.BlobCreated `
    --subject-begins-with "/blobServices/default/containers/$container/" `
    --output none
if ($LASTEXITCODE -ne 0) { throw 'postdeploy: creating the Event Grid subscription failed' }
Write-Host "postdeploy: Event Grid subscription '$subscriptionName' is ready"
