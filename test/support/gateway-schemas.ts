/**
 * JSON Schemas for the parts of Traefik's and Envoy's configuration that docs/gateways/ uses,
 * written from their reference documentation (Traefik's file-provider options; Envoy's v3 protos,
 * field names as in the .proto files). Objects admit only documented keys, so a misspelt or
 * misplaced option fails validation; these tools cannot run here, so this is as far as the
 * files are checked.
 */
type Schema = Record<string, unknown>

const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required, additionalProperties: false })
const map = (values: Schema): Schema => ({ type: 'object', additionalProperties: values })
const list = (items: Schema, minItems = 0): Schema => ({ type: 'array', items, minItems })
const str: Schema = { type: 'string' }
const bool: Schema = { type: 'boolean' }
const strings = list(str)
const port: Schema = { type: 'integer', minimum: 1, maximum: 65535 }
/** A protobuf Duration in YAML: seconds with an `s`. */
const duration: Schema = { type: 'string', pattern: '^\\d+(\\.\\d+)?s$' }

export const TRAEFIK_STATIC = obj({
  entryPoints: map(
    obj(
      {
        address: { type: 'string', pattern: '^[^:]*:\\d+(/(tcp|udp))?$' },
        asDefault: bool,
        forwardedHeaders: obj({ trustedIPs: strings, insecure: bool }),
        proxyProtocol: obj({ trustedIPs: strings, insecure: bool }),
        transport: { type: 'object' },
        http: { type: 'object' },
      },
      ['address'],
    ),
  ),
  providers: obj({ file: obj({ filename: str, directory: str, watch: bool }), providersThrottleDuration: str }),
  log: obj({ level: { enum: ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'PANIC'] }, format: { enum: ['common', 'json'] }, filePath: str }),
  accessLog: { type: 'object' },
  api: { type: 'object' },
  ping: { type: 'object' },
})

const forwardAuth = obj(
  {
    address: { type: 'string', pattern: '^https?://' },
    tls: { type: 'object' },
    trustForwardHeader: bool,
    authResponseHeaders: strings,
    authResponseHeadersRegex: str,
    authRequestHeaders: strings,
    addAuthCookiesToResponse: strings,
    headerField: str,
    forwardBody: bool,
    maxBodySize: { type: 'integer' },
    preserveLocationHeader: bool,
    preserveRequestMethod: bool,
  },
  ['address'],
)
const headers = obj({
  customRequestHeaders: map(str),
  customResponseHeaders: map(str),
  accessControlAllowOriginList: strings,
})

export const TRAEFIK_DYNAMIC = obj(
  {
    http: obj({
      routers: map(obj({ entryPoints: strings, rule: str, ruleSyntax: str, priority: { type: 'integer' }, middlewares: strings, service: str, tls: { type: 'object' } }, ['rule', 'service'])),
      middlewares: map({ type: 'object', oneOf: [obj({ forwardAuth }, ['forwardAuth']), obj({ headers }, ['headers'])] }),
      services: map(obj({ loadBalancer: obj({ servers: list(obj({ url: { type: 'string', pattern: '^https?://' }, weight: { type: 'integer' } }, ['url']), 1), passHostHeader: bool, serversTransport: str }, ['servers']) })),
    }),
  },
  ['http'],
)

const socketAddress = obj({ address: str, port_value: port, protocol: { enum: ['TCP', 'UDP'] } }, ['address', 'port_value'])
const address = obj({ socket_address: socketAddress }, ['socket_address'])
const stringMatcher = obj({ exact: str, prefix: str, suffix: str, contains: str, ignore_case: bool })
const listMatcher = obj({ patterns: list(stringMatcher, 1) }, ['patterns'])
const typed = (type: string, properties: Record<string, Schema> = {}, required: string[] = []) => obj({ '@type': { const: `type.googleapis.com/${type}` }, ...properties }, ['@type', ...required])

const extAuthz = typed(
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  {
    http_service: obj(
      {
        server_uri: obj({ uri: str, cluster: str, timeout: duration }, ['uri', 'cluster', 'timeout']),
        path_prefix: { type: 'string', pattern: '^/' },
        authorization_request: obj({ allowed_headers: listMatcher, headers_to_add: list(obj({ key: str, value: str })) }),
        authorization_response: obj({
          allowed_upstream_headers: listMatcher,
          allowed_upstream_headers_to_append: listMatcher,
          allowed_client_headers: listMatcher,
          allowed_client_headers_on_success: listMatcher,
          dynamic_metadata_from_headers: listMatcher,
        }),
      },
      ['server_uri'],
    ),
    transport_api_version: { enum: ['AUTO', 'V2', 'V3'] },
    failure_mode_allow: bool,
    status_on_error: obj({ code: { enum: ['Forbidden', 'ServiceUnavailable', 'InternalServerError', 'Unauthorized', 'BadGateway', 'GatewayTimeout'] } }, ['code']),
    allowed_headers: listMatcher,
    disallowed_headers: listMatcher,
    clear_route_cache: bool,
    stat_prefix: str,
    include_peer_certificate: bool,
  },
  ['http_service'],
)
const router = typed('envoy.extensions.filters.http.router.v3.Router')

const route = obj(
  {
    match: obj({ prefix: str, path: str }),
    route: obj({ cluster: str, timeout: duration }, ['cluster']),
    request_headers_to_remove: strings,
    response_headers_to_remove: strings,
  },
  ['match', 'route'],
)
const hcm = typed(
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  {
    stat_prefix: str,
    codec_type: { enum: ['AUTO', 'HTTP1', 'HTTP2', 'HTTP3'] },
    use_remote_address: bool,
    xff_num_trusted_hops: { type: 'integer' },
    normalize_path: bool,
    merge_slashes: bool,
    path_with_escaped_slashes_action: { enum: ['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'] },
    route_config: obj({ name: str, virtual_hosts: list(obj({ name: str, domains: list(str, 1), routes: list(route, 1) }, ['name', 'domains', 'routes']), 1) }, ['virtual_hosts']),
    http_filters: list(
      {
        oneOf: [obj({ name: { const: 'envoy.filters.http.ext_authz' }, typed_config: extAuthz }, ['name', 'typed_config']), obj({ name: { const: 'envoy.filters.http.router' }, typed_config: router }, ['name', 'typed_config'])],
      },
      1,
    ),
  },
  ['stat_prefix', 'route_config', 'http_filters'],
)

const cluster = obj(
  {
    name: str,
    type: { enum: ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'] },
    connect_timeout: duration,
    load_assignment: obj({ cluster_name: str, endpoints: list(obj({ lb_endpoints: list(obj({ endpoint: obj({ address }, ['address']) }, ['endpoint']), 1) }, ['lb_endpoints']), 1) }, ['cluster_name', 'endpoints']),
  },
  ['name', 'load_assignment'],
)

export const ENVOY_BOOTSTRAP = obj(
  {
    static_resources: obj(
      {
        listeners: list(
          obj(
            {
              name: str,
              address,
              filter_chains: list(obj({ filters: list(obj({ name: { const: 'envoy.filters.network.http_connection_manager' }, typed_config: hcm }, ['name', 'typed_config']), 1) }, ['filters']), 1),
            },
            ['name', 'address', 'filter_chains'],
          ),
          1,
        ),
        clusters: list(cluster, 1),
      },
      ['listeners', 'clusters'],
    ),
    admin: { type: 'object' },
  },
  ['static_resources'],
)
