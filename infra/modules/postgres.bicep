// The PostgreSQL gallery store (docs/galleries-postgres.md), deployed only with postgresEnabled:
// an Azure Database for PostgreSQL Flexible Server with
// - Microsoft Entra authentication only (password authentication disabled, so there is no
//   administrator login and no password anywhere);
// - the function app's user-assigned identity as its Entra administrator. That makes the
//   identity a database role (named after the identity) in azure_pg_admin, which the app
//   needs: it creates the `vector` extension and its tables itself at first use
//   (shared/biometrics/postgres/schema.sql), and on Flexible Server only azure_pg_admin
//   members may CREATE EXTENSION. A post-provision SQL step could create a narrower role,
//   but it would need a network path into the private server and an Entra administrator
//   to sign in as, neither of which the deploying machine has (docs/deploy.md);
// - `vector` allow-listed through the azure.extensions server parameter;
// - private access only: the server lives in a delegated subnet, public network access
//   disabled, resolved through a private DNS zone linked to the VNet;
// - TLS required (require_secure_transport on, TLS 1.2 at least);
// - the database `facegate`.
// Server parameters are applied one after the other (dependsOn): the service refuses
// concurrent configuration changes on one server.

@description('Server name (3-63 lower-case letters, digits and hyphens).')
@minLength(3)
@maxLength(63)
param name string

@description('Azure region.')
param location string

@description('Tags applied to the server.')
param tags object = {}

@description('Compute size. Burstable B-series suit a gallery store that is idle between requests; max_connections follows the size (docs/deploy.md).')
@allowed([
  'Standard_B1ms'
  'Standard_B2s'
  'Standard_B2ms'
  'Standard_B4ms'
  'Standard_D2ds_v5'
  'Standard_D4ds_v5'
])
param skuName string = 'Standard_B2ms'

@description('Storage in GiB (grows automatically when nearly full).')
@allowed([
  32
  64
  128
  256
  512
])
param storageSizeGB int = 32

@description('PostgreSQL major version.')
@allowed([
  '16'
  '17'
])
param version string = '17'

@description('Database the galleries live in (FACEGATE_POSTGRES_DATABASE).')
param databaseName string = 'facegate'

@description('Resource id of the subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers.')
param delegatedSubnetId string

@description('Resource id of the private DNS zone (linked to the VNet) that resolves the server.')
param privateDnsZoneId string

@description('Object (principal) id of the function app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Name of that identity: the database role the app signs in as (FACEGATE_POSTGRES_USER).')
param appIdentityName string

var skuTier = startsWith(skuName, 'Standard_B') ? 'Burstable' : 'GeneralPurpose'

// Default max_connections per size, less the 15 the service reserves (Azure Database for
// PostgreSQL limits): the budget that max instances x FACEGATE_POSTGRES_POOL_SIZE must fit.
var maxUserConnections = {
  Standard_B1ms: 35
  Standard_B2s: 414
  Standard_B2ms: 844
  Standard_B4ms: 1703
  Standard_D2ds_v5: 844
  Standard_D4ds_v5: 1703
}

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = {
  // Geo-redundant backup stays off: it doubles backup storage and is not offered in every
  // region; galleries can be re-enrolled or moved back to Table storage (tools.admin).
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    network: {
      delegatedSubnetResourceId: delegatedSubnetId
      privateDnsZoneArmResourceId: privateDnsZoneId
      publicNetworkAccess: 'Disabled'
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
  }
}

resource appAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2025-08-01' = {
  parent: server
  name: appPrincipalId
  properties: {
    principalName: appIdentityName
    principalType: 'ServicePrincipal'
    tenantId: tenant().tenantId
  }
}

resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'vector'
    source: 'user-override'
  }
  dependsOn: [
    appAdministrator
  ]
}

resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    extensions
  ]
}

resource minimumTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.2'
    source: 'user-override'
  }
  dependsOn: [
    requireTls
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2025-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    minimumTls
  ]
}

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
output maxUserConnections int = maxUserConnections[skuName]
