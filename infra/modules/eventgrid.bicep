// Event Grid feeds the blob pipeline. Every customer uploads into its own container
// (up-<hash>, made by `python -m tools.admin uploads grant`), and a blob trigger binds one
// container, so the subscription sends BlobCreated events of every `up-` container to
// a storage queue that the app's queue trigger reads (docs/uploads.md). The topic
// delivers with its own managed identity (no keys, no webhook secret, nothing to set up
// after the code is deployed).

@description('System topic name.')
param name string

@description('Azure region (the storage account region).')
param location string

@description('Tags applied to the topic.')
param tags object = {}

@description('Name of the storage account whose events the topic publishes (and that holds the queue).')
param storageAccountName string

@description('Queue the BlobCreated events are delivered to.')
param queueName string

@description('Containers whose blobs raise events: names starting with this.')
param containerPrefix string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Storage Queue Data Message Sender: the topic may add messages, nothing else.
var queueSenderRoleId = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'

resource topicQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, name, queueSenderRoleId)
  scope: storage
  properties: {
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueSenderRoleId)
  }
}

resource uploadsSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'customer-uploads'
  dependsOn: [
    topicQueueSender
  ]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storage.id
          queueName: queueName
          queueMessageTimeToLiveInSeconds: 604800
        }
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${containerPrefix}'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output name string = systemTopic.name
output subscriptionName string = uploadsSubscription.name
