// One customer's upload area: its uploads and results containers, and optionally RBAC for
// the customer's own Entra identity, scoped to those two containers. Deployed per customer
// into the FaceGate resource group (docs/uploads.md):
//
//   az deployment group create -g <rg> -f infra/customer-uploads.bicep \
//     -p storageAccountName=<st...> customerId=contoso \
//        uploadsContainerName=up-<h> resultsContainerName=rs-<h> [customerPrincipalId=<oid>]
//
// `python -m tools.admin uploads show --customer contoso` prints the two names;
// `tools.admin uploads grant` creates the same containers and issues a SAS instead, for
// customer apps without an Entra identity. Either way the customer reaches only these two
// containers, and Event Grid announces its uploads (their names start with `up-`).

@description('The FaceGate storage account.')
param storageAccountName string

@description('The customer id, kept as container metadata (the pipeline checks it against the name).')
param customerId string

@description('up-<first 32 hex digits of sha256(customerId)>')
@minLength(35)
@maxLength(35)
param uploadsContainerName string

@description('rs-<the same 32 hex digits>')
@minLength(35)
@maxLength(35)
param resultsContainerName string

@description('Object id of the customer app\'s Entra identity; empty: no role assignment (use a SAS).')
param customerPrincipalId string = ''

@description('Kind of that principal.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param customerPrincipalType string = 'ServicePrincipal'

// Storage Blob Data Contributor (write uploads) and Storage Blob Data Reader (read results).
var blobContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var blobReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource uploads 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: uploadsContainerName
  properties: {
    publicAccess: 'None'
    metadata: {
      customerid: customerId
    }
  }
}

resource results 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: resultsContainerName
  properties: {
    publicAccess: 'None'
    metadata: {
      customerid: customerId
    }
  }
}

resource uploadsWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in (empty(customerPrincipalId) ? [] : [customerPrincipalId]): {
    name: guid(uploads.id, principalId, blobContributorRoleId)
    scope: uploads
    properties: {
      principalId: principalId
      principalType: customerPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobContributorRoleId)
    }
  }
]

resource resultsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in (empty(customerPrincipalId) ? [] : [customerPrincipalId]): {
    name: guid(results.id, principalId, blobReaderRoleId)
    scope: results
    properties: {
      principalId: principalId
      principalType: customerPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobReaderRoleId)
    }
  }
]

output uploadsContainerName string = uploads.name
output resultsContainerName string = results.name
