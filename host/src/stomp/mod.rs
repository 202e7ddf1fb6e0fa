//! STOMP 1.0, 1.1 and 1.2 over WebSocket, for frontends that use `@stomp/stompjs`: the frame
//! codec, without I/O.
//!
//! Each WebSocket message payload, text or binary, goes into a [`Decoder`], which yields
//! [`Frame`]s and heart-beats however the frames are split across messages; [`encode`] writes
//! a frame for one outgoing message. Header escaping follows the version agreed in
//! CONNECTED; CONNECT, STOMP and CONNECTED frames are never escaped. [`Limits`] bound what a
//! peer can make the decoder hold, and a [`FrameError`]'s message is meant for the `message`
//! header of the ERROR frame sent before closing.

pub mod decode;
pub mod encode;
pub mod error;
pub mod frame;
pub mod session;

mod escape;
mod head;
#[cfg(test)]
mod tests;

pub use decode::Decoder;
pub use encode::{encode, EncodeError};
pub use error::{FrameError, Limits};
pub use frame::{Frame, Item, Version, CONTENT_LENGTH, HEARTBEAT};
