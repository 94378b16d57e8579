'use strict';
/*
 * hybridless's runtime program for Node.js handlers on ECS.
 *
 * A built-in runtime's image runs this file, so a function written for Lambda
 * (`exports.handler = async (event, context) => ...`, or callback style) runs unchanged in a
 * container:
 *
 * - httpd: an HTTP server on $PORT. Each request becomes an API Gateway proxy event (REST API,
 *   payload format 1.0) and the handler's answer becomes the response, as API Gateway would
 *   make it. The health route ($HYBRIDLESS_HEALTH_ROUTE) is answered here, without the
 *   handler: the load balancer asks it all the time, and a slow or failing dependency of the
 *   handler must not make a serving task look dead.
 * - process: the handler is called once with `{}`. A worker that returns has finished (exit 0);
 *   one that throws has failed (exit 1, and ECS starts another).
 * - scheduledTask: the same, with the event read from $HYBRIDLESS_EVENT (JSON text).
 *
 * It is copied into images whose base the user picks, so it must run on Node 18 and later with
 * Node's own modules alone. It is CommonJS under a .cjs name: a project whose package.json says
 * "type": "module" must not turn it into an ES module.
 */

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { pathToFileURL } = require('url');

const KINDS = ['httpd', 'process', 'scheduledTask'];
// API Gateway refuses larger payloads; a container should not buffer more than Lambda would get.
const MAX_BODY = 10 * 1024 * 1024;
// ECS sets no deadline; a handler that budgets its work by the time left sees Lambda's longest.
const LONGEST_TIMEOUT_MS = 900000;
// Longer than the load balancer's idle timeout (60 s), so it never reuses a connection that
// this server has just closed (which it would answer with a 502).
const KEEP_ALIVE_MS = 65000;
// Hop-by-hop and framing headers are the server's to write, not the handler's.
const SERVER_HEADERS = ['content-length', 'transfer-encoding', 'connection', 'keep-alive'];
const INTERNAL_ERROR = '{"message": "Internal server error"}';
const EXIT_USAGE = 2;
const EXIT_STOPPED = 128 + 15;
const EXTENSIONS = ['.js', '.mjs', '.cjs'];

class MalformedResponse extends Error {}

function makeContext(handlerName) {
  const deadline = Date.now() + LONGEST_TIMEOUT_MS;
  return {
    awsRequestId: crypto.randomUUID(),
    functionName: handlerName,
    functionVersion: '$LATEST',
    invokedFunctionArn: '',
    memoryLimitInMB: '',
    logGroupName: '',
    logStreamName: '',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/* The file of `src/api.handler` (or the dotted `src.api.handler`) under the code's root. */
function handlerFile(spec, root) {
  const dot = spec.lastIndexOf('.');
  const modulePath = spec.slice(0, dot).replace(/^(\.\/)+/, '');
  const bases = [modulePath];
  if (modulePath.includes('.')) bases.push(modulePath.replace(/\./g, '/'));
  for (const base of bases) {
    for (const extension of EXTENSIONS) {
      const file = path.join(root, base + extension);
      if (fs.existsSync(file)) return file;
    }
  }
  throw new Error(`handler ${spec}: no ${modulePath}.js, .mjs or .cjs under ${root}`);
}

/* import() reads CommonJS and ES modules alike; CommonJS exports may sit on `default`. */
async function load(spec, root) {
  const dot = spec.lastIndexOf('.');
  const name = spec.slice(dot + 1);
  if (dot <= 0 || !name) {
    throw new Error(`handler ${spec} must be <file path>.<function>, e.g. src/api.handler`);
  }
  const loaded = await import(pathToFileURL(handlerFile(spec, root)).href);
  let fn = loaded[name];
  if (typeof fn !== 'function' && loaded.default) fn = loaded.default[name];
  if (typeof fn !== 'function') throw new Error(`handler ${spec}: no function ${name} exported`);
  return fn;
}

/* Async, promise-returning and callback handlers, as Lambda calls them; a plain function that
 * declares no callback parameter answers with its return value. */
function invoke(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(value);
    };
    let result;
    try {
      result = fn(event, context, callback);
    } catch (err) {
      callback(err === undefined || err === null ? new Error(String(err)) : err);
      return;
    }
    if (result && typeof result.then === 'function') {
      result.then(
        (value) => callback(null, value),
        (err) => callback(err === undefined || err === null ? new Error('rejected') : err),
      );
    } else if (fn.length < 3) {
      callback(null, result);
    }
  });
}

function bodyText(body) {
  if (body.length === 0) return [null, false];
  try {
    return [new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body), false];
  } catch (err) {
    return [body.toString('base64'), true];
  }
}

/* The proxy event API Gateway would send for this request, through a `/{proxy+}` resource. */
function httpEvent(req, body, requestId) {
  const target = req.url || '/';
  const question = target.indexOf('?');
  let route = question < 0 ? target : target.slice(0, question);
  if (/^[a-z]+:\/\//i.test(route)) route = new URL(route).pathname;
  route = route || '/';
  const query = question < 0 ? '' : target.slice(question + 1);
  const headers = {};
  const multiHeaders = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    headers[name] = req.rawHeaders[i + 1];
    (multiHeaders[name] = multiHeaders[name] || []).push(req.rawHeaders[i + 1]);
  }
  let queryParameters = null;
  let multiQueryParameters = null;
  for (const [name, value] of new URLSearchParams(query)) {
    queryParameters = queryParameters || {};
    multiQueryParameters = multiQueryParameters || {};
    queryParameters[name] = value;
    (multiQueryParameters[name] = multiQueryParameters[name] || []).push(value);
  }
  const [text, encoded] = bodyText(body);
  const forwarded = (req.headers['x-forwarded-for'] || '').split(',')[0].trim();
  const resource = route === '/' ? '/' : '/{proxy+}';
  return {
    version: '1.0',
    resource,
    path: route,
    httpMethod: req.method,
    headers,
    multiValueHeaders: multiHeaders,
    queryStringParameters: queryParameters,
    multiValueQueryStringParameters: multiQueryParameters,
    pathParameters: route === '/' ? null : { proxy: route.slice(1) },
    stageVariables: null,
    requestContext: {
      resourcePath: resource,
      httpMethod: req.method,
      path: route,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTimeEpoch: Date.now(),
      stage: '$default',
      domainName: req.headers.host || '',
      identity: {
        sourceIp: forwarded || req.socket.remoteAddress || '',
        userAgent: req.headers['user-agent'] || '',
      },
    },
    body: text,
    isBase64Encoded: encoded,
  };
}

function headerValue(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/[\r\n]/.test(text)) throw new MalformedResponse('a header value contains a line break');
  return text;
}

/* [status, headers, body] from a proxy response; where both `headers` and `multiValueHeaders`
 * name a header, the multi-value one wins, as in API Gateway. */
function httpResponse(result) {
  const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isObject(result) || !('statusCode' in result)) {
    throw new MalformedResponse('the handler must return an object with statusCode');
  }
  let status = result.statusCode;
  if (typeof status === 'string' && /^\d+$/.test(status)) status = Number(status);
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new MalformedResponse(`statusCode ${JSON.stringify(status)} is not an HTTP status`);
  }
  const single = result.headers || {};
  const multi = result.multiValueHeaders || {};
  if (!isObject(single) || !isObject(multi)) {
    throw new MalformedResponse('headers and multiValueHeaders must be objects');
  }
  const headers = [];
  for (const [name, values] of Object.entries(multi)) {
    if (!Array.isArray(values)) throw new MalformedResponse(`multiValueHeaders.${name} must be a list`);
    for (const value of values) headers.push([name, headerValue(value)]);
  }
  const named = new Set(Object.keys(multi).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(single)) {
    if (!named.has(name.toLowerCase())) headers.push([name, headerValue(value)]);
  }
  for (const [name] of headers) {
    if (!name || /[\s:]/.test(name)) throw new MalformedResponse(`${JSON.stringify(name)} is not a header name`);
  }
  const kept = headers.filter(([name]) => !SERVER_HEADERS.includes(name.toLowerCase()));
  if (!kept.some(([name]) => name.toLowerCase() === 'content-type')) {
    kept.push(['Content-Type', 'application/json']);
  }
  const body = result.body;
  if (body === undefined || body === null) return [status, kept, Buffer.alloc(0)];
  if (typeof body !== 'string') {
    throw new MalformedResponse('body must be a string (JSON-encode it first)');
  }
  if (result.isBase64Encoded) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new MalformedResponse('body is not base64 though isBase64Encoded is set');
    }
    return [status, kept, Buffer.from(body, 'base64')];
  }
  return [status, kept, Buffer.from(body, 'utf8')];
}

function reply(req, res, status, headers, body) {
  const grouped = new Map();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (!grouped.has(key)) grouped.set(key, [name, []]);
    grouped.get(key)[1].push(value);
  }
  for (const [name, values] of grouped.values()) {
    res.setHeader(name, values.length === 1 ? values[0] : values);
  }
  res.setHeader('Content-Length', body.length);
  res.writeHead(status);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) refused = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(refused ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function serve(fn, name, port, healthRoute) {
  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const target = req.url || '/';
    const route = target.split('?')[0];
    const log = (status, size) =>
      console.log(`${req.socket.remoteAddress} "${req.method} ${target}" ${status} ${size} ${Date.now() - started}ms`);
    if (route === healthRoute && (req.method === 'GET' || req.method === 'HEAD')) {
      reply(req, res, 200, [['Content-Type', 'text/plain']], Buffer.from('ok'));
      return;
    }
    const context = makeContext(name);
    let body;
    try {
      body = await readBody(req);
    } catch (err) {
      return; // the client went away
    }
    if (body === null) {
      res.shouldKeepAlive = false;
      reply(req, res, 413, [['Content-Type', 'application/json']], Buffer.from('{"message": "Request too large"}'));
      log(413, 0);
      return;
    }
    let answer;
    try {
      answer = httpResponse(await invoke(fn, httpEvent(req, body, context.awsRequestId), context));
    } catch (err) {
      const what = err instanceof MalformedResponse ? 'malformed response' : 'error';
      console.error(`${name}: ${what} for ${req.method} ${route}:`, err instanceof MalformedResponse ? err.message : err);
      answer = [502, [['Content-Type', 'application/json']], Buffer.from(INTERNAL_ERROR)];
    }
    try {
      reply(req, res, ...answer);
    } catch (err) {
      console.error(`${name}: cannot send the response to ${req.method} ${route}:`, err);
      if (!res.headersSent) {
        for (const header of res.getHeaderNames()) res.removeHeader(header);
        answer = [502, [['Content-Type', 'application/json']], Buffer.from(INTERNAL_ERROR)];
        reply(req, res, ...answer);
      } else {
        res.destroy();
      }
    }
    log(answer[0], answer[2].length);
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  // A handler's stray asynchronous error must not take every other request down with it.
  process.on('uncaughtException', (err) => console.error(`${name}: uncaught error:`, err));
  process.on('unhandledRejection', (err) => console.error(`${name}: unhandled rejection:`, err));
  // The balancer has drained the task before ECS sends SIGTERM; stop accepting and leave.
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    if (server.closeIdleConnections) server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  });
  server.listen(port, '0.0.0.0', () => console.log(`hybridless: ${name} listening on 0.0.0.0:${port}`));
}

function runOnce(fn, name, event) {
  process.on('SIGTERM', () => process.exit(EXIT_STOPPED));
  const started = Date.now();
  invoke(fn, event, makeContext(name)).then(
    () => {
      console.log(`hybridless: ${name} returned after ${Date.now() - started}ms`);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      console.error(`hybridless: ${name} failed after ${Date.now() - started}ms`);
      process.exit(1);
    },
  );
}

async function main() {
  const kind = process.env.HYBRIDLESS_KIND || '';
  const spec = process.env.HYBRIDLESS_HANDLER || '';
  if (!KINDS.includes(kind) || !spec) {
    console.error(
      `hybridless: HYBRIDLESS_KIND must be one of ${KINDS.join(', ')} (it is ${JSON.stringify(kind)}) ` +
        `and HYBRIDLESS_HANDLER must name the handler (it is ${JSON.stringify(spec)})`,
    );
    process.exit(EXIT_USAGE);
  }
  let fn;
  try {
    fn = await load(spec, path.resolve(__dirname, '..'));
  } catch (err) {
    console.error(err);
    console.error(`hybridless: cannot load the handler ${spec}`);
    process.exit(1);
  }
  if (kind === 'httpd') {
    const port = Number(process.env.PORT || '80');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`hybridless: PORT=${JSON.stringify(process.env.PORT)} is not a port`);
      process.exit(EXIT_USAGE);
    }
    serve(fn, spec, port, process.env.HYBRIDLESS_HEALTH_ROUTE || '');
    return;
  }
  let event = {};
  if (kind === 'scheduledTask') {
    try {
      event = JSON.parse(process.env.HYBRIDLESS_EVENT || '{}');
    } catch (err) {
      console.error(`hybridless: HYBRIDLESS_EVENT is not JSON: ${err.message}`);
      process.exit(1);
    }
  }
  runOnce(fn, spec, event);
}

main();
