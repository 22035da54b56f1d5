//! OFX Direct Connect for Ferry: a tolerant reader for both OFX flavours (v1 SGML with
//! unclosed leaves, v2 XML), typed requests and responses, and a serializer.
//!
//! Layers, bottom up:
//! * [`header`](Header) and the body reader turn bytes into a generic [`Ofx`] tree
//!   ([`parse`]); [`write`] turns a tree back into bytes in any [`Style`].
//! * [`value`] reads dates and amounts (`Decimal`, never floats).
//! * Typed messages: [`Response`] ([`parse_response`], [`Response::to_ofx`]) and [`Request`]
//!   ([`Request::to_ofx`], [`parse_request`]).
//!
//! The protocol modules do no IO and know no HTTP; [`connector`] is the Ferry connector that
//! sends their bytes to OFX servers, and `fake` (feature `fake`) an OFX bank for tests.

mod account;
pub mod connector;
mod entity;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod field;
mod header;
mod invest;
mod lex;
mod profile;
mod request;
mod response;
mod security;
mod signon;
mod statement;
mod status;
mod tree;
pub mod value;
mod write;

pub use account::{AccountInfo, AccountInfoList, AccountRef, AccountType, SvcStatus};
pub use entity::decode_entities;
pub use error::ParseError;
pub use header::{Header, SUPPORTED_VERSIONS};
pub use invest::{InvBalance, InvTransaction, InvTransactionList, InvestmentStatement, Position};
pub use lex::MAX_DEPTH;
pub use profile::{Address, MessageSet, PasswordRules, Profile, SignonInfo};
pub use request::{
    BankStatementRequest, CardStatementRequest, InvestmentStatementRequest, Item, Request, RequestItem, Signon,
    parse_request,
};
pub use response::{Response, TrnRs, parse_response};
pub use security::{SecId, Security, SecurityKind};
pub use signon::{MfaChallenge, SignonResponse};
pub use statement::{Balance, CorrectAction, Currency, Statement, StatementTransaction, TransactionList, TrnType};
pub use status::{KNOWN_CODES, Severity, Status, describe};
pub use tree::{Content, Element, Ofx};
pub use value::{OfxDate, parse_amount};
pub use write::{Style, write};

/// Parses a whole OFX document: header, character-set decoding, then the body tree.
///
/// Runs in time linear in the input and never nests deeper than [`MAX_DEPTH`]; any input,
/// including an HTML error page or random bytes, gives a tree or a [`ParseError`].
pub fn parse(bytes: &[u8]) -> Result<Ofx, ParseError> {
    let split = header::split_header(bytes)?;
    let text = header::decode_body(&split.header, split.body)?;
    let root = lex::parse_body(&text)?;
    Ok(Ofx { header: split.header, root })
}
