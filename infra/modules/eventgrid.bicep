// Event Grid system topic on the storage account. Its subscription, which delivers
// BlobCreated events for the uploads container to the blob trigger, is created after
// the code is deployed (infra/scripts/postdeploy.*): the webhook needs the host's
// blobs_extension system key, which exists only once the blob trigger has started.

@description('System topic name.')
param name string

@description('Azure region (the storage account region).')
param location string

@description('Tags applied to the topic.')
param tags object = {}

@description('Name of the storage account whose events the topic publishes.')
param storageAccountName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
