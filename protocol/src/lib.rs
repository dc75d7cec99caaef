//! # Zero Storage protocol
//!
//! The wire protocol of the Storage Service: how a process asks the service that owns the data
//! to get, set, delete and list keys in its namespace. This crate is the protocol only (framing,
//! message types, encoding); `PROTOCOL.md` at the repository root specifies it for clients in
//! any language, with examples this crate's tests check byte for byte.
//!
//! - A frame is `tag: u32 LE`, `payload length: u32 LE`, payload; [`FrameDecoder`] cuts frames
//!   out of a byte stream however the bytes arrive, and refuses a length over
//!   [`MAX_FRAME_PAYLOAD`].
//! - A payload is one message encoded with postcard 1.x. [`Request::decode`] and
//!   [`Response::decode`] turn `(tag, payload)` into a typed message, and `to_frame` turns one
//!   back; hostile bytes give a [`DecodeError`], never a panic.
//! - A request that cannot be decoded is answered with the generic error frame
//!   ([`ErrorResponse`], tag [`MSG_ERROR`]) and the connection stays usable.
//! - [`ServiceClient`] is a small blocking client over the service's Unix socket.
//!
//! A client sends a request, the service answers it:
//!
//! ```
//! use zero_storage_protocol::*;
//!
//! // Client: encode a request and write its bytes to the stream.
//! let request = Request::Set(StorageSetRequest { key: "color".into(), value: b"blue".to_vec(), ttl_secs: 0 });
//! let bytes = request.to_frame()?.encode();
//!
//! // Service: bytes arrive in pieces; whole frames come out.
//! let mut decoder = FrameDecoder::new();
//! decoder.push(&bytes[..5]);
//! assert_eq!(decoder.next_frame()?, None);
//! decoder.push(&bytes[5..]);
//! let frame = decoder.next_frame()?.expect("the whole frame has arrived");
//! let answer = match Request::from_frame(&frame) {
//!     Ok(Request::Set(set)) => {
//!         assert_eq!(set.value, b"blue");
//!         Response::Set(StorageSetResponse { result: Ok(()) })
//!     }
//!     Ok(_) => unreachable!("the client sent a set"),
//!     Err(undecodable) => Response::Error(ErrorResponse::from(&undecodable)),
//! };
//! let answer_bytes = answer.to_frame()?.encode();
//!
//! // Client: decode the answer to its oldest outstanding request.
//! let mut decoder = FrameDecoder::new();
//! decoder.push(&answer_bytes);
//! let answer = Response::from_frame(&decoder.next_frame()?.expect("a whole frame"))?;
//! assert_eq!(answer.answers(), MSG_STORAGE_SET);
//! assert_eq!(answer, Response::Set(StorageSetResponse { result: Ok(()) }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod bounded;
mod bytes;
mod client;
mod codec;
mod convert;
mod frame;
mod limits;
mod messages;
mod tags;

pub use client::{ClientError, ServiceClient};
pub use codec::{DecodeError, Request, Response};
pub use frame::{Frame, FrameDecoder, FrameTooLarge};
pub use limits::{HEADER_LEN, MAX_CLAIM_ROLES, MAX_EXPORT_NAMESPACES, MAX_FRAME_PAYLOAD};
pub use messages::*;
pub use tags::*;
