//! The institution profile (`PROFRS`): signon rules such as `CLIENTUIDREQ`, and the URL of
//! each message set.

use crate::error::ParseError;
use crate::field::{Agg, flag, opt, opt_date};
use crate::tree::Element;
use crate::value::OfxDate;

/// A `PROFRS`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// `DTPROFUP`.
    pub dtprofup: Option<OfxDate>,
    /// `FINAME`.
    pub fi_name: Option<String>,
    /// `SIGNONINFOLIST/SIGNONINFO` entries.
    pub signon_infos: Vec<SignonInfo>,
    /// `MSGSETLIST` entries.
    pub message_sets: Vec<MessageSet>,
}

/// One `SIGNONINFO`: the rules of one signon realm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignonInfo {
    /// `SIGNONREALM`.
    pub realm: Option<String>,
    /// `CLIENTUIDREQ`: the first signon with a new CLIENTUID fails until the user approves it.
    pub client_uid_required: bool,
    /// `MFACHALLENGESUPT`.
    pub mfa_challenge_supported: bool,
    /// `MFACHALLENGEFIRST`: ask for challenges before the first real request.
    pub mfa_challenge_first: bool,
    /// `AUTHTOKENFIRST`.
    pub auth_token_first: bool,
    /// `CHGPINFIRST`.
    pub chgpin_first: bool,
}

/// One message set of `MSGSETLIST`, such as `BANKMSGSET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSet {
    /// The element name (`BANKMSGSET`, `CREDITCARDMSGSET`, …).
    pub name: String,
    /// `MSGSETCORE/VER`.
    pub version: Option<String>,
    /// `MSGSETCORE/URL`.
    pub url: Option<String>,
}

impl Profile {
    /// Reads a `PROFRS`.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        let mut message_sets = Vec::new();
        for set in el.child("MSGSETLIST").map(Element::all_children).unwrap_or_default() {
            for version in set.all_children() {
                let core = version.child("MSGSETCORE");
                message_sets.push(MessageSet {
                    name: set.name.clone(),
                    version: core.and_then(|c| opt(c, "VER")),
                    url: core.and_then(|c| opt(c, "URL")),
                });
            }
        }
        let mut signon_infos = Vec::new();
        for info in el.find_all("SIGNONINFOLIST/SIGNONINFO") {
            signon_infos.push(SignonInfo {
                realm: opt(info, "SIGNONREALM"),
                client_uid_required: flag(info, "CLIENTUIDREQ", false)?,
                mfa_challenge_supported: flag(info, "MFACHALLENGESUPT", false)?,
                mfa_challenge_first: flag(info, "MFACHALLENGEFIRST", false)?,
                auth_token_first: flag(info, "AUTHTOKENFIRST", false)?,
                chgpin_first: flag(info, "CHGPINFIRST", false)?,
            });
        }
        Ok(Profile { dtprofup: opt_date(el, "DTPROFUP")?, fi_name: opt(el, "FINAME"), signon_infos, message_sets })
    }

    /// True when any realm requires a registered CLIENTUID.
    pub fn client_uid_required(&self) -> bool {
        self.signon_infos.iter().any(|s| s.client_uid_required)
    }

    /// Writes the `PROFRS` element with the fields this type holds (not every field the
    /// specification requires of a full profile).
    pub fn to_element(&self) -> Element {
        let sets = self.message_sets.iter().map(|s| {
            let core = Agg::new().opt("VER", s.version.as_ref()).opt("URL", s.url.as_ref()).build("MSGSETCORE");
            let version_name = format!("{}V1", s.name);
            Agg::new().child(Agg::new().child(core).build(&version_name)).build(&s.name)
        });
        let infos = self.signon_infos.iter().map(|i| {
            Agg::new()
                .opt("SIGNONREALM", i.realm.as_ref())
                .flag("CHGPINFIRST", i.chgpin_first)
                .flag("CLIENTUIDREQ", i.client_uid_required)
                .flag("AUTHTOKENFIRST", i.auth_token_first)
                .flag("MFACHALLENGESUPT", i.mfa_challenge_supported)
                .flag("MFACHALLENGEFIRST", i.mfa_challenge_first)
                .build("SIGNONINFO")
        });
        Agg::new()
            .child(Agg::new().children(sets).build("MSGSETLIST"))
            .child(Agg::new().children(infos).build("SIGNONINFOLIST"))
            .opt("DTPROFUP", self.dtprofup)
            .opt("FINAME", self.fi_name.as_ref())
            .build("PROFRS")
    }
}
