//! The server faces: SimpleFIN (`/simplefin/...`) and OFX Direct Connect (`POST /ofx`), each
//! off unless the server is started with it. They speak their own protocols, not MX's: their
//! requests are recognized by path before any dialect.

pub mod ofx;
pub(crate) mod simplefin;

/// Which faces a server shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faces {
    /// `--simplefin`: setup-token claims, `/simplefin/info` and `/simplefin/accounts`.
    pub simplefin: bool,
    /// `--ofx`: `POST /ofx`.
    pub ofx: bool,
}

/// The face a request path belongs to, if that face is on.
pub(crate) fn face_of(faces: Faces, path: &str) -> Option<&'static str> {
    if faces.simplefin && (path == "/simplefin" || path.starts_with("/simplefin/")) {
        Some("simplefin")
    } else if faces.ofx && (path == "/ofx" || path == "/ofx/") {
        Some("ofx")
    } else {
        None
    }
}
