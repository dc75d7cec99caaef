//! PROTOCOL.md cannot drift from the code: every hex example in it is built here from the
//! message types, and every tag of the table is checked against the constants.

mod common;

use zero_storage_protocol::*;

const PROTOCOL_MD: &str = include_str!("../../PROTOCOL.md");

/// A frame's bytes as PROTOCOL.md writes them: tag, length and payload in hex, space apart.
fn frame_hex(bytes: &[u8]) -> String {
    let hex = |bytes: &[u8]| bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
    let (header, payload) = bytes.split_at(HEADER_LEN.min(bytes.len()));
    let (tag, length) = header.split_at(4);
    [hex(tag), hex(length), hex(payload)].into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

fn example_block(example: &common::Example) -> String {
    let answer = example.answer.to_frame().unwrap().encode();
    format!("request  {}\nanswer   {}\n", frame_hex(&example.request), frame_hex(&answer))
}

#[test]
fn protocol_md_shows_every_example_byte_for_byte() {
    let missing: Vec<String> = common::examples()
        .iter()
        .filter(|example| !PROTOCOL_MD.contains(&example_block(example)))
        .map(|example| format!("{}:\n{}", example.title, example_block(example)))
        .collect();
    assert!(missing.is_empty(), "PROTOCOL.md lacks these examples (or shows other bytes):\n\n{}", missing.join("\n"));
}

#[test]
fn every_request_message_has_an_example() {
    let examples = common::examples();
    for (tag, name) in TAG_NAMES {
        if tag % 2 == 0 && tag != MSG_ERROR {
            assert!(examples.iter().any(|example| example.request[..4] == tag.to_le_bytes()), "{name} has no example");
        }
    }
}

#[test]
fn protocol_md_lists_every_tag_with_its_name() {
    for (tag, name) in TAG_NAMES {
        let row = format!("| `0x{tag:04X}` | `{name}` |");
        assert!(PROTOCOL_MD.contains(&row), "PROTOCOL.md has no tag table row starting {row}");
    }
}

#[test]
fn protocol_md_states_the_frame_cap() {
    assert!(PROTOCOL_MD.contains(&format!("`MAX_FRAME_PAYLOAD` = {MAX_FRAME_PAYLOAD} bytes")));
}
