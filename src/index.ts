/** The package's public surface, for embedding the service or its authorizer in another app. */
export { createAuthorizer, type Authorizer, type AuthorizeInput, type Decision } from './authorizer/index.js'
export { managementTokens, type ManagementTokensOptions } from './authorizer/plugin.js'
export { loadConfig, type Config } from './config.js'
export type { EventStore } from './eventstore/port.js'
export { openEventStore } from './eventstore/open.js'
export { buildApp } from './http/app.js'
export type { AppDeps } from './http/deps.js'
export { openApp, openService, type Service, type ServiceDeps } from './service.js'
