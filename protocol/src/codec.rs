//! From a frame's `(tag, payload)` to a typed message and back, for both sides.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::{Frame, FrameTooLarge};
use crate::messages::*;
use crate::tags::*;

/// A frame whose payload is not the message its tag names. The stream stays in step (the
/// frame's length was valid), so the service answers with an error frame for `tag` and keeps
/// serving the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The tag is not one this side accepts: not defined by the protocol, or an answer's tag
    /// sent as a request (or the reverse).
    UnknownTag {
        /// The frame's tag.
        tag: u32,
    },
    /// The payload does not decode as the tag's message: cut short, a bad varint, invalid
    /// UTF-8, an unknown enum or `Option` discriminant.
    Malformed {
        /// The frame's tag.
        tag: u32,
        /// What postcard found wrong.
        reason: String,
    },
    /// The payload holds a whole message and then more bytes; no field takes them.
    TrailingBytes {
        /// The frame's tag.
        tag: u32,
        /// How many bytes were left over.
        extra: usize,
    },
}

impl DecodeError {
    /// The tag of the frame that failed to decode: the `request_tag` of its error frame.
    pub fn tag(&self) -> u32 {
        match self {
            DecodeError::UnknownTag { tag }
            | DecodeError::Malformed { tag, .. }
            | DecodeError::TrailingBytes { tag, .. } => *tag,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownTag { tag } => match tag_name(*tag) {
                Some(name) => write!(f, "tag 0x{tag:04X} ({name}) is not accepted in this direction; see PROTOCOL.md"),
                None => write!(f, "tag 0x{tag:04X} is not a message of this protocol; see PROTOCOL.md"),
            },
            DecodeError::Malformed { tag, reason } => {
                write!(f, "the payload is not a valid {} message: {reason}", tag_name(*tag).unwrap_or("?"))
            }
            DecodeError::TrailingBytes { tag, extra } => write!(
                f,
                "the payload holds a whole {} message followed by {extra} more bytes",
                tag_name(*tag).unwrap_or("?")
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<&DecodeError> for ErrorResponse {
    fn from(error: &DecodeError) -> Self {
        ErrorResponse { request_tag: error.tag(), message: error.to_string() }
    }
}

impl From<&FrameTooLarge> for ErrorResponse {
    fn from(error: &FrameTooLarge) -> Self {
        ErrorResponse { request_tag: error.tag, message: error.to_string() }
    }
}

fn decode_payload<T: DeserializeOwned>(tag: u32, payload: &[u8]) -> Result<T, DecodeError> {
    let (message, rest) = postcard::take_from_bytes::<T>(payload)
        .map_err(|error| DecodeError::Malformed { tag, reason: error.to_string() })?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes { tag, extra: rest.len() });
    }
    Ok(message)
}

fn encode_payload<T: Serialize>(message: &T) -> Vec<u8> {
    // postcard fails only on maps or sequences of unknown length and on custom serializer
    // errors; no message type has any of them.
    postcard::to_allocvec(message).expect("every message type encodes with postcard")
}

/// Declares a message enum with one variant per tag, and its `tag`, `decode` and `to_frame`.
macro_rules! messages {
    (
        $(#[$enum_doc:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident($message:ty) = $tag:ident, )*
        }
    ) => {
        $(#[$enum_doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$doc])* $variant($message), )*
        }

        impl $name {
            /// The tag of this message's frames.
            pub fn tag(&self) -> u32 {
                match self {
                    $( $name::$variant(_) => $tag, )*
                }
            }

            /// Decodes a frame's `(tag, payload)`. Hostile bytes give a typed error, never a
            /// panic; bytes after the message are an error too.
            pub fn decode(tag: u32, payload: &[u8]) -> Result<Self, DecodeError> {
                match tag {
                    $( $tag => decode_payload(tag, payload).map($name::$variant), )*
                    _ => Err(DecodeError::UnknownTag { tag }),
                }
            }

            /// Decodes a frame cut by a [`FrameDecoder`](crate::FrameDecoder).
            pub fn from_frame(frame: &Frame) -> Result<Self, DecodeError> {
                Self::decode(frame.tag(), frame.payload())
            }

            /// Encodes the message as a frame; fails only if it would be longer than
            /// [`MAX_FRAME_PAYLOAD`](crate::MAX_FRAME_PAYLOAD), which the peer would refuse.
            pub fn to_frame(&self) -> Result<Frame, FrameTooLarge> {
                let payload = match self {
                    $( $name::$variant(message) => encode_payload(message), )*
                };
                Frame::new(self.tag(), payload)
            }
        }
    };
}

messages! {
    /// A request, as a client sends it and the service decodes it.
    pub enum Request {
        /// `STORAGE_GET` (`0x7000`).
        Get(StorageGetRequest) = MSG_STORAGE_GET,
        /// `STORAGE_SET` (`0x7002`).
        Set(StorageSetRequest) = MSG_STORAGE_SET,
        /// `STORAGE_DELETE` (`0x7004`).
        Delete(StorageDeleteRequest) = MSG_STORAGE_DELETE,
        /// `STORAGE_LIST` (`0x7006`).
        List(StorageListRequest) = MSG_STORAGE_LIST,
        /// `STORAGE_QUOTA` (`0x7008`).
        Quota(StorageQuotaRequest) = MSG_STORAGE_QUOTA,
        /// `STORAGE_GET_IN` (`0x7010`).
        GetIn(StorageGetInRequest) = MSG_STORAGE_GET_IN,
        /// `STORAGE_SET_IN` (`0x7012`).
        SetIn(StorageSetInRequest) = MSG_STORAGE_SET_IN,
        /// `STORAGE_DELETE_IN` (`0x7014`).
        DeleteIn(StorageDeleteInRequest) = MSG_STORAGE_DELETE_IN,
        /// `STORAGE_LIST_IN` (`0x7016`).
        ListIn(StorageListInRequest) = MSG_STORAGE_LIST_IN,
        /// `STORAGE_QUOTA_IN` (`0x7018`).
        QuotaIn(StorageQuotaInRequest) = MSG_STORAGE_QUOTA_IN,
        /// `STORAGE_EXISTS` (`0x701A`).
        Exists(StorageExistsRequest) = MSG_STORAGE_EXISTS,
        /// `STORAGE_GET_VERSIONED` (`0x701C`).
        GetVersioned(StorageGetVersionedRequest) = MSG_STORAGE_GET_VERSIONED,
        /// `STORAGE_GET_MANY` (`0x701E`).
        GetMany(StorageGetManyRequest) = MSG_STORAGE_GET_MANY,
        /// `STORAGE_SET_MANY` (`0x7020`).
        SetMany(StorageSetManyRequest) = MSG_STORAGE_SET_MANY,
        /// `STORAGE_DELETE_MANY` (`0x7022`).
        DeleteMany(StorageDeleteManyRequest) = MSG_STORAGE_DELETE_MANY,
        /// `STORAGE_INCREMENT` (`0x7024`).
        Increment(StorageIncrementRequest) = MSG_STORAGE_INCREMENT,
        /// `STORAGE_TRANSACT` (`0x7026`).
        Transact(StorageTransactRequest) = MSG_STORAGE_TRANSACT,
        /// `STORAGE_CLAIM` (`0x7028`).
        Claim(StorageClaimRequest) = MSG_STORAGE_CLAIM,
        /// `STORAGE_NAMESPACES` (`0x702A`).
        Namespaces(StorageNamespacesRequest) = MSG_STORAGE_NAMESPACES,
        /// `STORAGE_SWEEP` (`0x702C`).
        Sweep(StorageSweepRequest) = MSG_STORAGE_SWEEP,
        /// `STORAGE_EXPORT_FILE` (`0x702E`).
        ExportFile(StorageExportFileRequest) = MSG_STORAGE_EXPORT_FILE,
        /// `STORAGE_IMPORT_FILE` (`0x7030`).
        ImportFile(StorageImportFileRequest) = MSG_STORAGE_IMPORT_FILE,
    }
}

messages! {
    /// An answer, as the service sends it and a client decodes it. The `*_IN` twins answer
    /// with the same payload types as the design's messages, under their own tags.
    pub enum Response {
        /// `STORAGE_GET_RESPONSE` (`0x7001`).
        Get(StorageGetResponse) = MSG_STORAGE_GET_RESPONSE,
        /// `STORAGE_SET_RESPONSE` (`0x7003`).
        Set(StorageSetResponse) = MSG_STORAGE_SET_RESPONSE,
        /// `STORAGE_DELETE_RESPONSE` (`0x7005`).
        Delete(StorageDeleteResponse) = MSG_STORAGE_DELETE_RESPONSE,
        /// `STORAGE_LIST_RESPONSE` (`0x7007`).
        List(StorageListResponse) = MSG_STORAGE_LIST_RESPONSE,
        /// `STORAGE_QUOTA_RESPONSE` (`0x7009`).
        Quota(StorageQuotaResponse) = MSG_STORAGE_QUOTA_RESPONSE,
        /// `STORAGE_GET_IN_RESPONSE` (`0x7011`).
        GetIn(StorageGetResponse) = MSG_STORAGE_GET_IN_RESPONSE,
        /// `STORAGE_SET_IN_RESPONSE` (`0x7013`).
        SetIn(StorageSetResponse) = MSG_STORAGE_SET_IN_RESPONSE,
        /// `STORAGE_DELETE_IN_RESPONSE` (`0x7015`).
        DeleteIn(StorageDeleteResponse) = MSG_STORAGE_DELETE_IN_RESPONSE,
        /// `STORAGE_LIST_IN_RESPONSE` (`0x7017`).
        ListIn(StorageListInResponse) = MSG_STORAGE_LIST_IN_RESPONSE,
        /// `STORAGE_QUOTA_IN_RESPONSE` (`0x7019`).
        QuotaIn(StorageQuotaResponse) = MSG_STORAGE_QUOTA_IN_RESPONSE,
        /// `STORAGE_EXISTS_RESPONSE` (`0x701B`).
        Exists(StorageExistsResponse) = MSG_STORAGE_EXISTS_RESPONSE,
        /// `STORAGE_GET_VERSIONED_RESPONSE` (`0x701D`).
        GetVersioned(StorageGetVersionedResponse) = MSG_STORAGE_GET_VERSIONED_RESPONSE,
        /// `STORAGE_GET_MANY_RESPONSE` (`0x701F`).
        GetMany(StorageGetManyResponse) = MSG_STORAGE_GET_MANY_RESPONSE,
        /// `STORAGE_SET_MANY_RESPONSE` (`0x7021`).
        SetMany(StorageSetManyResponse) = MSG_STORAGE_SET_MANY_RESPONSE,
        /// `STORAGE_DELETE_MANY_RESPONSE` (`0x7023`).
        DeleteMany(StorageDeleteManyResponse) = MSG_STORAGE_DELETE_MANY_RESPONSE,
        /// `STORAGE_INCREMENT_RESPONSE` (`0x7025`).
        Increment(StorageIncrementResponse) = MSG_STORAGE_INCREMENT_RESPONSE,
        /// `STORAGE_TRANSACT_RESPONSE` (`0x7027`).
        Transact(StorageTransactResponse) = MSG_STORAGE_TRANSACT_RESPONSE,
        /// `STORAGE_CLAIM_RESPONSE` (`0x7029`).
        Claim(StorageClaimResponse) = MSG_STORAGE_CLAIM_RESPONSE,
        /// `STORAGE_NAMESPACES_RESPONSE` (`0x702B`).
        Namespaces(StorageNamespacesResponse) = MSG_STORAGE_NAMESPACES_RESPONSE,
        /// `STORAGE_SWEEP_RESPONSE` (`0x702D`).
        Sweep(StorageSweepResponse) = MSG_STORAGE_SWEEP_RESPONSE,
        /// `STORAGE_EXPORT_FILE_RESPONSE` (`0x702F`).
        ExportFile(StorageExportFileResponse) = MSG_STORAGE_EXPORT_FILE_RESPONSE,
        /// `STORAGE_IMPORT_FILE_RESPONSE` (`0x7031`).
        ImportFile(StorageImportFileResponse) = MSG_STORAGE_IMPORT_FILE_RESPONSE,
        /// `ERROR` (`0x70FF`): the generic error frame.
        Error(ErrorResponse) = MSG_ERROR,
    }
}

impl Response {
    /// The tag of the request this answers: the answer's tag − 1, or the error frame's
    /// `request_tag`. Answers come in request order, so a client checks this against the
    /// oldest request it has not had an answer to.
    pub fn answers(&self) -> u32 {
        match self {
            Response::Error(error) => error.request_tag,
            other => other.tag() - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_tag_decodes_to_its_variant_and_every_other_tag_is_unknown() {
        for (tag, name) in TAG_NAMES {
            let is_request = tag % 2 == 0 && tag != MSG_ERROR;
            match Request::decode(tag, &[]) {
                Err(DecodeError::UnknownTag { .. }) => assert!(!is_request, "{name}"),
                _ => assert!(is_request, "{name}"),
            }
            match Response::decode(tag, &[]) {
                Err(DecodeError::UnknownTag { .. }) => assert!(is_request, "{name}"),
                _ => assert!(!is_request, "{name}"),
            }
        }
    }

    #[test]
    fn an_answer_names_the_request_it_answers() {
        let answer = Response::Exists(StorageExistsResponse { result: Ok(true) });
        assert_eq!(answer.answers(), MSG_STORAGE_EXISTS);
        let error = Response::Error(ErrorResponse { request_tag: 0x1234, message: "no".into() });
        assert_eq!(error.answers(), 0x1234);
    }
}
