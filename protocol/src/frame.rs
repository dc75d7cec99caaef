//! Framing on a byte stream: `tag: u32 LE`, `payload length: u32 LE`, then the payload.

use std::fmt;

use crate::limits::{HEADER_LEN, MAX_FRAME_PAYLOAD};
use crate::tags::tag_name;

/// The buffer an idle decoder keeps for the next frames; a larger one is given back.
const KEEP_CAPACITY: usize = 1 << 20;

/// One frame: a tag and a payload of at most [`MAX_FRAME_PAYLOAD`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    tag: u32,
    payload: Vec<u8>,
}

impl Frame {
    /// A frame with `tag` and `payload`; fails if the payload is longer than
    /// [`MAX_FRAME_PAYLOAD`], which the other side would refuse.
    pub fn new(tag: u32, payload: Vec<u8>) -> Result<Self, FrameTooLarge> {
        if payload.len() > MAX_FRAME_PAYLOAD {
            return Err(FrameTooLarge { tag, length: payload.len() as u64 });
        }
        Ok(Frame { tag, payload })
    }

    /// The tag: what the payload is.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The payload: one postcard-encoded message.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The tag and the payload, taken apart.
    pub fn into_parts(self) -> (u32, Vec<u8>) {
        (self.tag, self.payload)
    }

    /// The frame as bytes to send: header, then payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the frame's bytes to `out`, so that pipelined frames can share one write.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // `new` keeps the payload within MAX_FRAME_PAYLOAD, which fits in a u32.
        let length = self.payload.len() as u32;
        out.reserve(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.tag.to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&self.payload);
    }
}

/// A frame whose payload is longer than [`MAX_FRAME_PAYLOAD`]. From a peer, this ends the
/// connection: the service answers with an error frame for `tag` and closes, since the stream
/// can no longer be trusted to be in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The tag in the frame's header.
    pub tag: u32,
    /// The payload length, as declared in the header or as encoded.
    pub length: u64,
}

impl fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a frame with tag 0x{:04X} ({}) declares {} payload bytes, more than the {MAX_FRAME_PAYLOAD} any valid message needs; split the request",
            self.tag,
            tag_name(self.tag).unwrap_or("unknown"),
            self.length,
        )
    }
}

impl std::error::Error for FrameTooLarge {}

/// Cuts whole frames out of a byte stream, however the bytes arrive.
///
/// [`push`](Self::push) what the stream gave, then call [`next_frame`](Self::next_frame) until
/// it returns `Ok(None)`. Memory grows only with the bytes received, never with what a header
/// declares, and a declared length over [`MAX_FRAME_PAYLOAD`] is refused as soon as the header
/// is complete. After that error the decoder stays failed: the stream is out of step.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    /// Where the first byte not yet returned in a frame sits in `buffer`.
    start: usize,
    failed: Option<FrameTooLarge>,
}

impl FrameDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes as they arrived from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        // Drop the frames already returned once per push, so that cutting many small frames
        // out of one large read costs time in proportion to the bytes, not bytes × frames.
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed, or the error for a header
    /// that declares a payload over [`MAX_FRAME_PAYLOAD`] (returned again on every later call).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameTooLarge> {
        if let Some(failed) = &self.failed {
            return Err(failed.clone());
        }
        let pending = &self.buffer[self.start..];
        let Some((header, rest)) = pending.split_first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let tag = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let length = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if length as usize > MAX_FRAME_PAYLOAD {
            let failed = FrameTooLarge { tag, length: length.into() };
            self.failed = Some(failed.clone());
            self.buffer = Vec::new();
            self.start = 0;
            return Err(failed);
        }
        let Some(payload) = rest.get(..length as usize) else {
            return Ok(None);
        };
        let frame = Frame { tag, payload: payload.to_vec() };
        self.start += HEADER_LEN + length as usize;
        if self.start == self.buffer.len() {
            // A connection that once sent a 32 MiB frame should not hold 32 MiB while idle.
            if self.buffer.capacity() > KEEP_CAPACITY {
                self.buffer = Vec::new();
            }
            self.buffer.clear();
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// The bytes received but not yet returned in a frame: nonzero when the stream ends (or
    /// stalls) in the middle of a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_bytes_are_tag_then_length_little_endian_then_payload() {
        let frame = Frame::new(0x7000, vec![1, b'k']).unwrap();
        assert_eq!(frame.encode(), [0x00, 0x70, 0, 0, 2, 0, 0, 0, 1, b'k']);
    }

    #[test]
    fn a_payload_over_the_cap_cannot_be_framed() {
        let too_long = vec![0; MAX_FRAME_PAYLOAD + 1];
        assert_eq!(
            Frame::new(0x7002, too_long),
            Err(FrameTooLarge { tag: 0x7002, length: MAX_FRAME_PAYLOAD as u64 + 1 })
        );
        assert!(Frame::new(0x7002, vec![0; MAX_FRAME_PAYLOAD]).is_ok());
    }

    #[test]
    fn decoder_returns_consumed_space_once_everything_is_read() {
        let mut decoder = FrameDecoder::new();
        let frame = Frame::new(1, vec![9; 3]).unwrap().encode();
        decoder.push(&[frame.clone(), frame].concat());
        assert!(decoder.next_frame().unwrap().is_some());
        assert_eq!(decoder.buffered(), 11);
        assert!(decoder.next_frame().unwrap().is_some());
        assert_eq!((decoder.buffered(), decoder.start, decoder.buffer.len()), (0, 0, 0));
    }

    #[test]
    fn decoder_gives_back_a_large_buffer_once_its_frame_is_out() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&Frame::new(1, vec![0; 4 << 20]).unwrap().encode());
        assert!(decoder.next_frame().unwrap().is_some());
        assert!(decoder.buffer.capacity() <= KEEP_CAPACITY);
    }
}
