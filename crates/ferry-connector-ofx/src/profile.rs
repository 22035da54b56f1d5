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
    /// `ADDR1`, `CITY`, `STATE`, `POSTALCODE`, `COUNTRY`: required of a server's profile.
    pub address: Option<Address>,
}

/// The institution's address in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub addr1: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    /// ISO 3166 alpha-3 (`USA`).
    pub country: String,
}

/// A realm's password rules (`MIN`, `MAX`, `CHARTYPE`, `CASESEN`, `SPECIAL`, `SPACES`,
/// `PINCH`): required of a server's `SIGNONINFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRules {
    pub min: u32,
    pub max: u32,
    /// `ALPHAONLY`, `NUMERICONLY`, `ALPHAORNUMERIC` or `ALPHAANDNUMERIC`.
    pub char_type: String,
    pub case_sensitive: bool,
    pub special: bool,
    pub spaces: bool,
    /// `PINCH`: the password can be changed with a `PINCHRQ`.
    pub pin_change: bool,
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
    /// The password rules; a server writes them, a client may ignore them.
    pub rules: Option<PasswordRules>,
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
    /// `MSGSETCORE/SIGNONREALM`. When set, the message set is written whole, as a server
    /// must: every required element of `MSGSETCORE` and of the set (no e-mail, no transfers,
    /// downloads where the set has them).
    pub realm: Option<String>,
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
                    realm: core.and_then(|c| opt(c, "SIGNONREALM")),
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
                rules: PasswordRules::from_element(info),
            });
        }
        let address =
            match (opt(el, "ADDR1"), opt(el, "CITY"), opt(el, "STATE"), opt(el, "POSTALCODE"), opt(el, "COUNTRY")) {
                (Some(addr1), Some(city), Some(state), Some(postal_code), Some(country)) => {
                    Some(Address { addr1, city, state, postal_code, country })
                }
                _ => None,
            };
        Ok(Profile {
            dtprofup: opt_date(el, "DTPROFUP")?,
            fi_name: opt(el, "FINAME"),
            signon_infos,
            message_sets,
            address,
        })
    }

    /// True when any realm requires a registered CLIENTUID.
    pub fn client_uid_required(&self) -> bool {
        self.signon_infos.iter().any(|s| s.client_uid_required)
    }

    /// Writes the `PROFRS` element with the fields this type holds: with `address`, realms'
    /// `rules` and message sets' `realm`, everything the specification requires of a server's
    /// profile.
    pub fn to_element(&self) -> Element {
        let sets = self.message_sets.iter().map(MessageSet::to_element);
        let infos = self.signon_infos.iter().map(|i| {
            let agg = Agg::new().opt("SIGNONREALM", i.realm.as_ref());
            let agg = match &i.rules {
                Some(r) => agg
                    .leaf("MIN", r.min)
                    .leaf("MAX", r.max)
                    .leaf("CHARTYPE", &r.char_type)
                    .flag("CASESEN", r.case_sensitive)
                    .flag("SPECIAL", r.special)
                    .flag("SPACES", r.spaces)
                    .flag("PINCH", r.pin_change),
                None => agg,
            };
            agg.flag("CHGPINFIRST", i.chgpin_first)
                .flag("CLIENTUIDREQ", i.client_uid_required)
                .flag("AUTHTOKENFIRST", i.auth_token_first)
                .flag("MFACHALLENGESUPT", i.mfa_challenge_supported)
                .flag("MFACHALLENGEFIRST", i.mfa_challenge_first)
                .build("SIGNONINFO")
        });
        let agg = Agg::new()
            .child(Agg::new().children(sets).build("MSGSETLIST"))
            .child(Agg::new().children(infos).build("SIGNONINFOLIST"))
            .opt("DTPROFUP", self.dtprofup)
            .opt("FINAME", self.fi_name.as_ref());
        let agg = match &self.address {
            Some(a) => agg
                .leaf("ADDR1", &a.addr1)
                .leaf("CITY", &a.city)
                .leaf("STATE", &a.state)
                .leaf("POSTALCODE", &a.postal_code)
                .leaf("COUNTRY", &a.country),
            None => agg,
        };
        agg.build("PROFRS")
    }
}

impl PasswordRules {
    /// The rules, when the `SIGNONINFO` states them readably (a server must; clients use
    /// nothing of them, so a bank's odd value makes them absent rather than the profile
    /// unreadable).
    fn from_element(info: &Element) -> Option<Self> {
        let number = |name: &str| opt(info, name)?.trim().parse::<u32>().ok();
        let yes = |name: &str| flag(info, name, false).ok();
        Some(PasswordRules {
            min: number("MIN")?,
            max: number("MAX")?,
            char_type: opt(info, "CHARTYPE")?,
            case_sensitive: yes("CASESEN")?,
            special: yes("SPECIAL")?,
            spaces: yes("SPACES")?,
            pin_change: yes("PINCH")?,
        })
    }
}

impl MessageSet {
    fn to_element(&self) -> Element {
        let core = Agg::new().opt("VER", self.version.as_ref()).opt("URL", self.url.as_ref());
        let core = match &self.realm {
            Some(realm) => core
                .leaf("OFXSEC", "NONE")
                .flag("TRANSPSEC", self.url.as_deref().is_some_and(|u| u.starts_with("https:")))
                .leaf("SIGNONREALM", realm)
                .leaf("LANGUAGE", "ENG")
                .leaf("SYNCMODE", "LITE")
                .flag("RESPFILEER", false),
            None => core,
        };
        let mut body = Agg::new().child(core.build("MSGSETCORE"));
        if self.realm.is_some() {
            // What each set must say of itself, in the specification's order.
            body = match self.name.as_str() {
                "SIGNUPMSGSET" => body
                    .child(
                        Agg::new()
                            .leaf("MESSAGE", "Ask the server's operator for an OFX password")
                            .build("OTHERENROLL"),
                    )
                    .flag("CHGUSERINFO", false)
                    .flag("AVAILACCTS", true)
                    .flag("CLIENTACTREQ", false),
                "BANKMSGSET" => body
                    .flag("CLOSINGAVAIL", false)
                    .child(Agg::new().flag("CANEMAIL", false).flag("CANNOTIFY", false).build("EMAILPROF")),
                "CREDITCARDMSGSET" => body.flag("CLOSINGAVAIL", false),
                "INVSTMTMSGSET" => body
                    .flag("TRANDNLD", true)
                    .flag("OODNLD", false)
                    .flag("POSDNLD", true)
                    .flag("BALDNLD", true)
                    .flag("CANEMAIL", false),
                "SECLISTMSGSET" => body.flag("SECLISTRQDNLD", false),
                _ => body,
            };
        }
        let version_name = format!("{}V1", self.name);
        Agg::new().child(body.build(&version_name)).build(&self.name)
    }
}
