#!/usr/bin/env node
// A Bytebot subscriber in Node.js, with node-redis only: answers `!ping` with `pong`.
//
// Written against the documented contract (docs/subscribers.md and schema/*.json), not
// generated code: the topic grammar, the inbound envelope's JSON, and the outbound
// envelope to publish on its `reply_topic`.
//
//     npm ci
//     REDIS_URL=redis://127.0.0.1:6379 node ping_bot.js [--group NAME]
//
// With `--group NAME` (or BYTEBOT_GROUP) it is one replica of a group: of all the
// running replicas of that group, in any language (the Rust example-subscriber's and
// the Python example's `--group` too), only one answers each message. The protocol is
// in docs/subscribers.md ("Replica groups").
//
// Ctrl-C (SIGINT) or SIGTERM stops it.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';

// Every inbound message on every platform: five whole segments, direction `inbound`.
// (`inbound.discord.<guild>.*.*` would be one Discord guild; see docs/subscribers.md.)
const PATTERN = process.env.BYTEBOT_PATTERN || 'inbound.*.*.*.*';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
// Payloads larger than this are skipped unparsed, as the Rust decoder does.
const MAX_PAYLOAD_BYTES = 1024 * 1024;
// Named like Bytebot's own programs, so `router-tools doctor` can tell who listens.
const CLIENT_NAME = `bytebot:node-ping-bot:${hostname()}`;

// Replica groups (docs/subscribers.md): a claim key lives this long, and a claim is
// retried this long while Redis fails before the message is skipped.
const CLAIM_TTL_MS = 30_000;
const CLAIM_RETRY_MS = 5_000;
const GROUP_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function log(level, message) {
  console.error(`${new Date().toISOString()} ${level} ${message}`);
}

/** The inbound envelope as an object, or throws an Error saying why it is not one. */
export function decodeInbound(channel, payload) {
  const size = Buffer.byteLength(payload);
  if (size > MAX_PAYLOAD_BYTES) {
    throw new Error(`payload is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  const message = JSON.parse(payload); // throws SyntaxError on bad JSON
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new Error('not a JSON object');
  }
  if (message.v !== 1) {
    throw new Error(`unsupported envelope version ${JSON.stringify(message.v)}`);
  }
  for (const field of ['id', 'kind', 'topic', 'reply_topic', 'message_id', 'content', 'author']) {
    if (!(field in message)) {
      throw new Error(`missing field \`${field}\``);
    }
  }
  if (message.topic !== channel) {
    // Whoever published this chose its reply_topic: answering it would let them steer
    // our reply. Gateways publish each envelope on its own topic.
    throw new Error(`its topic is ${JSON.stringify(message.topic)}, not the channel it came on`);
  }
  if (typeof message.reply_topic !== 'string' || !message.reply_topic.startsWith('outbound.')) {
    // Publishing on an inbound topic would reach subscribers again: a loop.
    throw new Error('reply_topic is not an outbound topic');
  }
  return message;
}

/**
 * An envelope id as the claim key spells it: lower-case hyphenated UUID text, however
 * the publisher wrote it (upper case, no hyphens, braces, `urn:uuid:`). Throws an Error
 * when it is not a UUID.
 */
export function normalizeUuid(id) {
  const hex = String(id)
    .trim()
    .toLowerCase()
    .replace(/^urn:uuid:/, '')
    .replace(/^\{(.*)\}$/, '$1')
    .replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    throw new Error(`envelope id ${JSON.stringify(id)} is not a UUID`);
  }
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

/** Claims envelopes for one replica of a group, as the Rust `Claimer` does. */
export class Claimer {
  constructor(group) {
    if (!GROUP_NAME.test(group)) {
      throw new Error(`invalid group name ${JSON.stringify(group)}: 1-64 of A-Z a-z 0-9 - _ .`);
    }
    this.group = group;
    // Unique per running replica: the value of the claim keys it wins.
    this.replicaId = `${hostname()}:${process.pid}:${randomUUID().replaceAll('-', '').slice(0, 8)}`;
  }

  /** The claim key of an envelope id (throws when the id is not a UUID). */
  key(envelopeId) {
    return `bytebot:claim:${this.group}:${normalizeUuid(envelopeId)}`;
  }

  /**
   * True when this replica has the message; false when another one has it, or Redis
   * failed for CLAIM_RETRY_MS (then nobody may answer: at most once).
   */
  async claim(client, envelopeId) {
    const key = this.key(envelopeId);
    const deadline = Date.now() + CLAIM_RETRY_MS;
    let delay = 50;
    for (;;) {
      try {
        // One atomic command: set if absent, return the previous value. node-redis
        // queues commands while it reconnects, so each attempt gets the time left.
        const previous = await Promise.race([
          client.sendCommand(['SET', key, this.replicaId, 'NX', 'PX', String(CLAIM_TTL_MS), 'GET']),
          sleep(Math.max(deadline - Date.now(), 0)).then(() => {
            throw new Error('no answer from redis');
          }),
        ]);
        // null: the key was free. Our own id: a retry of our own claim.
        return previous === null || previous === this.replicaId;
      } catch (err) {
        if (Date.now() + delay > deadline) {
          log('WARNING', `cannot claim ${key} (${err.message}); skipping it`);
          return false;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 500);
      }
    }
  }
}

/** The reply's content, or null to stay quiet. */
export function answer(message) {
  if (typeof message.content === 'string' && message.content.trim() === '!ping') {
    return 'pong';
  }
  return null;
}

/** Whether the bot handles `message` at all (what it skips, it never claims). */
export function wanted(message) {
  if (message.kind !== 'message') {
    return false; // edits, deletions, reactions, and kinds added later
  }
  // The loop guard: never answer bots (a missing flag counts as a bot).
  return message.author?.bot === false;
}

/** The outbound envelope answering `message`, or null. */
export function reply(message) {
  if (!wanted(message)) {
    return null;
  }
  const content = answer(message);
  if (content === null || content.trim() === '') {
    return null; // never publish an empty reply
  }
  return {
    v: 1,
    content,
    reply_to: message.message_id, // answer the platform message (not the inbound reply_to)
    in_reply_to: message.id, // correlate with the inbound envelope
  };
}

/** The claimer for `--group NAME` / BYTEBOT_GROUP, or null; exits on a bad flag. */
function claimerFromArgs() {
  let values;
  try {
    ({ values } = parseArgs({ options: { group: { type: 'string' } } }));
  } catch (err) {
    log('ERROR', `${err.message} (usage: node ping_bot.js [--group NAME])`);
    process.exit(2);
  }
  const group = values.group ?? process.env.BYTEBOT_GROUP;
  if (group === undefined || group === '') {
    return null;
  }
  try {
    return new Claimer(group);
  } catch (err) {
    log('ERROR', err.message);
    process.exit(2);
  }
}

async function main() {
  const claimer = claimerFromArgs();
  // Two connections: a RESP2 connection that has subscribed cannot PUBLISH.
  const publisher = createClient({ url: REDIS_URL, name: CLIENT_NAME });
  const subscriber = publisher.duplicate();
  // node-redis reconnects forever and re-subscribes by itself; it reports each failed
  // attempt as an `error` event, which would end the process without a listener.
  for (const [role, client] of [['publisher', publisher], ['subscriber', subscriber]]) {
    let connected = false;
    client.on('ready', () => {
      if (!connected) {
        log('INFO', `${role} connected to redis`);
      }
      connected = true;
    });
    client.on('error', (err) => {
      if (connected) {
        log('WARNING', `${role}: redis unavailable (${err.message}); reconnecting`);
      }
      connected = false;
    });
  }

  const pending = new Set();
  const track = (promise) => {
    const tracked = promise.finally(() => pending.delete(tracked));
    pending.add(tracked);
  };
  const respond = async (message) => {
    if (claimer !== null) {
      let won;
      try {
        won = await claimer.claim(publisher, message.id);
      } catch (err) {
        log('WARNING', `skipping a message on ${message.topic}: ${err.message}`);
        return;
      }
      if (!won) {
        return; // another replica of the group answers it
      }
    }
    const envelope = reply(message);
    if (envelope === null) {
      return;
    }
    try {
      await publisher.publish(message.reply_topic, JSON.stringify(envelope));
    } catch (err) {
      log('WARNING', `reply on ${message.reply_topic} failed: ${err.message}`);
    }
  };
  const handle = (payload, channel) => {
    let message;
    try {
      message = decodeInbound(channel, payload);
    } catch (err) {
      log('WARNING', `skipping an undecodable message on ${channel}: ${err.message}`);
      return;
    }
    if (!wanted(message)) {
      return;
    }
    track(respond(message));
  };

  await publisher.connect();
  await subscriber.connect();
  await subscriber.pSubscribe(PATTERN, handle);
  const as = claimer === null ? '' : ` as replica ${claimer.replicaId} of group ${claimer.group}`;
  log('INFO', `subscribed to ${PATTERN}; answering !ping${as}`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) {
      return;
    }
    stopping = true;
    log('INFO', `received ${signal}; shutting down`);
    subscriber.destroy(); // no new messages from here on
    // Replies already handed to the publisher get 2 s to reach Redis (longer if it is
    // down would mean waiting for its return).
    await Promise.race([Promise.allSettled([...pending]), sleep(2000)]);
    publisher.destroy();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

// Run as a program, not when imported (e.g. by a test of decodeInbound).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    log('ERROR', err.message);
    process.exit(1);
  });
}
