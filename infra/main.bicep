// FaceGate on Azure: a Flex Consumption function app with one user-assigned identity,
// identity-only storage, Application Insights and an Event Grid source for the blob
// trigger. azd (azure.yaml) provisions this file, deploys the code, then runs
// infra/scripts/postdeploy.* to subscribe the blob trigger to Event Grid.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource: one of the regions that offer the Flex Consumption plan (az functionapp list-flexconsumption-locations), as the Azure-Samples Flex quickstarts list them.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deploying user or service principal; it gets the app\'s data roles (empty: none).')
param principalId string = ''

@description('Kind of principalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Flex Consumption instance memory in MB. 2048 (one core): measured peak is 0.2 GB of models plus 0.4 GB per 4096 px image in flight (docs/deploy.md); bench/ confirms.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to; bounds the bill as well as the load. Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Always-ready instances for HTTP functions; 0 (default) scales to zero. With zoneRedundant, a non-zero count is raised to at least 2 (one per zone is the platform minimum).')
@minValue(0)
param alwaysReadyInstances int = 0

@description('Spread the app\'s instances across availability zones (the region must have zones).')
param zoneRedundant bool = false

@description('Storage replication; Standard_ZRS or Standard_GZRS where the region offers them.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Log Analytics daily ingestion cap in GB; -1 means no cap.')
param logDailyQuotaGb int = -1

@description('App setting FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE.')
param usFederalFaceLawInForce bool = false

@description('App setting FACEGATE_REGISTRY_CACHE_SECONDS.')
@minValue(0)
@maxValue(30)
param registryCacheSeconds int = 15

@description('App setting FACEGATE_RATE_LIMIT (N/S: N requests per S seconds per customer).')
param rateLimit string = '10/1'

@description('App setting FACEGATE_VERIFY_LIMIT (N/S: verify calls per gallery per customer).')
param verifyLimit string = '100/3600'

@description('App setting FACEGATE_CONSOLE_AUTH: off, or entra (operators sign in to the console with Microsoft Entra ID; see docs/deploy.md).')
@allowed([
  'off'
  'entra'
])
param consoleAuth string = 'off'

@description('Client id of the console\'s Entra app registration (app role FaceGate.Operator); required when consoleAuth is entra.')
param consoleClientId string = ''

@description('App setting FACEGATE_ONNX_THREADS.')
@minValue(1)
param onnxThreads int = 1

@description('Deploy the PostgreSQL gallery store: a private Flexible Server with Entra-only authentication, and a VNet the function app joins to reach it (docs/deploy.md).')
param postgresEnabled bool = false

@description('Compute size of the PostgreSQL server; max_connections follows it (docs/deploy.md, pool sizing).')
@allowed([
  'Standard_B1ms'
  'Standard_B2s'
  'Standard_B2ms'
  'Standard_B4ms'
  'Standard_D2ds_v5'
  'Standard_D4ds_v5'
])
param postgresSkuName string = 'Standard_B2ms'

@description('Storage of the PostgreSQL server in GiB (auto-grow is on).')
@allowed([
  32
  64
  128
  256
  512
])
param postgresStorageSizeGB int = 32

@description('App setting FACEGATE_GALLERY_STORE: where galleries live unless a customer\'s record says otherwise (postgres needs postgresEnabled).')
@allowed([
  'table'
  'postgres'
])
param galleryStore string = 'table'

@description('App setting FACEGATE_POSTGRES_POOL_SIZE: connections per instance; maximumInstanceCount x this must fit the server\'s max_connections.')
@minValue(1)
param postgresPoolSize int = 4

@description('App setting FACEGATE_POSTGRES_EXACT_BELOW.')
@minValue(0)
param postgresExactBelow int = 20000

@description('App setting FACEGATE_POSTGRES_EF_SEARCH.')
@minValue(1)
param postgresEfSearch int = 200

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

// Names of the app's containers, tables and queues: the same as shared/storage/names.py
// (tests/infra checks it). The deployment container holds the Flex code package. There is
// no shared upload container: each customer gets its own pair (up-<h>, rs-<h>) from
// `python -m tools.admin uploads grant`, and Event Grid announces uploads on a queue.
var appContainerNames = []
var deploymentContainerName = 'deployment'
var uploadEventsQueueName = 'uploadevents'
var uploadContainerPrefix = 'up-'
var tableNames = [
  'customers'
  'apikeys'
  'audit'
  'galleries'
  'faces'
  'faceids'
  'poisonuploads'
  'operations'
  'ratelimits'
  'operators'
  'consolesessions'
]
var queueNames = [
  'uploadevents'
  'uploadevents-poison'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-facegate-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    skuName: storageSkuName
    containerNames: concat(appContainerNames, [deploymentContainerName])
    tableNames: tableNames
    queueNames: queueNames
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    dailyQuotaGb: logDailyQuotaGb
  }
}

// The PostgreSQL gallery store and its private network, only with postgresEnabled.
module network 'modules/network.bicep' = if (postgresEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    privateDnsZoneName: 'psql-${resourceToken}.private.postgres.database.azure.com'
    location: location
    tags: tags
  }
}

module postgres 'modules/postgres.bicep' = if (postgresEnabled) {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    storageSizeGB: postgresStorageSizeGB
    delegatedSubnetId: network.outputs.postgresSubnetId
    privateDnsZoneId: network.outputs.privateDnsZoneId
    appPrincipalId: identity.outputs.principalId
    appIdentityName: identity.outputs.name
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstances: alwaysReadyInstances
    zoneRedundant: zoneRedundant
    usFederalFaceLawInForce: usFederalFaceLawInForce
    registryCacheSeconds: registryCacheSeconds
    rateLimit: rateLimit
    verifyLimit: verifyLimit
    onnxThreads: onnxThreads
    consoleAuth: consoleAuth
    consoleClientId: consoleClientId
    galleryStore: galleryStore
    postgresHost: postgresEnabled ? postgres.outputs.fqdn : ''
    postgresUser: postgresEnabled ? identity.outputs.name : ''
    postgresClientId: postgresEnabled ? identity.outputs.clientId : ''
    postgresPoolSize: postgresPoolSize
    postgresExactBelow: postgresExactBelow
    postgresEfSearch: postgresEfSearch
    virtualNetworkSubnetId: postgresEnabled ? network.outputs.appSubnetId : ''
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: 'evgt-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    queueName: uploadEventsQueueName
    containerPrefix: uploadContainerPrefix
  }
}

// azd stores these in .azure/<env>/.env; docs/deploy.md uses them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output UPLOAD_EVENTS_QUEUE_NAME string = uploadEventsQueueName
output DEPLOYMENT_CONTAINER_NAME string = deploymentContainerName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_POSTGRES_SERVER_NAME string = postgresEnabled ? postgres.outputs.name : ''
output AZURE_POSTGRES_HOST string = postgresEnabled ? postgres.outputs.fqdn : ''
output AZURE_POSTGRES_DATABASE string = postgresEnabled ? postgres.outputs.databaseName : ''
output AZURE_POSTGRES_MAX_USER_CONNECTIONS int = postgresEnabled ? postgres.outputs.maxUserConnections : 0
