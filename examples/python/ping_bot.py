#!/usr/bin/env python3
"""A Bytebot subscriber in Python, with redis-py only: answers `!ping` with `pong`.

Written against the documented contract (docs/subscribers.md and schema/*.json), not
generated code: the topic grammar, the inbound envelope's JSON, and the outbound
envelope to publish on its `reply_topic`.

    pip install -r requirements.txt
    REDIS_URL=redis://127.0.0.1:6379 python3 ping_bot.py [--group NAME]

With `--group NAME` (or BYTEBOT_GROUP) it is one replica of a group: of all the
running replicas of that group, in any language (the Rust example-subscriber's
`--group` too), only one answers each message. The protocol is in
docs/subscribers.md ("Replica groups").

Ctrl-C (SIGINT) or SIGTERM stops it.
"""

import argparse
import json
import logging
import os
import re
import signal
import socket
import sys
import time
import uuid

import redis

# Every inbound message on every platform: five whole segments, direction `inbound`.
# (`inbound.discord.<guild>.*.*` would be one Discord guild; see docs/subscribers.md.)
PATTERN = os.environ.get("BYTEBOT_PATTERN", "inbound.*.*.*.*")
# Payloads larger than this are skipped unparsed, as the Rust decoder does.
MAX_PAYLOAD_BYTES = 1024 * 1024

# Replica groups (docs/subscribers.md): a claim key lives this long, and a claim is
# retried this long while Redis fails before the message is skipped.
CLAIM_TTL_MS = 30_000
CLAIM_RETRY_SECONDS = 5.0
GROUP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

log = logging.getLogger("ping_bot")


class Claimer:
    """Claims envelopes for one replica of a group, as the Rust `Claimer` does."""

    def __init__(self, group):
        if not GROUP_NAME.match(group):
            raise ValueError(f"invalid group name {group!r}: 1-64 of A-Z a-z 0-9 - _ .")
        self.group = group
        # Unique per running replica: the value of the claim keys it wins.
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def claim(self, client, envelope_id):
        """True when this replica has the message; False when another one has it or
        Redis failed for CLAIM_RETRY_SECONDS (then nobody may answer: at most once)."""
        # The id as lower-case hyphenated UUID text, however the publisher spelled it.
        key = f"bytebot:claim:{self.group}:{uuid.UUID(str(envelope_id))}"
        deadline = time.monotonic() + CLAIM_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                # One atomic command: set if absent, return the previous value.
                previous = client.set(key, self.replica_id, nx=True, px=CLAIM_TTL_MS, get=True)
            except (redis.ConnectionError, redis.TimeoutError) as err:
                if time.monotonic() + delay > deadline:
                    log.warning("cannot claim %s (%s); skipping it", key, err)
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            # None: the key was free. Our own id: a retry of our own claim.
            return previous is None or previous.decode("utf-8", "replace") == self.replica_id


def decode_inbound(payload):
    """The inbound envelope as a dict, or raises ValueError saying why it is not one."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit")
    message = json.loads(payload)  # raises ValueError (JSONDecodeError) on bad JSON
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    if message.get("v") != 1:
        raise ValueError(f"unsupported envelope version {message.get('v')!r}")
    for field in ("id", "reply_topic", "message_id", "content", "author"):
        if field not in message:
            raise ValueError(f"missing field `{field}`")
    if not str(message["reply_topic"]).startswith("outbound."):
        # Publishing on an inbound topic would reach subscribers again: a loop.
        raise ValueError("reply_topic is not an outbound topic")
    return message


def answer(message):
    """The reply's content, or None to stay quiet."""
    if message["content"].strip() == "!ping":
        return "pong"
    return None


def answer_interaction(interaction):
    """The answer to a slash command, or None to stay quiet: `/ping` -> pong."""
    if interaction.get("type") == "command" and interaction.get("name") == "ping":
        return "pong"
    return None


def handle(client, channel, payload, claimer=None):
    try:
        message = decode_inbound(payload)
    except ValueError as err:
        log.warning("skipping an undecodable message on %s: %s", channel, err)
        return
    kind = message.get("kind", "message")
    if kind not in ("message", "interaction"):
        # An edit, a deletion, a reaction, or a kind added after this bot was written:
        # answering an edited `!ping` would answer it twice.
        log.debug("skipping a %s event on %s", kind, channel)
        return
    if message["author"].get("bot", True):
        # The loop guard: never answer bots (a missing flag counts as a bot).
        return
    if claimer is not None:
        try:
            won = claimer.claim(client, message["id"])
        except ValueError:
            log.warning("skipping a message on %s whose id is not a UUID", channel)
            return
        if not won:
            return  # another replica of the group answers it
    if kind == "interaction":
        # A Discord slash command: answered by the envelope's id, not by a message.
        content = answer_interaction(message.get("interaction") or {})
        if content is None:
            return  # not our command (another bot's, or a button, a modal...)
        reply = {
            "v": 1,
            "action": "respond",  # the answer to the interaction itself
            "content": content,
            "in_reply_to": message["id"],  # required: says which interaction
        }
        client.publish(message["reply_topic"], json.dumps(reply))
        return
    content = answer(message)
    if content is None or not content.strip():
        return  # never publish an empty reply
    reply = {
        "v": 1,
        "content": content,
        "reply_to": message["message_id"],  # answer the platform message
        "in_reply_to": message["id"],  # correlate with the inbound envelope
    }
    client.publish(message["reply_topic"], json.dumps(reply))


def connect(url):
    # RESP2 pub/sub (protocol=2) works with any Redis and any redis-py. Every connection
    # is named like those of Bytebot's programs, so `router-tools doctor` can tell who
    # is listening.
    client = redis.Redis.from_url(
        url,
        protocol=2,
        client_name=f"bytebot:python-ping-bot:{socket.gethostname()}",
        socket_connect_timeout=5,
        health_check_interval=5,
    )
    client.ping()  # fail fast (and retry) when Redis is not there
    return client


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description="A Bytebot subscriber answering !ping.")
    parser.add_argument(
        "--group",
        default=os.environ.get("BYTEBOT_GROUP"),
        help="answer as one replica of this group (env BYTEBOT_GROUP)",
    )
    args = parser.parse_args()
    try:
        claimer = Claimer(args.group) if args.group else None
    except ValueError as err:
        parser.error(str(err))
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        log.info("received signal %d; shutting down", signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    delay = 0.05
    while not stopping:
        try:
            client = connect(url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe(PATTERN)
            log.info(
                "subscribed to %s; answering !ping%s",
                PATTERN,
                f" as a replica of group {claimer.group}" if claimer else "",
            )
            delay = 0.05
            while not stopping:
                # A short timeout keeps the loop responsive to signals.
                item = pubsub.get_message(timeout=0.2)
                if item and item["type"] == "pmessage":
                    handle(client, item["channel"].decode("utf-8", "replace"), item["data"], claimer)
            pubsub.close()
            client.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
            # Pub/sub keeps nothing for us while we are away: re-subscribe and go on.
            log.warning("redis unavailable (%s); retrying in %.2fs", err, delay)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
