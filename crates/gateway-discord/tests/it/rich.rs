//! Rich messages against the fake Discord: embeds, components and files on sends and
//! edits, as Discord receives them (JSON, or multipart with `payload_json`).

use serde_json::{Value, json};

use crate::support::{CHANNEL, Gateway, next_json, outbound_topic};

fn button_row() -> Value {
    json!({"type": 1, "components": [
        {"type": 2, "style": 1, "label": "Roll again", "custom_id": "bytebot:roll:2d6"},
        {"type": 2, "style": 5, "label": "Docs", "url": "https://docs.example/roll"},
    ]})
}

fn select_row() -> Value {
    json!({"type": 1, "components": [{
        "type": 3, "custom_id": "bytebot:pick", "placeholder": "Pick one",
        "min_values": 1, "max_values": 1,
        "options": [
            {"label": "Red", "value": "red", "description": "warm"},
            {"label": "Blue", "value": "blue", "default": true},
        ],
    }]})
}

/// A send with an embed, buttons, a select menu and two files reaches Discord as one
/// multipart request: the JSON in `payload_json` (embeds and components in Discord's
/// shape, one `attachments` entry per file) and each file's bytes in `files[n]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeds_components_and_files_reach_discord() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let embed = json!({
        "title": "2d6", "description": "**7** (3 + 4)", "color": 5_763_719,
        "fields": [{"name": "dice", "value": "2", "inline": true}],
        "footer": {"text": "bytebot"}, "image": {"url": "attachment://plot.png"},
    });
    let payload = json!({
        "content": "rolled",
        "embeds": [embed],
        "components": [button_row(), select_row()],
        "files": [
            {"filename": "plot.png", "base64": "iVBORw0KGgo=", "description": "a plot"},
            {"filename": "rolls.txt", "base64": "MyA0Cg=="},
        ],
    });
    gateway
        .publish(&outbound_topic(CHANNEL), payload.to_string())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");

    let posted = gateway.discord.posted_in(CHANNEL);
    assert_eq!(posted.len(), 1);
    let body = &posted[0].body;
    assert_eq!(body["content"], json!("rolled"));
    assert_eq!(body["embeds"][0]["title"], json!("2d6"));
    assert_eq!(body["embeds"][0]["color"], json!(5_763_719));
    assert_eq!(body["embeds"][0]["fields"], embed["fields"]);
    assert_eq!(body["embeds"][0]["footer"]["text"], json!("bytebot"));
    assert_eq!(
        body["embeds"][0]["image"]["url"],
        json!("attachment://plot.png")
    );
    let buttons = &body["components"][0]["components"];
    assert_eq!(body["components"][0]["type"], json!(1));
    assert_eq!(buttons[0]["custom_id"], json!("bytebot:roll:2d6"));
    assert_eq!(
        (&buttons[0]["style"], &buttons[0]["label"]),
        (&json!(1), &json!("Roll again"))
    );
    assert_eq!(
        (&buttons[1]["style"], &buttons[1]["url"]),
        (&json!(5), &json!("https://docs.example/roll"))
    );
    let menu = &body["components"][1]["components"][0];
    assert_eq!(
        (&menu["type"], &menu["custom_id"], &menu["placeholder"]),
        (&json!(3), &json!("bytebot:pick"), &json!("Pick one"))
    );
    assert_eq!(menu["options"][1]["value"], json!("blue"));
    assert_eq!(menu["options"][1]["default"], json!(true));

    // The files: metadata in the JSON, bytes in the form parts, matched by id.
    let files = &posted[0].files;
    let names: Vec<(&str, &str)> = files
        .iter()
        .map(|file| (file.field.as_str(), file.filename.as_str()))
        .collect();
    assert_eq!(names, [("files[0]", "plot.png"), ("files[1]", "rolls.txt")]);
    assert_eq!(files[0].bytes, b"\x89PNG\r\n\x1a\n");
    assert_eq!(files[1].bytes, b"3 4\n");
    assert_eq!(files[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(
        body["attachments"],
        json!([
            {"id": 0, "filename": "plot.png", "description": "a plot"},
            {"id": 1, "filename": "rolls.txt", "description": null},
        ])
    );
    gateway.stop().await.unwrap();
}

/// A send with only an embed has no text; an edit that only removes the buttons keeps
/// the text (no `content` in the PATCH) and sends `components: []`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extras_without_text_and_edits_of_extras_only() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let topic = outbound_topic(CHANNEL);
    let payload = json!({"embeds": [{"title": "only an embed"}], "components": [button_row()]});
    gateway.publish(&topic, payload.to_string()).await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");
    let id = receipt["message_ids"][0].as_str().unwrap().to_owned();
    let body = gateway.discord.posted_in(CHANNEL)[0].body.clone();
    assert!(
        body.get("content").is_none_or(|content| content == ""),
        "{body}"
    );
    assert_eq!(body["embeds"][0]["title"], json!("only an embed"));

    let edit = json!({"action": "edit", "message_id": id, "components": []});
    gateway.publish(&topic, edit.to_string()).await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");
    let patch = gateway
        .discord
        .requests()
        .into_iter()
        .find(|request| request.method == "PATCH")
        .expect("a PATCH");
    assert!(patch.body.get("content").is_none(), "{}", patch.body);
    assert!(patch.body.get("embeds").is_none(), "{}", patch.body);
    assert_eq!(patch.body["components"], json!([]));

    let edit = json!({"action": "edit", "message_id": id, "content": "new text", "embeds": [{"title": "new"}]});
    gateway.publish(&topic, edit.to_string()).await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");
    let patch = gateway
        .discord
        .requests()
        .into_iter()
        .rfind(|request| request.method == "PATCH")
        .unwrap();
    assert_eq!(patch.body["content"], json!("new text"));
    assert_eq!(patch.body["embeds"][0]["title"], json!("new"));
    assert!(patch.body.get("components").is_none(), "{}", patch.body);
    gateway.stop().await.unwrap();
}

/// What serenity cannot read as a Discord object is refused before anything is sent,
/// with a receipt naming the entry; Discord's own refusals come back as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_extras_get_a_failed_receipt_naming_them() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let topic = outbound_topic(CHANNEL);
    for (payload, words) in [
        (
            json!({"content": "x", "embeds": [{"title": 5}]}),
            "`embeds[0]` is not a discord embeds entry",
        ),
        (
            json!({"content": "x", "components": [{"type": 2, "style": 1, "custom_id": "a"}]}),
            "`components[0]` is not a discord components entry: a top-level component must be an action row",
        ),
        (
            json!({"content": "x", "components": [{"type": 1, "components": [
                {"type": 2, "style": 1, "label": "a", "custom_id": "a"},
                {"type": 3, "custom_id": "b", "options": []},
            ]}]}),
            "an action row holds either buttons or one select menu",
        ),
        (
            json!({"content": "x", "components": [{"type": 1, "components": [
                {"type": 4, "custom_id": "t", "style": 1, "label": "name"},
            ]}]}),
            "a text input goes only in a modal",
        ),
        (
            json!({"content": "x", "files": [{"filename": "a", "base64": "???"}]}),
            "`base64` is not standard base64",
        ),
    ] {
        gateway.publish(&topic, payload.to_string()).await;
        let (_, receipt) = next_json(&mut receipts).await;
        assert_eq!(receipt["ok"], json!(false), "{receipt}");
        let message = receipt["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{payload}: {message}");
    }
    assert!(gateway.discord.posted_in(CHANNEL).is_empty());
    gateway.stop().await.unwrap();
}

/// A code block longer than Discord's 2000 characters arrives as two messages that
/// both render as Rust: the first closes the block, the second reopens it; the embed
/// comes with the last part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_block_split_across_parts_stays_fenced() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let code: Vec<String> = (0..200).map(|i| format!("let x{i} = {i};")).collect();
    let content = format!("```rust\n{}\n```", code.join("\n"));
    let payload = json!({"content": content, "embeds": [{"title": "after the code"}]});
    gateway
        .publish(&outbound_topic(CHANNEL), payload.to_string())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");
    assert_eq!(receipt["message_ids"].as_array().unwrap().len(), 2);
    let posted = gateway.discord.posted_in(CHANNEL);
    let parts: Vec<&str> = posted.iter().map(|message| message.content()).collect();
    assert!(parts[0].starts_with("```rust\nlet x0 = 0;"));
    assert!(
        parts[0].ends_with("\n```"),
        "{}",
        &parts[0][parts[0].len() - 30..]
    );
    assert!(
        parts[1].starts_with("```rust\nlet x"),
        "{}",
        &parts[1][..30]
    );
    assert!(parts[1].ends_with("let x199 = 199;\n```"));
    for part in &parts {
        assert!(part.chars().count() <= 2000);
        assert_eq!(part.matches("```").count(), 2, "{part}");
    }
    assert!(
        posted[0]
            .body
            .get("embeds")
            .is_none_or(|embeds| embeds == &json!([]))
    );
    assert_eq!(
        posted[1].body["embeds"][0]["title"],
        json!("after the code")
    );
    gateway.stop().await.unwrap();
}
