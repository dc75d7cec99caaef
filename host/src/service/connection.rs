//! One connection on its own thread: read frames, answer them in order, write the answers.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use zero_storage_protocol::{ErrorResponse, FrameDecoder, Response};

use super::session::Session;
use super::{FRAME_TIMEOUT, WRITE_TIMEOUT};

/// How much one read takes from the socket.
const READ_CHUNK: usize = 64 * 1024;

/// How many bytes of answers are gathered before they are sent.
const FLUSH_AT: usize = 256 * 1024;

/// Serves `stream` until the peer closes it, breaks the protocol's framing, stalls mid-frame,
/// or the service shuts the reading side down (then the frames already read are answered).
/// Problems are logged as one line on stderr, naming `peer`.
pub(crate) fn serve(mut stream: UnixStream, mut session: Session, peer: &str) {
    if let Err(why) = serve_frames(&mut stream, &mut session) {
        eprintln!("zero-storage serve: {peer}: {why}");
    }
}

fn serve_frames(stream: &mut UnixStream, session: &mut Session) -> Result<(), String> {
    // A client that reads none of its answers gives up its connection, not a thread forever.
    stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(|e| e.to_string())?;
    let mut decoder = FrameDecoder::new();
    let mut chunk = vec![0; READ_CHUNK];
    let mut answers = Vec::new();
    // When the frame now being received started to arrive.
    let mut frame_started: Option<Instant> = None;
    loop {
        // Answer every whole frame received so far, in order, in one write.
        let mut closing = None;
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    frame_started = None;
                    encode(&session.answer(&frame), &mut answers);
                    // Small pipelined reads can ask for large answers: send them as they
                    // come rather than hold them all.
                    if answers.len() >= FLUSH_AT {
                        send(stream, &mut answers)?;
                    }
                }
                Ok(None) => break,
                Err(too_large) => {
                    // The stream is out of step: answer, then close.
                    encode(&Response::Error(ErrorResponse::from(&too_large)), &mut answers);
                    closing = Some(format!("closed after a frame over the cap: {too_large}"));
                    break;
                }
            }
        }
        send(stream, &mut answers)?;
        if let Some(why) = closing {
            return Err(why);
        }
        // Idle between frames: wait as long as the peer likes. Mid-frame: only FRAME_TIMEOUT.
        let timeout = if decoder.buffered() == 0 {
            None
        } else {
            let started = *frame_started.get_or_insert_with(Instant::now);
            let left = FRAME_TIMEOUT.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(stalled());
            }
            Some(left)
        };
        stream.set_read_timeout(timeout).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) if decoder.buffered() == 0 => return Ok(()),
            Ok(0) => return Err(format!("closed in the middle of a frame ({} bytes of it sent)", decoder.buffered())),
            Ok(read) => decoder.push(&chunk[..read]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Err(stalled()),
            Err(e) => return Err(format!("cannot read: {e}")),
        }
    }
}

/// Writes out the answers gathered so far.
fn send(stream: &mut UnixStream, answers: &mut Vec<u8>) -> Result<(), String> {
    if answers.is_empty() {
        return Ok(());
    }
    stream.write_all(answers).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("closed: it read none of its answers for {} s", WRITE_TIMEOUT.as_secs())
        }
        _ => format!("cannot send answers: {e}"),
    })?;
    answers.clear();
    // One 16 MiB answer should not stay allocated for the connection's life.
    if answers.capacity() > 4 * FLUSH_AT {
        *answers = Vec::new();
    }
    Ok(())
}

fn stalled() -> String {
    format!("closed: it sent part of a frame and not the rest within {} s", FRAME_TIMEOUT.as_secs())
}

fn encode(answer: &Response, out: &mut Vec<u8>) {
    match answer.to_frame() {
        Ok(frame) => frame.encode_into(out),
        // No answer can pass the cap (the largest, a 16 MiB GET_MANY, is half of it); should
        // one ever, its request still gets exactly one answer.
        Err(too_large) => {
            Response::Error(ErrorResponse { request_tag: answer.answers(), message: too_large.to_string() })
                .to_frame()
                .expect("an error frame is small")
                .encode_into(out)
        }
    }
}
