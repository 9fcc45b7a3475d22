#!/usr/bin/env node
// A Bytebot subscriber in Node.js, with node-redis only: answers `!ping` with `pong`.
//
// Written against the documented contract (docs/subscribers.md and schema/*.json), not
// generated code: the topic grammar, the inbound envelope's JSON, and the outbound
// envelope to publish on its `reply_topic`.
//
//     npm ci
//     REDIS_URL=redis://127.0.0.1:6379 node ping_bot.js
//
// Ctrl-C (SIGINT) or SIGTERM stops it.

import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { createClient } from '@redis/client';

// Every inbound message on every platform: five whole segments, direction `inbound`.
// (`inbound.discord.<guild>.*.*` would be one Discord guild; see docs/subscribers.md.)
const PATTERN = process.env.BYTEBOT_PATTERN || 'inbound.*.*.*.*';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
// Payloads larger than this are skipped unparsed, as the Rust decoder does.
const MAX_PAYLOAD_BYTES = 1024 * 1024;
// Named like Bytebot's own programs, so `router-tools doctor` can tell who listens.
const CLIENT_NAME = `bytebot:node-ping-bot:${hostname()}`;

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

/** The reply's content, or null to stay quiet. */
export function answer(message) {
  if (typeof message.content === 'string' && message.content.trim() === '!ping') {
    return 'pong';
  }
  return null;
}

/** The outbound envelope answering `message`, or null. */
export function reply(message) {
  if (message.kind !== 'message') {
    return null; // edits, deletions, reactions, and kinds added later
  }
  if (message.author?.bot !== false) {
    return null; // the loop guard: never answer bots (a missing flag counts as a bot)
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

async function main() {
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
  const handle = (payload, channel) => {
    let message;
    try {
      message = decodeInbound(channel, payload);
    } catch (err) {
      log('WARNING', `skipping an undecodable message on ${channel}: ${err.message}`);
      return;
    }
    const envelope = reply(message);
    if (envelope === null) {
      return;
    }
    const sent = publisher
      .publish(message.reply_topic, JSON.stringify(envelope))
      .catch((err) => log('WARNING', `reply on ${message.reply_topic} failed: ${err.message}`))
      .finally(() => pending.delete(sent));
    pending.add(sent);
  };

  await publisher.connect();
  await subscriber.connect();
  await subscriber.pSubscribe(PATTERN, handle);
  log('INFO', `subscribed to ${PATTERN}; answering !ping`);

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
