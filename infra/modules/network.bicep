// The private network of the PostgreSQL gallery store (deployed only with postgresEnabled):
// one virtual network with two subnets and the private DNS zone that resolves the server.
//
// - `app`: the function app's outbound VNet integration (Flex Consumption delegates it to
//   Microsoft.App/environments). The app keeps reaching storage, Application Insights and
//   Entra over their public endpoints, so this subnet keeps default outbound access (new
//   VNets would otherwise make it private, with no way out).
// - `postgres`: delegated to the Flexible Server ("private access"): the server gets an
//   address here and no public endpoint at all.
// Both subnets carry a network security group: Azure's default rules (traffic inside the VNet
// allowed, inbound from the internet denied) plus an explicit rule for the app's connections.

@description('Virtual network name.')
param name string

@description('Private DNS zone name for the server; must end with .postgres.database.azure.com.')
param privateDnsZoneName string

@description('Azure region.')
param location string

@description('Tags applied to the network resources.')
param tags object = {}

var addressSpace = '10.42.0.0/16'
var appSubnetPrefix = '10.42.0.0/24'
var postgresSubnetPrefix = '10.42.1.0/24'

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-app-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource postgresNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-postgres-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'postgres-from-app'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: appSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: postgresSubnetPrefix
          destinationPortRange: '5432'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressSpace
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          defaultOutboundAccess: true
          networkSecurityGroup: {
            id: appNsg.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: postgresSubnetPrefix
          networkSecurityGroup: {
            id: postgresNsg.id
          }
          delegations: [
            {
              name: 'postgres-flexible-server'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
    ]
  }
}

resource privateDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: privateDnsZoneName
  location: 'global'
  tags: tags
}

resource privateDnsZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: privateDnsZone
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

output appSubnetId string = vnet.properties.subnets[0].id
output postgresSubnetId string = vnet.properties.subnets[1].id
// main.bicep passes these to the server's module, which therefore starts only after this
// whole module (the zone's VNet link included) has been deployed.
output privateDnsZoneId string = privateDnsZone.id
