//! Micro-benchmarks of the per-message hot paths: envelope encode and decode, topic
//! build, parse, display and escape, and pattern matching. `cargo bench -p bytebot-core`.

use std::hint::black_box;

use bytebot_core::envelope::{
    Author, InboundMessage, OutboundMessage, decode_inbound, decode_outbound,
};
use bytebot_core::pattern::{Pattern, glob_match};
use bytebot_core::topic::escape_segment;
use bytebot_core::{Direction, Space, Topic};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TOPIC: &str = "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808";

fn inbound() -> InboundMessage {
    let topic: Topic = TOPIC.parse().expect("a valid topic");
    let mut author = Author::new("179258058118135808", "alice");
    author.display_name = Some("Alice".to_owned());
    InboundMessage::new(topic, "1300000000000000001", author, "!ping")
}

fn envelope(c: &mut Criterion) {
    let message = inbound();
    let payload = message.encode();
    let reply = OutboundMessage::reply_to(&message, "pong");
    let reply_payload = reply.encode();
    let mut group = c.benchmark_group("envelope");
    group.throughput(Throughput::Elements(1));
    group.bench_function("inbound_encode", |b| {
        b.iter(|| black_box(&message).encode())
    });
    group.bench_function("inbound_decode", |b| {
        b.iter(|| decode_inbound(black_box(&payload)).expect("decodes"));
    });
    group.bench_function("outbound_encode", |b| b.iter(|| black_box(&reply).encode()));
    group.bench_function("outbound_decode", |b| {
        b.iter(|| decode_outbound(black_box(&reply_payload)).expect("decodes"));
    });
    group.bench_function("reply_to", |b| {
        b.iter(|| OutboundMessage::reply_to(black_box(&message), "pong"));
    });
    group.finish();
}

fn topic(c: &mut Criterion) {
    let topic: Topic = TOPIC.parse().expect("a valid topic");
    let mut group = c.benchmark_group("topic");
    group.throughput(Throughput::Elements(1));
    group.bench_function("build", |b| {
        b.iter(|| {
            Topic::builder(Direction::Inbound, black_box("discord"))
                .space(Space::id(black_box("1190804811990446190")))
                .room(black_box("1200058256127688735"))
                .user(black_box("179258058118135808"))
                .build()
                .expect("valid")
        });
    });
    group.bench_function("parse", |b| {
        b.iter(|| black_box(TOPIC).parse::<Topic>().expect("valid"));
    });
    group.bench_function("display", |b| b.iter(|| black_box(&topic).to_string()));
    group.bench_function("reply", |b| b.iter(|| black_box(&topic).reply()));
    group.bench_function("escape_plain", |b| {
        b.iter(|| escape_segment(black_box("1200058256127688735")));
    });
    group.bench_function("escape_special", |b| {
        b.iter(|| escape_segment(black_box("general chat.v2*")));
    });
    group.finish();
}

fn pattern(c: &mut Criterion) {
    let all_inbound = Pattern::all_inbound();
    let exact = Pattern::exact(&TOPIC.parse().expect("a valid topic"));
    let mut group = c.benchmark_group("pattern");
    group.throughput(Throughput::Elements(1));
    group.bench_function("all_inbound_match", |b| {
        b.iter(|| all_inbound.matches(black_box(TOPIC)));
    });
    group.bench_function("exact_match", |b| {
        b.iter(|| exact.matches(black_box(TOPIC)))
    });
    group.bench_function("glob_no_match", |b| {
        b.iter(|| glob_match(black_box(b"outbound.*.*.*.*"), black_box(TOPIC.as_bytes())));
    });
    group.finish();
}

criterion_group!(benches, envelope, topic, pattern);
criterion_main!(benches);
