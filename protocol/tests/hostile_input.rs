//! Bytes from a peer are hostile: every way a frame or payload can be wrong gives a typed error
//! (never a panic), and only a frame longer than the cap ends the stream.

mod common;

use proptest::prelude::*;
use zero_storage_protocol::*;

fn frame(tag: u32, payload: &[u8]) -> Vec<u8> {
    Frame::new(tag, payload.to_vec()).unwrap().encode()
}

fn header(tag: u32, length: u32) -> Vec<u8> {
    [tag.to_le_bytes(), length.to_le_bytes()].concat()
}

fn example_requests() -> Vec<Request> {
    common::examples()
        .iter()
        .filter_map(|example| {
            let (tag, payload) = example.request.split_at(HEADER_LEN.min(example.request.len()));
            Request::decode(u32::from_le_bytes(tag[..4].try_into().unwrap()), payload).ok()
        })
        .collect()
}

#[test]
fn a_truncated_frame_waits_for_the_rest_and_yields_nothing() {
    let bytes = frame(MSG_STORAGE_GET, &[5, b'c', b'o', b'l', b'o', b'r']);
    for cut in 0..bytes.len() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes[..cut]);
        assert_eq!(decoder.next_frame(), Ok(None), "cut at {cut}");
        assert_eq!(decoder.buffered(), cut, "the stream ended {cut} bytes into a frame");
    }
}

#[test]
fn every_truncated_payload_is_malformed() {
    for request in example_requests() {
        let frame = request.to_frame().unwrap();
        for cut in 0..frame.payload().len() {
            let error = Request::decode(frame.tag(), &frame.payload()[..cut]).unwrap_err();
            assert!(
                matches!(error, DecodeError::Malformed { tag, .. } if tag == frame.tag()),
                "{request:?} cut at {cut}"
            );
        }
    }
}

#[test]
fn every_truncated_answer_is_malformed() {
    for example in common::examples() {
        let frame = example.answer.to_frame().unwrap();
        for cut in 0..frame.payload().len() {
            let error = Response::decode(frame.tag(), &frame.payload()[..cut]).unwrap_err();
            assert!(matches!(error, DecodeError::Malformed { .. }), "{} cut at {cut}", example.title);
        }
    }
}

#[test]
fn a_length_past_the_cap_is_refused_from_the_header_alone() {
    for length in [MAX_FRAME_PAYLOAD as u32 + 1, u32::MAX] {
        let mut decoder = FrameDecoder::new();
        decoder.push(&header(MSG_STORAGE_SET, length));
        let error = decoder.next_frame().unwrap_err();
        assert_eq!(error, FrameTooLarge { tag: MSG_STORAGE_SET, length: length.into() });
        let answer = ErrorResponse::from(&error);
        assert_eq!(answer.request_tag, MSG_STORAGE_SET);
        assert!(answer.message.contains("split the request"), "{}", answer.message);
    }
}

#[test]
fn a_length_of_exactly_the_cap_is_accepted_and_waits_for_its_payload() {
    let mut decoder = FrameDecoder::new();
    decoder.push(&header(MSG_STORAGE_TRANSACT, MAX_FRAME_PAYLOAD as u32));
    assert_eq!(decoder.next_frame(), Ok(None));
}

#[test]
fn a_decoder_that_refused_a_length_stays_failed_and_buffers_nothing_more() {
    let mut decoder = FrameDecoder::new();
    decoder.push(&[header(MSG_STORAGE_GET, u32::MAX), frame(MSG_STORAGE_QUOTA, &[])].concat());
    let error = decoder.next_frame().unwrap_err();
    decoder.push(&frame(MSG_STORAGE_QUOTA, &[]));
    assert_eq!(decoder.next_frame(), Err(error));
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn undecodable_payloads_are_malformed_with_a_reason() {
    let cases: Vec<(u32, Vec<u8>)> = vec![
        // A key length of 5 with one byte after it.
        (MSG_STORAGE_GET, vec![5, b'c']),
        // A key that is not UTF-8.
        (MSG_STORAGE_GET, vec![2, 0xc3, 0x28]),
        // A varint that never ends.
        (MSG_STORAGE_LIST, vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        // An `Option` discriminant of 2.
        (MSG_STORAGE_LIST, vec![0, 1, 2]),
        (MSG_STORAGE_GET_IN, vec![2, 1, b'k']),
        // A ttl_secs that does not fit a u32.
        (MSG_STORAGE_SET, vec![1, b'k', 0, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        // A precondition discriminant of 4.
        (MSG_STORAGE_TRANSACT, vec![0, 1, 4, 1, b'k', 0]),
        // A write discriminant of 2.
        (MSG_STORAGE_TRANSACT, vec![0, 0, 1, 2, 1, b'k']),
        // A list that claims 2^63 keys, in a 12-byte payload.
        (MSG_STORAGE_GET_MANY, vec![0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1]),
        // A value that claims 4 GiB.
        (MSG_STORAGE_SET, vec![1, b'k', 0xff, 0xff, 0xff, 0xff, 0x0f]),
        // A claim with no roles list.
        (MSG_STORAGE_CLAIM, vec![1, b'n']),
    ];
    for (tag, payload) in cases {
        let error = Request::decode(tag, &payload).unwrap_err();
        assert!(
            matches!(&error, DecodeError::Malformed { tag: got, reason } if *got == tag && !reason.is_empty()),
            "{error:?}"
        );
        let answer = ErrorResponse::from(&error);
        assert_eq!(answer.request_tag, tag);
        assert!(answer.message.contains(tag_name(tag).unwrap()), "{}", answer.message);
    }
}

#[test]
fn undecodable_answers_are_malformed() {
    // A `Result` discriminant of 2, an error discriminant of 8, an error frame cut short.
    for (tag, payload) in [
        (MSG_STORAGE_SET_RESPONSE, vec![2]),
        (MSG_STORAGE_SET_RESPONSE, vec![1, 8]),
        (MSG_STORAGE_DELETE_RESPONSE, vec![0, 2]),
        (MSG_ERROR, vec![0x06, 0x70, 0x00]),
    ] {
        assert!(matches!(Response::decode(tag, &payload), Err(DecodeError::Malformed { .. })), "{tag:#x} {payload:?}");
    }
}

#[test]
fn unknown_tags_are_refused_and_the_stream_stays_usable() {
    let get = Request::Get(StorageGetRequest { key: "k".into() });
    let mut decoder = FrameDecoder::new();
    for tag in [0, 0x6FFF, 0x7032, 0x7040, 0x70FE, u32::MAX] {
        decoder.push(&frame(tag, b"anything"));
    }
    decoder.push(&get.to_frame().unwrap().encode());
    for tag in [0, 0x6FFF, 0x7032, 0x7040, 0x70FE, u32::MAX] {
        let frame = decoder.next_frame().unwrap().unwrap();
        let error = Request::from_frame(&frame).unwrap_err();
        assert_eq!(error, DecodeError::UnknownTag { tag });
        assert!(ErrorResponse::from(&error).message.contains("PROTOCOL.md"));
    }
    assert_eq!(Request::from_frame(&decoder.next_frame().unwrap().unwrap()), Ok(get));
}

#[test]
fn an_answer_tag_sent_as_a_request_is_unknown_and_the_reverse_too() {
    assert_eq!(Request::decode(MSG_STORAGE_GET_RESPONSE, &[0, 0]), Err(DecodeError::UnknownTag { tag: 0x7001 }));
    assert_eq!(Request::decode(MSG_ERROR, &[0, 0]), Err(DecodeError::UnknownTag { tag: MSG_ERROR }));
    assert_eq!(Response::decode(MSG_STORAGE_GET, &[1, b'k']), Err(DecodeError::UnknownTag { tag: 0x7000 }));
    let message = DecodeError::UnknownTag { tag: MSG_STORAGE_GET_RESPONSE }.to_string();
    assert!(message.contains("STORAGE_GET_RESPONSE"), "{message}");
}

#[test]
fn trailing_bytes_after_a_message_are_refused() {
    for request in example_requests() {
        let frame = request.to_frame().unwrap();
        let mut payload = frame.payload().to_vec();
        payload.extend_from_slice(&[0, 0]);
        assert_eq!(
            Request::decode(frame.tag(), &payload),
            Err(DecodeError::TrailingBytes { tag: frame.tag(), extra: 2 }),
            "{request:?}"
        );
    }
    assert_eq!(
        Request::decode(MSG_STORAGE_QUOTA, &[0]),
        Err(DecodeError::TrailingBytes { tag: MSG_STORAGE_QUOTA, extra: 1 })
    );
    assert_eq!(Request::decode(MSG_STORAGE_QUOTA, &[]), Ok(Request::Quota(StorageQuotaRequest)));
}

/// An example payload with one byte changed, inserted or removed.
fn mutated_example() -> impl Strategy<Value = (u32, Vec<u8>)> {
    let frames: Vec<Frame> = example_requests()
        .iter()
        .map(|request| request.to_frame().unwrap())
        .chain(common::examples().iter().map(|example| example.answer.to_frame().unwrap()))
        .collect();
    (prop::sample::select(frames), any::<prop::sample::Index>(), any::<u8>(), 0..3u8).prop_map(
        |(frame, at, byte, how)| {
            let mut payload = frame.payload().to_vec();
            let at = at.index(payload.len() + 1);
            match how {
                0 if at < payload.len() => payload[at] = byte,
                1 => payload.insert(at, byte),
                _ if at < payload.len() => _ = payload.remove(at),
                _ => payload.push(byte),
            }
            (frame.tag(), payload)
        },
    )
}

fn decodes_or_fails_cleanly(tag: u32, payload: &[u8]) -> Result<(), TestCaseError> {
    // Whatever decodes re-encodes to a payload that decodes to the same message (not always
    // the same bytes: postcard accepts varints written longer than needed).
    if let Ok(request) = Request::decode(tag, payload) {
        prop_assert_eq!(Request::from_frame(&request.to_frame().unwrap()), Ok(request));
    }
    if let Ok(response) = Response::decode(tag, payload) {
        prop_assert_eq!(Response::from_frame(&response.to_frame().unwrap()), Ok(response));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_payloads_under_every_tag_decode_or_fail_without_panicking(
        tag in prop_oneof![(0x7000u32..0x7040), Just(MSG_ERROR)],
        payload in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        decodes_or_fails_cleanly(tag, &payload)?;
    }

    #[test]
    fn example_payloads_with_one_byte_changed_decode_or_fail_without_panicking(
        (tag, payload) in mutated_example(),
    ) {
        decodes_or_fails_cleanly(tag, &payload)?;
    }
}
