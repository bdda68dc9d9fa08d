// The Flex Consumption (FC1) plan and the function app: Linux, Python 3.11, running as
// the user-assigned identity, code deployed from a blob container with that identity,
// and every app setting in one place. No setting holds a key or a connection string.

@description('Function app name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags applied to the plan and the app.')
param tags object = {}

@description('azd service name (azure.yaml) that deploys to this app.')
param serviceName string = 'api'

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Storage account holding the app data, the host state and the deployment package.')
param storageAccountName string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Memory per instance in MB; sets the CPU share too (2048 MB is one core).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on instances the plan scales out to (also a cost bound); Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Spread instances across availability zones (the region must have zones).')
param zoneRedundant bool = false

@description('Always-ready instances for HTTP functions; 0 scales to zero (billed per execution only).')
@minValue(0)
param alwaysReadyInstances int = 0

@description('FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE.')
param usFederalFaceLawInForce bool = false

@description('FACEGATE_REGISTRY_CACHE_SECONDS.')
@minValue(0)
@maxValue(30)
param registryCacheSeconds int = 15

@description('FACEGATE_RATE_LIMIT: default per-customer requests per window, N/S.')
param rateLimit string = '10/1'

@description('FACEGATE_VERIFY_LIMIT: default per-customer verify calls per gallery per window, N/S.')
param verifyLimit string = '100/3600'

@description('FACEGATE_CONSOLE_AUTH: off, or entra (App Service authentication with Microsoft Entra ID).')
@allowed([
  'off'
  'entra'
])
param consoleAuth string = 'off'

@description('Client id of the console\'s Entra app registration (with the FaceGate.Operator app role); needed when consoleAuth is entra.')
param consoleClientId string = ''

@description('FACEGATE_ONNX_THREADS.')
@minValue(1)
param onnxThreads int = 1

@description('FACEGATE_GALLERY_STORE: table or postgres.')
@allowed([
  'table'
  'postgres'
])
param galleryStore string = 'table'

@description('FACEGATE_POSTGRES_HOST: the PostgreSQL server\'s host name; empty without the PostgreSQL store.')
param postgresHost string = ''

@description('FACEGATE_POSTGRES_USER: the database role the app signs in as (its identity\'s name); empty without the PostgreSQL store.')
param postgresUser string = ''

@description('FACEGATE_POSTGRES_CLIENT_ID: client id of the identity that gets the Entra token; empty without the PostgreSQL store.')
param postgresClientId string = ''

@description('FACEGATE_POSTGRES_POOL_SIZE.')
@minValue(1)
param postgresPoolSize int = 4

@description('FACEGATE_POSTGRES_EXACT_BELOW.')
@minValue(0)
param postgresExactBelow int = 20000

@description('FACEGATE_POSTGRES_EF_SEARCH.')
@minValue(1)
param postgresEfSearch int = 200

@description('Subnet (delegated to Microsoft.App/environments) for outbound VNet integration; empty: none.')
param virtualNetworkSubnetId string = ''

// Always-ready instances apply to the HTTP functions group only; blob work can wait a cold start.
// A zone-redundant app needs at least 2 always-ready instances in any group that has some
// (Flex Consumption refuses 1), so a count of 1 is raised to 2 there; 0 stays 0.
var alwaysReadyCount = (zoneRedundant && alwaysReadyInstances > 0) ? max(alwaysReadyInstances, 2) : alwaysReadyInstances
var alwaysReadyHttp = [
  {
    name: 'http'
    instanceCount: alwaysReadyCount
  }
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every setting the app and the host read, as name/value pairs. FACEGATE_* names are
// declared in shared/settings.py; tests/infra checks that the two lists agree.
var appSettings = [
  // Functions host state (identity-based AzureWebJobsStorage).
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storage.properties.primaryEndpoints.blob
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  // App data and the blob trigger connection (shared/settings.py storage_settings).
  {
    name: 'FACEGATE_STORAGE__blobServiceUri'
    value: storage.properties.primaryEndpoints.blob
  }
  {
    name: 'FACEGATE_STORAGE__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: 'FACEGATE_STORAGE__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'FACEGATE_STORAGE__credential'
    value: 'managedidentity'
  }
  {
    name: 'FACEGATE_STORAGE__clientId'
    value: identityClientId
  }
  // Telemetry with Entra auth (the component has local auth disabled).
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  // The host refuses bodies over 7 MiB before reading them (images are at most 6 MB and
  // JSON 64 KB, refused by the app with 413; without this the host reads up to 100 MB).
  {
    name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'
    value: '7340032'
  }
  // FaceGate settings (shared/settings.py SETTINGS).
  {
    name: 'FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE'
    value: usFederalFaceLawInForce ? 'true' : 'false'
  }
  {
    name: 'FACEGATE_REGISTRY_CACHE_SECONDS'
    value: string(registryCacheSeconds)
  }
  {
    name: 'FACEGATE_RATE_LIMIT'
    value: rateLimit
  }
  {
    name: 'FACEGATE_VERIFY_LIMIT'
    value: verifyLimit
  }
  {
    name: 'FACEGATE_ONNX_THREADS'
    value: string(onnxThreads)
  }
  // entra: the console trusts X-MS-CLIENT-PRINCIPAL, which App Service authentication
  // (configured below only then) sets and strips from clients' own requests.
  {
    name: 'FACEGATE_CONSOLE_AUTH'
    value: consoleAuth
  }
  // The gallery store. PostgreSQL is reached with the app identity's Entra token as password
  // (shared/biometrics/postgres/connection.py); the local-development URI setting, which
  // carries its own credentials, is never set here (tests/infra checks it).
  {
    name: 'FACEGATE_GALLERY_STORE'
    value: galleryStore
  }
  {
    name: 'FACEGATE_POSTGRES_HOST'
    value: postgresHost
  }
  {
    name: 'FACEGATE_POSTGRES_DATABASE'
    value: 'facegate'
  }
  {
    name: 'FACEGATE_POSTGRES_USER'
    value: postgresUser
  }
  {
    name: 'FACEGATE_POSTGRES_CLIENT_ID'
    value: postgresClientId
  }
  {
    name: 'FACEGATE_POSTGRES_POOL_SIZE'
    value: string(postgresPoolSize)
  }
  {
    name: 'FACEGATE_POSTGRES_EXACT_BELOW'
    value: string(postgresExactBelow)
  }
  {
    name: 'FACEGATE_POSTGRES_EF_SEARCH'
    value: string(postgresEfSearch)
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Zone redundancy is the zoneRedundant parameter, off by default because not every Flex Consumption region has availability zones.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222:The product is a public HTTP API called from customers' apps; every call is gated by a hashed customer key and the policy check.
  //checkov:skip=CKV_AZURE_17:Callers authenticate with the Ocp-Apim-Subscription-Key header like Azure Face; client certificates would break compatible clients.
  //checkov:skip=CKV_AZURE_212:Scale to zero is the cost model; alwaysReadyInstances keeps warm instances, and Flex Consumption replaces failed instances itself.
  //checkov:skip=CKV_AZURE_213:Flex Consumption does not support the App Service health check; GET /api/health serves external probes.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    // Outbound only (the PostgreSQL store's private network); inbound stays public.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: appSettings
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyCount > 0 ? alwaysReadyHttp : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Publishing with user/password credentials is off: azd deploys with an Entra token.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

// App Service authentication (Easy Auth) for the operators' console: Microsoft Entra ID signs
// operators in; anonymous requests still reach the app, because the customer API authenticates
// with its own keys and the console itself refuses anyone without a session. No client secret:
// sign-in uses the OpenID Connect implicit flow (the registration issues ID tokens), and the
// token store is off, so no token is kept for the app.
resource consoleAuthSettings 'Microsoft.Web/sites/config@2024-04-01' = if (consoleAuth == 'entra') {
  //checkov:skip=CKV_AZURE_13:This resource IS the App Service authentication (authsettingsV2); checkov reads every sites/config as the web config and finds no siteAuthEnabled in it.
  //checkov:skip=CKV_AZURE_63:Not a web config: authsettingsV2 has no HTTP logging; the app logs to Application Insights.
  //checkov:skip=CKV_AZURE_65:Not a web config: authsettingsV2 has no detailed error setting.
  //checkov:skip=CKV_AZURE_66:Not a web config: authsettingsV2 has no request tracing setting.
  //checkov:skip=CKV_AZURE_80:Not a web config, and the app is Python, not .NET.
  //checkov:skip=CKV_AZURE_88:Not a web config; Flex Consumption deploys from a blob container, not Azure Files.
  //checkov:skip=CKV_AZURE_222:Not a web config; the app's public access is justified on the site itself (a public customer API).
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: consoleClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            consoleClientId
            'api://${consoleClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output url string = 'https://${functionApp.properties.defaultHostName}'
