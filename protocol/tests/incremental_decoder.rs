//! The frame decoder gives the same frames however the stream is cut, and no bytes make it
//! panic.

use proptest::prelude::*;
use zero_storage_protocol::*;

/// What a decoder made of a stream: the frames it cut, whether it then refused a length, and
/// how many bytes it still holds.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    refused: Option<FrameTooLarge>,
    buffered: usize,
}

/// Feeds `bytes` in pieces of the given sizes (cycled; the rest in one piece), draining frames
/// after every piece as a server does.
fn decode_in_pieces(bytes: &[u8], sizes: &[usize]) -> Outcome {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut sizes = sizes.iter().cycle();
    loop {
        let size = sizes.next().map_or(rest.len(), |size| (*size).min(rest.len()));
        let (piece, after) = rest.split_at(size);
        decoder.push(piece);
        rest = after;
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(refused) => return Outcome { frames, refused: Some(refused), buffered: decoder.buffered() },
            }
        }
        if rest.is_empty() {
            return Outcome { frames, refused: None, buffered: decoder.buffered() };
        }
    }
}

/// A stream of plausible frames: known and unknown tags, short payloads, sometimes a length
/// past the cap, and a torn frame at the end.
fn frame_stream() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop_oneof![(0x7000u32..0x7040), Just(MSG_ERROR), any::<u32>()];
    let frame = (tag, prop::collection::vec(any::<u8>(), 0..40), prop::bool::weighted(0.05)).prop_map(
        |(tag, payload, too_long)| {
            let length = if too_long { MAX_FRAME_PAYLOAD as u32 + 1 } else { payload.len() as u32 };
            [&tag.to_le_bytes()[..], &length.to_le_bytes(), &payload].concat()
        },
    );
    (prop::collection::vec(frame, 0..12), prop::collection::vec(any::<u8>(), 0..12))
        .prop_map(|(frames, torn)| [frames.concat(), torn].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_in_arbitrary_pieces_give_the_same_frames_as_fed_whole(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        sizes in prop::collection::vec(1usize..20, 1..10),
    ) {
        prop_assert_eq!(decode_in_pieces(&bytes, &sizes), decode_in_pieces(&bytes, &[]));
    }

    #[test]
    fn frame_streams_in_arbitrary_pieces_give_the_same_frames_as_fed_whole(
        bytes in frame_stream(),
        sizes in prop::collection::vec(1usize..64, 1..10),
    ) {
        let whole = decode_in_pieces(&bytes, &[]);
        prop_assert_eq!(decode_in_pieces(&bytes, &sizes), whole);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_frames_as_fed_whole(bytes in frame_stream()) {
        prop_assert_eq!(decode_in_pieces(&bytes, &[1]), decode_in_pieces(&bytes, &[]));
    }

    #[test]
    fn the_frames_cut_from_a_stream_are_its_bytes_up_to_what_is_still_buffered(bytes in frame_stream()) {
        let outcome = decode_in_pieces(&bytes, &[7]);
        let encoded: Vec<u8> = outcome.frames.iter().flat_map(Frame::encode).collect();
        prop_assert_eq!(&bytes[..encoded.len()], &encoded[..]);
        if outcome.refused.is_none() {
            prop_assert_eq!(encoded.len() + outcome.buffered, bytes.len());
        }
    }
}
