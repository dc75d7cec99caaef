//! The Storage Service's decoders on hostile bytes: arbitrary bytes, cut into arbitrary pieces,
//! go through the incremental frame decoder, and every frame it yields goes through the request
//! and the response decoders. Nothing may panic; frames come out the same however the bytes are
//! cut; a frame over the cap is refused from its header and the decoder stays refused; and every
//! request or response that decodes encodes to a frame that decodes to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zero_storage_protocol::{Frame, FrameDecoder, MAX_FRAME_PAYLOAD, Request, Response};

/// Every frame `bytes` holds, fed in pieces whose sizes come from `cuts`, and whether the
/// decoder refused a frame over the cap.
fn frames(bytes: &[u8], cuts: &[u8]) -> (Vec<Frame>, bool) {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut cuts = cuts.iter().cycle();
    while !rest.is_empty() {
        let size = usize::from(*cuts.next().unwrap_or(&255)).max(1).min(rest.len());
        decoder.push(&rest[..size]);
        rest = &rest[size..];
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => out.push(frame),
                Ok(None) => break,
                Err(_) => {
                    // Refused once, refused for good.
                    assert!(decoder.next_frame().is_err(), "the decoder recovered after a refusal");
                    return (out, true);
                }
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the next bytes are piece sizes; the rest is the stream.
    let rest = data.get(1..).unwrap_or_default();
    let (cuts, bytes) = rest.split_at(usize::from(data.first().copied().unwrap_or(0)).min(rest.len()));
    let whole = frames(bytes, &[255]);
    let pieces = frames(bytes, if cuts.is_empty() { &[1] } else { cuts });
    assert_eq!(whole.0.len(), pieces.0.len(), "the frames depend on how the bytes were cut");
    assert_eq!(whole.1, pieces.1, "a refusal depends on how the bytes were cut");
    for (a, b) in whole.0.iter().zip(&pieces.0) {
        assert_eq!((a.tag(), a.payload()), (b.tag(), b.payload()));
        assert!(a.payload().len() <= MAX_FRAME_PAYLOAD);
    }
    for frame in &whole.0 {
        if let Ok(request) = Request::from_frame(frame) {
            let again = request.to_frame().expect("a decoded request fits in a frame");
            assert_eq!(Request::from_frame(&again).expect("its own encoding decodes"), request);
        }
        if let Ok(response) = Response::from_frame(frame) {
            let again = response.to_frame().expect("a decoded response fits in a frame");
            assert_eq!(Response::from_frame(&again).expect("its own encoding decodes"), response);
        }
    }
});
